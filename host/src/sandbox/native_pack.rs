//! The `native-pack` import: a tree listed a directory per call, and an archive's files
//! read and encoded here, on every core, by the same shared code the component falls back
//! to (`runnerwire_policy::entry_data`), so the archive is the same bytes, sooner. Paths are
//! opened beneath their grant with no symlink followed anywhere on the path; outputs are
//! created in a writable grant.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use runnerwire_policy::entry_data::{self, Method};

use super::bindings::runnerwire::codec::host_fs::Meta;
use super::bindings::runnerwire::codec::native_pack::{DirEntry, EncodeError, Encoded, EntryMethod};
use super::host_fs::Grants;

/// Output files are written through a buffer this large.
const OUTPUT_BUFFER: usize = 256 << 10;

impl Grants {
    /// The entries of the directory at `path` with their lstat: one `getdents` pass and an
    /// `fstatat` of one name each, relative to the directory opened once.
    pub fn list_dir(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        use rustix::fs::{statat, AtFlags};
        let dir = self.open_dir_no_follow(path)?;
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            match statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => entries.push(DirEntry {
                    name: name.to_bytes().to_vec(),
                    meta: Meta { mode: st.st_mode, size: st.st_size as u64, mtime: st.st_mtime },
                }),
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(entries)
    }

    /// Encodes `paths` on up to `workers` threads; worker `w` writes `{out_prefix}.{w}`,
    /// created when it takes its first file, and takes the next path not yet taken, so each
    /// output holds its entries in the order of `paths`.
    pub fn encode_files(&self, paths: &[String], out_prefix: &str, workers: usize) -> Result<Vec<Encoded>, EncodeError> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Mutex<Vec<Option<Encoded>>> = Mutex::new(vec![None; paths.len()]);
        let first_error: Mutex<Option<String>> = Mutex::new(None);
        let work = |worker: u32| {
            if let Err(message) = self.encode_some(paths, out_prefix, worker, &next, &failed, &results) {
                failed.store(true, Ordering::Relaxed);
                first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(message);
            }
        };
        let workers = workers.clamp(1, paths.len().max(1));
        std::thread::scope(|threads| {
            for worker in 1..workers {
                let work = &work;
                // A thread the system refuses is one worker fewer, not a failure.
                let _ = std::thread::Builder::new().name(format!("encode-{worker}")).spawn_scoped(threads, move || work(worker as u32));
            }
            work(0);
        });
        if let Some(message) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(EncodeError::Failed(message));
        }
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| EncodeError::Failed("a file was left unencoded".into()))
    }

    /// One worker's share: paths taken in turn until none is left or another worker failed.
    fn encode_some(
        &self,
        paths: &[String],
        out_prefix: &str,
        worker: u32,
        next: &AtomicUsize,
        failed: &AtomicBool,
        results: &Mutex<Vec<Option<Encoded>>>,
    ) -> Result<(), String> {
        let out_path = format!("{out_prefix}.{worker}");
        let mut out: Option<Counting> = None;
        let mut encoder = entry_data::Encoder::default();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(path) = paths.get(index) else { break };
            let mut file = self.open_no_follow(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            if out.is_none() {
                let file = self.create_output(&out_path).map_err(|e| format!("cannot create {out_path}: {e}"))?;
                out = Some(Counting { inner: BufWriter::with_capacity(OUTPUT_BUFFER, file), written: 0 });
            }
            let Some(out) = out.as_mut() else { break };
            let offset = out.written;
            let data = encoder.encode(&mut file, out).map_err(|e| format!("cannot encode {path}: {e}"))?;
            let method = match data.method {
                Method::Stored => EntryMethod::Stored,
                Method::Deflated => EntryMethod::Deflated,
            };
            let encoded = Encoded { method, crc32: data.crc32, size: data.size, compressed_size: data.compressed_size, output: worker, offset };
            results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(encoded);
        }
        if let Some(mut out) = out {
            out.flush().map_err(|e| format!("cannot write {out_path}: {e}"))?;
        }
        Ok(())
    }
}

struct Counting {
    inner: BufWriter<std::fs::File>,
    written: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
