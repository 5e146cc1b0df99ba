//! The file metadata WASI does not offer, behind a trait: Unix modes, symlinks with any
//! target text, no-follow mtimes and the local time zone. The component gets them from the
//! host's `host-fs` import; native tests use the real filesystem.

use std::io;

pub const S_IFMT: u32 = 0o170_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFLNK: u32 = 0o120_000;

/// `lstat` of one path: never follows a final symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub size: u64,
    /// Modification time, whole seconds since the epoch.
    pub mtime: i64,
}

impl Meta {
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }
}

/// Metadata operations on paths inside granted directories.
pub trait HostFs {
    /// `None` when nothing is at `path`.
    fn lstat(&self, path: &str) -> io::Result<Option<Meta>>;
    fn set_mode(&self, path: &str, mode: u32) -> io::Result<()>;
    /// Sets access and modification time without following a final symlink.
    fn set_mtime(&self, path: &str, mtime: i64) -> io::Result<()>;
    fn read_link(&self, path: &str) -> io::Result<String>;
    /// Creates a symlink at `path` whose text is `target` (absolute targets included).
    fn symlink(&self, target: &str, path: &str) -> io::Result<()>;
    /// Seconds east of UTC of local time at the given instant (zip times are local).
    fn utc_offset(&self, unix_seconds: i64) -> i32;
    /// Creates or replaces a regular file with `data` and permission bits `mode`, never
    /// writing through a symlink (one at `path` is replaced).
    fn write_file(&self, path: &str, data: &[u8], mode: u32) -> io::Result<()>;
    /// Writes `data` at `offset` of the existing regular file `path`, following no symlink.
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> io::Result<()>;
    /// [`HostFs::write_file`], possibly done later (in queue order) while the caller goes
    /// on; the error is that of an earlier queued write, reported once, and the writes
    /// queued after a failed one are dropped. This default writes at once.
    fn queue_write(&self, path: &str, data: &[u8], mode: u32, tag: u64) -> Result<(), WriteFailure> {
        self.write_file(path, data, mode).map_err(|e| WriteFailure { path: path.to_string(), tag, message: e.to_string() })
    }
    /// Waits for the queued writes tagged below `before` (all of them when none); the
    /// failure not yet reported, if any.
    fn flush_writes(&self, _before: Option<u64>) -> Result<(), WriteFailure> {
        Ok(())
    }
    /// The entries of directory `dir` (name bytes, lstat) in one call, as the host's native
    /// listing gives them; `None` when the host does not offer that (the caller lists
    /// through WASI and [`HostFs::lstat`]). This default offers nothing.
    fn list_dir_natively(&self, _dir: &str) -> io::Result<Option<Listing>> {
        Ok(None)
    }
    /// Encodes the regular `files` into output files `{out_prefix}.N` as the host's native
    /// deflate does (see `archive::encode`); `None` when the host does not offer that, and
    /// the caller encodes them itself. This default offers nothing.
    fn encode_files_natively(&self, _files: &[ToEncode], _out_prefix: &str) -> io::Result<Option<Vec<Encoded>>> {
        Ok(None)
    }
}

/// A directory's entries as the host lists them: name bytes (not always UTF-8) and lstat.
pub type Listing = Vec<(Vec<u8>, Meta)>;

/// A regular file to encode, and its size as listed (which says how it is split).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToEncode {
    pub path: String,
    pub size: u64,
}

/// Where one file's entry data was written, and what the zip headers need to know of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub data: runnerwire_policy::entry_data::EntryData,
    /// The data's runs, in order.
    pub pieces: Vec<DataPiece>,
}

/// A run of an entry's data: `length` bytes of output file `{out_prefix}.{output}` from
/// `offset` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataPiece {
    pub output: u32,
    pub offset: u64,
    pub length: u64,
}

/// A queued write that failed: its path, the tag it was queued with, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteFailure {
    pub path: String,
    pub tag: u64,
    pub message: String,
}

/// The real filesystem, for native tests and tools (not compiled into the component).
#[cfg(all(unix, not(target_arch = "wasm32")))]
pub struct NativeFs {
    pub utc_offset: i32,
}

#[cfg(all(unix, not(target_arch = "wasm32")))]
impl HostFs for NativeFs {
    fn lstat(&self, path: &str) -> io::Result<Option<Meta>> {
        use std::os::unix::fs::MetadataExt;
        match std::fs::symlink_metadata(path) {
            Ok(m) => Ok(Some(Meta { mode: m.mode(), size: m.size(), mtime: m.mtime() })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn set_mode(&self, path: &str, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    fn set_mtime(&self, path: &str, mtime: i64) -> io::Result<()> {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64);
        std::fs::File::open(path)?.set_times(std::fs::FileTimes::new().set_accessed(time).set_modified(time))
    }
    fn read_link(&self, path: &str) -> io::Result<String> {
        std::fs::read_link(path)?
            .into_os_string()
            .into_string()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "symlink target is not UTF-8"))
    }
    fn symlink(&self, target: &str, path: &str) -> io::Result<()> {
        std::os::unix::fs::symlink(target, path)
    }
    fn utc_offset(&self, _unix_seconds: i64) -> i32 {
        self.utc_offset
    }
    fn write_file(&self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if self.lstat(path)?.is_some_and(|m| m.is_symlink()) {
            std::fs::remove_file(path)?;
        }
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path)?;
        std::io::Write::write_all(&mut file, data)?;
        self.set_mode(path, mode)
    }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.lstat(path)?.is_some_and(|m| m.is_symlink()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a symbolic link"));
        }
        std::fs::OpenOptions::new().write(true).open(path)?.write_all_at(data, offset)
    }
}

/// A file written through [`HostFs::write_at`] a buffer at a time; seeks (the zip writer
/// patches each entry's header) flush first. Created empty by [`HostFileWriter::create`].
pub struct HostFileWriter<'a> {
    fs: &'a dyn HostFs,
    path: String,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_start: u64,
    /// Where the next write goes.
    pos: u64,
    /// One past the last byte written.
    len: u64,
}

const WRITER_BUFFER: usize = 1 << 20;

impl<'a> HostFileWriter<'a> {
    pub fn create(fs: &'a dyn HostFs, path: &str) -> io::Result<Self> {
        std::fs::File::create(path)?;
        Ok(HostFileWriter { fs, path: path.to_string(), buf: Vec::with_capacity(WRITER_BUFFER), buf_start: 0, pos: 0, len: 0 })
    }

    /// Where the next write goes.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl io::Write for HostFileWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.pos != self.buf_start + self.buf.len() as u64 {
            self.flush()?;
            self.buf_start = self.pos;
        }
        self.buf.extend_from_slice(data);
        self.pos += data.len() as u64;
        self.len = self.len.max(self.pos);
        if self.buf.len() >= WRITER_BUFFER {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.fs.write_at(&self.path, self.buf_start, &self.buf)?;
            self.buf_start += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

impl io::Seek for HostFileWriter<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the file"))?;
        // Asking where we are (the zip writer does, per entry) costs nothing.
        if target != self.pos {
            io::Write::flush(self)?;
            self.pos = target;
            self.buf_start = target;
        }
        Ok(target)
    }
}
