//! The bytes of a zip around its entries' data, written here rather than by a zip library
//! because the data is encoded before any header is written (by the host's native
//! deflate, on all its cores, or by the component): every size is known up front, so each
//! header is written once, in place, with no data descriptors and no patching, and the
//! archive's size is known before its first byte (the zipfile frame needs it).
//!
//! The fields are the ones Python's `zipfile` writes and reads: `st_mode << 16` in the
//! external attributes (plus the MS-DOS directory bit on directories), the UTF-8 flag on
//! names that are not ASCII, ZIP64 fields only where a value does not fit.

use super::dostime::ZipTime;
use runnerwire_policy::entry_data::Method;

/// Values from here on are carried in ZIP64 fields.
const ZIP64_LIMIT: u64 = 0xffff_ffff;
/// Entry counts from here on need the ZIP64 end record.
const ZIP64_COUNT_LIMIT: usize = 0xffff;
/// Version 2.0 (deflate), 4.5 (ZIP64) of the format; made on Unix.
const VERSION_DEFLATE: u16 = 20;
const VERSION_ZIP64: u16 = 45;
const MADE_ON_UNIX: u16 = 3 << 8;
/// General purpose flag: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const DOS_DIRECTORY: u32 = 0x10;
const LOCAL_HEADER_FIXED: u64 = 30;
const CENTRAL_HEADER_FIXED: u64 = 46;
const END_RECORD: u64 = 22;
const ZIP64_END_RECORD: u64 = 56;
const ZIP64_END_LOCATOR: u64 = 20;

/// One entry as its headers describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipEntry {
    pub name: String,
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub time: ZipTime,
    pub method: Method,
    pub crc32: u32,
    pub size: u64,
    pub compressed_size: u64,
}

impl ZipEntry {
    fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    /// The local header carries ZIP64 sizes when either size does not fit.
    fn zip64_sizes(&self) -> bool {
        self.size >= ZIP64_LIMIT || self.compressed_size >= ZIP64_LIMIT
    }

    pub fn local_header_len(&self) -> u64 {
        LOCAL_HEADER_FIXED + self.name.len() as u64 + if self.zip64_sizes() { 20 } else { 0 }
    }

    /// The local header, then the entry's data follows.
    pub fn local_header(&self, out: &mut Vec<u8>) {
        let zip64 = self.zip64_sizes();
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        self.common_fields(out, zip64);
        let (csize, size) = if zip64 { (ZIP64_LIMIT, ZIP64_LIMIT) } else { (self.compressed_size, self.size) };
        out.extend_from_slice(&(csize as u32).to_le_bytes());
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        if zip64 {
            out.extend_from_slice(&1u16.to_le_bytes());
            out.extend_from_slice(&16u16.to_le_bytes());
            out.extend_from_slice(&self.size.to_le_bytes());
            out.extend_from_slice(&self.compressed_size.to_le_bytes());
        }
    }

    /// The ZIP64 extra field of the central header: the values that do not fit, in the
    /// order the format fixes.
    fn central_zip64(&self, offset: u64) -> Vec<u64> {
        [self.size, self.compressed_size, offset].into_iter().filter(|v| *v >= ZIP64_LIMIT).collect()
    }

    pub fn central_header_len(&self, offset: u64) -> u64 {
        let wide = self.central_zip64(offset).len() as u64;
        CENTRAL_HEADER_FIXED + self.name.len() as u64 + if wide > 0 { 4 + 8 * wide } else { 0 }
    }

    /// The central directory's record of the entry whose local header is at `offset`.
    pub fn central_header(&self, offset: u64, out: &mut Vec<u8>) {
        let wide = self.central_zip64(offset);
        let zip64 = !wide.is_empty() || self.zip64_sizes();
        let version = if zip64 { VERSION_ZIP64 } else { VERSION_DEFLATE };
        let narrow = |v: u64| if v >= ZIP64_LIMIT { ZIP64_LIMIT as u32 } else { v as u32 };
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&(MADE_ON_UNIX | version).to_le_bytes());
        self.common_fields(out, zip64);
        out.extend_from_slice(&narrow(self.compressed_size).to_le_bytes());
        out.extend_from_slice(&narrow(self.size).to_le_bytes());
        out.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        let extra_len = if wide.is_empty() { 0 } else { 4 + 8 * wide.len() as u16 };
        out.extend_from_slice(&extra_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // comment length
        out.extend_from_slice(&0u16.to_le_bytes()); // disk number
        out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        let dos = if self.is_dir() { DOS_DIRECTORY } else { 0 };
        out.extend_from_slice(&((self.mode << 16) | dos).to_le_bytes());
        out.extend_from_slice(&narrow(offset).to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        if !wide.is_empty() {
            out.extend_from_slice(&1u16.to_le_bytes());
            out.extend_from_slice(&(8 * wide.len() as u16).to_le_bytes());
            for v in wide {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// Version needed, flags, method, time, date, CRC: the same in both headers.
    fn common_fields(&self, out: &mut Vec<u8>, zip64: bool) {
        let flags = if self.name.is_ascii() { 0 } else { FLAG_UTF8 };
        let method: u16 = match self.method {
            Method::Stored => 0,
            Method::Deflated => 8,
        };
        let t = self.time;
        let time = (u16::from(t.hour) << 11) | (u16::from(t.minute) << 5) | u16::from(t.second / 2);
        let date = ((t.year - 1980) << 9) | (u16::from(t.month) << 5) | u16::from(t.day);
        out.extend_from_slice(&(if zip64 { VERSION_ZIP64 } else { VERSION_DEFLATE }).to_le_bytes());
        for v in [flags, method, time, date] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.crc32.to_le_bytes());
    }
}

pub fn end_records_len(entries: usize, directory_offset: u64, directory_len: u64) -> u64 {
    if needs_zip64_end(entries, directory_offset, directory_len) {
        ZIP64_END_RECORD + ZIP64_END_LOCATOR + END_RECORD
    } else {
        END_RECORD
    }
}

fn needs_zip64_end(entries: usize, directory_offset: u64, directory_len: u64) -> bool {
    entries >= ZIP64_COUNT_LIMIT || directory_offset >= ZIP64_LIMIT || directory_len >= ZIP64_LIMIT
}

/// What follows the central directory: the ZIP64 end record and its locator when any
/// value needs them, then the end record.
pub fn end_records(entries: usize, directory_offset: u64, directory_len: u64, out: &mut Vec<u8>) {
    let count = entries as u64;
    if needs_zip64_end(entries, directory_offset, directory_len) {
        let record_offset = directory_offset + directory_len;
        out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        out.extend_from_slice(&(ZIP64_END_RECORD - 12).to_le_bytes());
        out.extend_from_slice(&(MADE_ON_UNIX | VERSION_ZIP64).to_le_bytes());
        out.extend_from_slice(&VERSION_ZIP64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // this disk
        out.extend_from_slice(&0u32.to_le_bytes()); // the directory's disk
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&directory_len.to_le_bytes());
        out.extend_from_slice(&directory_offset.to_le_bytes());
        out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&record_offset.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // disks
    }
    let narrow_count = count.min(ZIP64_COUNT_LIMIT as u64) as u16;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&narrow_count.to_le_bytes());
    out.extend_from_slice(&narrow_count.to_le_bytes());
    out.extend_from_slice(&(directory_len.min(ZIP64_LIMIT) as u32).to_le_bytes());
    out.extend_from_slice(&(directory_offset.min(ZIP64_LIMIT) as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, compressed_size: u64) -> ZipEntry {
        let time = ZipTime { year: 2024, month: 5, day: 17, hour: 13, minute: 7, second: 43 };
        ZipEntry { name: name.into(), mode: 0o100644, time, method: Method::Deflated, crc32: 0xdead_beef, size, compressed_size }
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn headers_are_as_long_as_said_and_carry_time_mode_and_sizes() {
        let e = entry("dir/ünï.txt", 1000, 400);
        let (mut local, mut central) = (Vec::new(), Vec::new());
        e.local_header(&mut local);
        e.central_header(1234, &mut central);
        assert_eq!(local.len() as u64, e.local_header_len());
        assert_eq!(central.len() as u64, e.central_header_len(1234));
        assert_eq!(u16_at(&local, 6), FLAG_UTF8);
        assert_eq!(u16_at(&local, 8), 8);
        assert_eq!(u16_at(&local, 10), (13 << 11) | (7 << 5) | 21);
        assert_eq!(u16_at(&local, 12), (44 << 9) | (5 << 5) | 17);
        assert_eq!((u32_at(&local, 18), u32_at(&local, 22)), (400, 1000));
        assert_eq!(u32_at(&central, 38), 0o100644 << 16);
        assert_eq!(u32_at(&central, 42), 1234);
    }

    #[test]
    fn values_past_four_gib_go_to_zip64_fields() {
        let e = entry("big", 5 << 30, 3 << 30);
        let mut local = Vec::new();
        e.local_header(&mut local);
        assert_eq!(local.len() as u64, e.local_header_len());
        assert_eq!((u32_at(&local, 18), u32_at(&local, 22)), (u32::MAX, u32::MAX));
        assert_eq!((u64_at(&local, 37), u64_at(&local, 45)), (5 << 30, 3 << 30));
        let mut central = Vec::new();
        e.central_header(6 << 30, &mut central);
        assert_eq!(central.len() as u64, e.central_header_len(6 << 30));
        // Only the uncompressed size and the offset do not fit in 32 bits.
        assert_eq!(u16_at(&central, 30), 20);
        assert_eq!(u32_at(&central, 20), (3u64 << 30) as u32);
        assert_eq!((u64_at(&central, 53), u64_at(&central, 61)), (5 << 30, 6 << 30));
    }

    #[test]
    fn the_zip64_end_record_comes_with_many_entries_or_a_far_directory() {
        for (entries, offset, zip64) in [(3, 100, false), (70_000, 100, true), (3, 5 << 30, true)] {
            let mut out = Vec::new();
            end_records(entries, offset, 50, &mut out);
            assert_eq!(out.len() as u64, end_records_len(entries, offset, 50));
            assert_eq!(u32_at(&out, 0) == 0x0606_4b50, zip64);
        }
    }
}
