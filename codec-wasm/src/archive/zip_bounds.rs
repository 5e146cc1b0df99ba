//! What a zip's end-of-central-directory records declare, checked before the zip reader
//! trusts them: the reader sizes its tables from the declared entry count and reads the
//! whole central directory into memory, so both are bounded here first.

use std::io::{Read, Seek, SeekFrom};

use crate::error::{EntryError, ErrorKind, Problem};
use crate::limits::Limits;

const EOCD_SIGNATURE: [u8; 4] = *b"PK\x05\x06";
const EOCD64_LOCATOR_SIGNATURE: [u8; 4] = *b"PK\x06\x07";
const EOCD64_SIGNATURE: [u8; 4] = *b"PK\x06\x06";
const EOCD_LEN: usize = 22;
const EOCD64_LOCATOR_LEN: usize = 20;
const EOCD64_LEN: usize = 56;
/// The record ends the file, after at most a 64 KiB comment.
const SEARCH_SPAN: u64 = EOCD_LEN as u64 + 0xFFFF;
/// Smallest central directory header (signature and fixed fields, empty name).
const MIN_CENTRAL_HEADER: u64 = 46;
/// Central directory bytes allowed per permitted entry: room for a 250-byte name and the
/// usual extra fields, so an archive at the entry limit still fits, while the directory's
/// size (held in memory while reading) stays proportional to the entry limit.
pub const CENTRAL_BYTES_PER_ENTRY: u64 = 320;

/// The entry count one end record declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    pub entries: u64,
}

/// Checks every end record candidate in the file's last 64 KiB (the zip reader may pick
/// any of them): entry count within `max_entries`, central directory within the file and
/// within its per-entry allowance, and big enough for the entries it claims. Returns the
/// candidates, last first.
pub fn check(file: &mut (impl Read + Seek), limits: &Limits) -> Result<Vec<Declared>, EntryError> {
    let len = file.seek(SeekFrom::End(0)).map_err(read_error)?;
    let tail_start = len.saturating_sub(SEARCH_SPAN);
    let tail = read_at(file, tail_start, (len - tail_start) as usize)?;
    let mut found = Vec::new();
    let mut end = tail.len();
    while let Some(at) = rfind(&tail[..end], &EOCD_SIGNATURE) {
        end = at;
        if at + EOCD_LEN > tail.len() {
            continue;
        }
        let record = &tail[at..at + EOCD_LEN];
        let mut entries = u64::from(u16_at(record, 10));
        let mut cd_size = u64::from(u32_at(record, 12));
        if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || u32_at(record, 16) == 0xFFFF_FFFF {
            if let Some((e, s)) = zip64_counts(file, tail_start + at as u64)? {
                (entries, cd_size) = (e, s);
            }
        }
        bound(entries, cd_size, len, limits)?;
        found.push(Declared { entries });
    }
    if found.is_empty() {
        return Err(malformed("no end of central directory record found"));
    }
    Ok(found)
}

fn bound(entries: u64, cd_size: u64, len: u64, limits: &Limits) -> Result<(), EntryError> {
    if entries > limits.max_entries {
        return Err(EntryError::problem(
            Problem::TooManyEntries,
            format!("archive declares {entries} entries, over the {}-entry limit (max entries)", limits.max_entries),
        ));
    }
    if cd_size > len {
        return Err(malformed(format!("central directory of {cd_size} bytes is larger than the {len}-byte archive")));
    }
    if entries.saturating_mul(MIN_CENTRAL_HEADER) > cd_size {
        return Err(malformed(format!("archive declares {entries} entries in a central directory of only {cd_size} bytes")));
    }
    let allowance = limits.max_entries.saturating_mul(CENTRAL_BYTES_PER_ENTRY).max(1 << 20);
    if cd_size > allowance {
        return Err(EntryError::problem(
            Problem::TooManyEntries,
            format!(
                "central directory of {cd_size} bytes is over the {allowance} bytes allowed for {} entries (max entries)",
                limits.max_entries
            ),
        ));
    }
    Ok(())
}

/// The ZIP64 record's entry count and directory size, when a locator precedes `eocd_at`.
fn zip64_counts(file: &mut (impl Read + Seek), eocd_at: u64) -> Result<Option<(u64, u64)>, EntryError> {
    let Some(locator_at) = eocd_at.checked_sub(EOCD64_LOCATOR_LEN as u64) else { return Ok(None) };
    let locator = read_at(file, locator_at, EOCD64_LOCATOR_LEN)?;
    if locator[..4] != EOCD64_LOCATOR_SIGNATURE {
        return Ok(None);
    }
    let record_at = u64_at(&locator, 8);
    if record_at.checked_add(EOCD64_LEN as u64).is_none_or(|end| end > locator_at) {
        return Err(malformed(format!("ZIP64 end record offset {record_at} is outside the archive")));
    }
    let record = read_at(file, record_at, EOCD64_LEN)?;
    if record[..4] != EOCD64_SIGNATURE {
        return Err(malformed(format!("no ZIP64 end record at offset {record_at}")));
    }
    Ok(Some((u64_at(&record, 32), u64_at(&record, 40))))
}

fn read_at(file: &mut (impl Read + Seek), at: u64, len: usize) -> Result<Vec<u8>, EntryError> {
    let mut buf = vec![0u8; len];
    file.seek(SeekFrom::Start(at)).map_err(read_error)?;
    file.read_exact(&mut buf).map_err(read_error)?;
    Ok(buf)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

/// An archive the zip reader (or these checks) cannot read.
pub fn malformed(message: impl std::fmt::Display) -> EntryError {
    EntryError::new(ErrorKind::Malformed, format!("zipfile is not a valid zip archive: {message}"))
}

fn read_error(e: std::io::Error) -> EntryError {
    EntryError::new(ErrorKind::Io, format!("cannot read the spooled archive: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn eocd(entries: u16, cd_size: u32, cd_offset: u32) -> Vec<u8> {
        let mut r = EOCD_SIGNATURE.to_vec();
        r.extend_from_slice(&[0, 0, 0, 0]);
        r.extend_from_slice(&entries.to_le_bytes());
        r.extend_from_slice(&entries.to_le_bytes());
        r.extend_from_slice(&cd_size.to_le_bytes());
        r.extend_from_slice(&cd_offset.to_le_bytes());
        r.extend_from_slice(&[0, 0]);
        r
    }

    fn with_prefix(prefix: usize, record: Vec<u8>) -> Cursor<Vec<u8>> {
        let mut data = vec![0u8; prefix];
        data.extend(record);
        Cursor::new(data)
    }

    #[test]
    fn entry_count_at_the_limit_passes_and_one_more_is_refused() {
        let limits = Limits { max_entries: 10, ..Limits::default() };
        let ok = check(&mut with_prefix(460, eocd(10, 460, 0)), &limits).unwrap();
        assert_eq!(ok, [Declared { entries: 10 }]);
        let err = check(&mut with_prefix(506, eocd(11, 506, 0)), &limits).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
        assert!(err.message.contains("declares 11 entries"), "{}", err.message);
    }

    #[test]
    fn a_directory_too_small_for_its_entries_is_malformed() {
        let err = check(&mut with_prefix(100, eocd(1000, 100, 0)), &Limits::default()).unwrap_err();
        assert_eq!((err.kind, err.message.contains("only 100 bytes")), (ErrorKind::Malformed, true));
    }

    #[test]
    fn a_directory_larger_than_the_file_is_malformed() {
        let err = check(&mut with_prefix(10, eocd(1, 1 << 30, 0)), &Limits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
    }

    #[test]
    fn the_central_directory_is_bounded_by_the_entry_limit() {
        let limits = Limits { max_entries: 4000, ..Limits::default() };
        let allowed = (4000 * CENTRAL_BYTES_PER_ENTRY) as u32;
        assert!(check(&mut with_prefix(allowed as usize, eocd(1, allowed, 0)), &limits).is_ok());
        let err = check(&mut with_prefix(allowed as usize + 1, eocd(1, allowed + 1, 0)), &limits).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
    }

    #[test]
    fn zip64_counts_are_checked_too() {
        let mut data = vec![0u8; 64];
        let record_at = data.len() as u64;
        let mut record = EOCD64_SIGNATURE.to_vec();
        record.resize(EOCD64_LEN, 0);
        record[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        record[40..48].copy_from_slice(&64u64.to_le_bytes());
        data.extend(record);
        let mut locator = EOCD64_LOCATOR_SIGNATURE.to_vec();
        locator.extend_from_slice(&[0; 4]);
        locator.extend_from_slice(&record_at.to_le_bytes());
        locator.extend_from_slice(&[1, 0, 0, 0]);
        data.extend(locator);
        data.extend(eocd(0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF));
        let err = check(&mut Cursor::new(data), &Limits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
        assert!(err.message.contains(&u64::MAX.to_string()), "{}", err.message);
    }

    #[test]
    fn no_end_record_is_malformed() {
        let err = check(&mut Cursor::new(b"hello!".to_vec()), &Limits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(err.message.contains("no end of central directory"));
    }
}
