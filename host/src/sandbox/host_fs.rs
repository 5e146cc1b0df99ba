//! The directories a run is granted, and the operations of the `host-fs` import on them
//! (`state.rs` hands the import's calls here): Unix metadata that WASI lacks, on the same
//! directories WASI was granted and nowhere else. Paths resolve through cap-std, which
//! refuses to leave a granted directory (`..`, absolute symlinks, escaping links).

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt, PermissionsExt};

use super::bindings::runnerwire::codec::host_fs::Meta;

/// A directory granted to the component for one run.
pub struct Grant {
    pub host_path: PathBuf,
    pub guest_path: &'static str,
    pub writable: bool,
}

impl Grant {
    /// The usual pair: one working directory and a private writable scratch directory.
    pub fn with_scratch(host_path: &std::path::Path, guest_path: &'static str, writable: bool, scratch: &std::path::Path) -> [Grant; 2] {
        [
            Grant { host_path: host_path.to_path_buf(), guest_path, writable },
            Grant { host_path: scratch.to_path_buf(), guest_path: "/scratch", writable: true },
        ]
    }
}

/// The directories one store was granted, by guest path.
#[derive(Default)]
pub struct Grants {
    dirs: Vec<(&'static str, Dir, bool)>,
}

impl Grants {
    pub fn add(&mut self, grant: &Grant) -> Result<()> {
        let dir = Dir::open_ambient_dir(&grant.host_path, ambient_authority())
            .map_err(|e| anyhow!("cannot open {}: {e}", grant.host_path.display()))?;
        self.dirs.push((grant.guest_path, dir, grant.writable));
        Ok(())
    }

    /// The granted directory holding `path` and the path relative to it ("." for the root).
    fn resolve(&self, path: &str, write: bool) -> io::Result<(&Dir, PathBuf)> {
        for (prefix, dir, writable) in &self.dirs {
            let rest = match path.strip_prefix(prefix) {
                Some("") => ".",
                Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/'),
                _ => continue,
            };
            if write && !writable {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, "directory is granted read-only"));
            }
            return Ok((dir, PathBuf::from(if rest.is_empty() { "." } else { rest })));
        }
        Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{path:?} is outside the granted directories")))
    }
}

fn text(e: io::Error) -> String {
    e.to_string()
}

/// Splits `rel` into its parent directory (opened inside the grant) and its last component,
/// for the *at() calls that must not follow a final symlink.
fn parent_and_name(dir: &Dir, rel: &Path) -> io::Result<(Dir, String)> {
    let name = rel
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_string();
    let parent = match rel.parent() {
        Some(p) if !p.as_os_str().is_empty() => dir.open_dir(p)?,
        _ => dir.try_clone()?,
    };
    Ok((parent, name))
}

impl Grants {
    pub fn lstat(&self, path: String) -> Result<Option<Meta>, String> {
        let (dir, rel) = self.resolve(&path, false).map_err(text)?;
        match dir.symlink_metadata(&rel) {
            Ok(m) => Ok(Some(Meta { mode: m.mode(), size: m.len(), mtime: m.mtime() })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(text(e)),
        }
    }

    pub fn set_mode(&self, path: String, mode: u32) -> Result<(), String> {
        let (dir, rel) = self.resolve(&path, true).map_err(text)?;
        dir.set_permissions(&rel, cap_std::fs::Permissions::from_mode(mode)).map_err(text)
    }

    pub fn set_mtime(&self, path: String, mtime: i64) -> Result<(), String> {
        let (dir, rel) = self.resolve(&path, true).map_err(text)?;
        let (parent, name) = parent_and_name(dir, &rel).map_err(text)?;
        let time = rustix::fs::Timespec { tv_sec: mtime, tv_nsec: 0 };
        let times = rustix::fs::Timestamps { last_access: time, last_modification: time };
        rustix::fs::utimensat(&parent, name.as_str(), &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io::Error::from(e).to_string())
    }

    pub fn read_link(&self, path: String) -> Result<String, String> {
        let (dir, rel) = self.resolve(&path, false).map_err(text)?;
        let target = dir.read_link_contents(&rel).map_err(text)?;
        target.into_os_string().into_string().map_err(|_| "symlink target is not UTF-8".to_string())
    }

    pub fn make_symlink(&self, target: String, path: String) -> Result<(), String> {
        let (dir, rel) = self.resolve(&path, true).map_err(text)?;
        // The link's text is data: it may point anywhere, and nothing here follows it.
        dir.symlink_contents(&target, &rel).map_err(text)
    }

    /// Writes the file; true when it is new (nothing was at `path`).
    pub fn write_file(&self, path: &str, data: &[u8], mode: u32) -> Result<bool, String> {
        let (dir, rel) = self.resolve(path, true).map_err(text)?;
        write_no_follow(dir, &rel, data, mode).map_err(text)
    }

    /// Writes `data` at `offset` of an existing regular file; no symlink is followed.
    pub fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<(), String> {
        use rustix::fs::{Mode, OFlags};
        let (dir, rel) = self.resolve(path, true).map_err(text)?;
        let file = open_beneath(dir, &rel, OFlags::WRONLY, Mode::empty()).map_err(text)?;
        std::os::unix::fs::FileExt::write_all_at(&file, data, offset).map_err(text)
    }

    /// Opens the regular file at `path` for reading, following no symlink anywhere on the
    /// path; anything else there (a FIFO, a device) is refused, never read.
    pub fn open_no_follow(&self, path: &str) -> io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let (dir, rel) = self.resolve(path, false)?;
        // Non-blocking: opening a FIFO put where a file was would otherwise wait forever.
        let file = open_beneath(dir, &rel, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        Ok(file)
    }

    /// Opens the directory at `path` to list it, following no symlink anywhere on the path.
    pub fn open_dir_no_follow(&self, path: &str) -> io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let (dir, rel) = self.resolve(path, false)?;
        open_beneath(dir, &rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
    }

    /// Creates (or empties) the file at `path` in a writable grant, following no symlink;
    /// a FIFO, socket or device there is replaced, never opened.
    pub fn create_output(&self, path: &str) -> io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let (dir, rel) = self.resolve(path, true)?;
        if is_special(dir, &rel) {
            dir.remove_file(&rel)?;
        }
        open_beneath(dir, &rel, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC, Mode::from_raw_mode(0o600))
    }

    /// Removes a file this host wrote (the write queue's undo after a failure).
    pub fn remove_file(&self, path: &str) -> Result<(), String> {
        let (dir, rel) = self.resolve(path, true).map_err(text)?;
        dir.remove_file(&rel).map_err(text)
    }
}

/// `rel` opened beneath `dir` with no symlink followed anywhere on the path.
fn open_beneath(dir: &Dir, rel: &Path, flags: rustix::fs::OFlags, mode: rustix::fs::Mode) -> io::Result<std::fs::File> {
    use rustix::fs::{OFlags, ResolveFlags};
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(dir, rel, flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, mode, resolve) {
        Ok(fd) => Ok(std::fs::File::from(fd)),
        // Kernels before openat2: cap-std resolves inside the grant the same way, and a
        // final symlink is refused by hand.
        Err(rustix::io::Errno::NOSYS) => {
            if dir.symlink_metadata(rel).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a symbolic link"));
            }
            let mut options = cap_std::fs::OpenOptions::new();
            options
                .read(!flags.contains(OFlags::WRONLY))
                .write(flags.contains(OFlags::WRONLY))
                .create(flags.contains(OFlags::CREATE))
                .truncate(flags.contains(OFlags::TRUNC));
            // A FIFO is not waited on here either.
            cap_std::fs::OpenOptionsExt::custom_flags(&mut options, (flags & OFlags::NONBLOCK).bits() as i32);
            Ok(dir.open_with(rel, &options)?.into_std())
        }
        Err(e) => Err(e.into()),
    }
}

/// openat2 confined beneath the granted directory with no symlink allowed anywhere on the
/// path: one syscall to create the file with its final mode. True when the file is new.
fn write_no_follow(dir: &Dir, rel: &Path, data: &[u8], mode: u32) -> io::Result<bool> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let perms = Mode::from_raw_mode(mode & 0o777);
    let open = |extra: OFlags| rustix::fs::openat2(dir, rel, flags | extra, perms, resolve);
    // The usual case, a new file: created with its final mode (unless the umask takes bits
    // away), so no chmod. A link where the file goes is replaced, never written through, and
    // so is a FIFO, socket or device (opening one would wait for a reader, or write to it);
    // an existing file keeps its old mode through O_TRUNC, so it is chmodded, as upstream
    // chmods every file.
    let (fd, fresh) = match open(OFlags::EXCL) {
        Ok(fd) => (fd, true),
        Err(rustix::io::Errno::NOSYS) => return write_with_cap_std(dir, rel, data, mode),
        Err(rustix::io::Errno::EXIST | rustix::io::Errno::LOOP) if is_special(dir, rel) => {
            dir.remove_file(rel)?;
            (open(OFlags::EXCL)?, true)
        }
        Err(rustix::io::Errno::EXIST) => (open(OFlags::TRUNC)?, false),
        Err(e) => return Err(e.into()),
    };
    if !fresh || mode & 0o777 & umask() != 0 {
        rustix::fs::fchmod(&fd, perms)?;
    }
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, data).inspect_err(|_| {
        // No half-written file stays behind (a full disk, a quota).
        let _ = dir.remove_file(rel);
    })?;
    Ok(fresh)
}

/// Whether something other than a regular file or a directory is at `rel`: a symlink, FIFO,
/// socket or device, which a write replaces rather than opens.
fn is_special(dir: &Dir, rel: &Path) -> bool {
    dir.symlink_metadata(rel).is_ok_and(|m| {
        let kind = m.file_type();
        !kind.is_file() && !kind.is_dir()
    })
}

/// The process's umask, read once from /proc (setting it to read it back would race with
/// other threads creating files); unknown counts as "takes every bit".
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| status.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
            .and_then(|v| u32::from_str_radix(&v, 8).ok())
            .unwrap_or(0o777)
    })
}

/// The same for kernels without openat2 (before Linux 5.6), through cap-std.
fn write_with_cap_std(dir: &Dir, rel: &Path, data: &[u8], mode: u32) -> io::Result<bool> {
    let existing = dir.symlink_metadata(rel).ok();
    if is_special(dir, rel) {
        dir.remove_file(rel)?;
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut file = dir.open_with(rel, &options)?;
    std::io::Write::write_all(&mut file, data)?;
    dir.set_permissions(rel, cap_std::fs::Permissions::from_mode(mode))?;
    Ok(existing.is_none())
}

/// The host-fs layer attacked directly: every call must stay inside its grant whatever
/// path a (buggy) codec hands it.
#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    struct Setup {
        _root: tempfile::TempDir,
        grants: Grants,
        victim: PathBuf,
        target: PathBuf,
    }

    fn setup() -> Setup {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("secret"), "secret").unwrap();
        std::fs::set_permissions(victim.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let target = root.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink("../victim", target.join("link-out")).unwrap();
        std::os::unix::fs::symlink(victim.join("secret"), target.join("secret-link")).unwrap();
        let ro = root.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        let mut grants = Grants::default();
        grants.add(&Grant { host_path: target.clone(), guest_path: "/artifacts", writable: true }).unwrap();
        grants.add(&Grant { host_path: ro, guest_path: "/pdd", writable: false }).unwrap();
        Setup { _root: root, grants, victim, target }
    }

    impl Setup {
        fn victim_untouched(&self) {
            let names: Vec<_> = std::fs::read_dir(&self.victim).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, ["secret"]);
            assert_eq!(std::fs::read(self.victim.join("secret")).unwrap(), b"secret");
            assert_eq!(std::fs::metadata(self.victim.join("secret")).unwrap().mode() & 0o777, 0o600);
        }
    }

    const ESCAPES: &[&str] = &["/artifacts/../victim/secret", "/artifacts/link-out/secret", "/victim/secret", "/artifactsx/secret", "/artifacts/link-out/new"];

    #[test]
    fn no_call_reaches_outside_the_grant() {
        let s = setup();
        for path in ESCAPES {
            let p = || path.to_string();
            assert!(s.grants.write_file(&p(), b"pwned", 0o777).is_err(), "write_file {path}");
            assert!(s.grants.write_at(&p(), 0, b"pwned").is_err(), "write_at {path}");
            assert!(s.grants.set_mode(p(), 0o777).is_err(), "set_mode {path}");
            assert!(s.grants.set_mtime(p(), 0).is_err(), "set_mtime {path}");
            assert!(s.grants.make_symlink("/etc/passwd".into(), p()).is_err(), "make_symlink {path}");
            assert!(s.grants.read_link(p()).is_err(), "read_link {path}");
            // lstat may say "nothing there" but never describes the victim.
            if let Ok(Some(meta)) = s.grants.lstat(p()) {
                panic!("lstat {path} saw outside: {meta:?}");
            }
        }
        s.victim_untouched();
    }

    /// write-at writes into files of the grant, never through a link and never into a
    /// read-only grant.
    #[test]
    fn write_at_patches_a_file_in_place_and_follows_no_link() {
        let s = setup();
        std::fs::write(s.target.join("archive.zip"), b"0123456789").unwrap();
        s.grants.write_at("/artifacts/archive.zip", 3, b"abc").unwrap();
        s.grants.write_at("/artifacts/archive.zip", 10, b"XY").unwrap();
        assert_eq!(std::fs::read(s.target.join("archive.zip")).unwrap(), b"012abc6789XY");
        assert!(s.grants.write_at("/artifacts/secret-link", 0, b"pwned").is_err());
        assert!(s.grants.write_at("/artifacts/missing", 0, b"x").is_err(), "write-at creates nothing");
        assert!(s.grants.write_at("/pdd/x", 0, b"x").is_err());
        s.victim_untouched();
    }

    #[test]
    fn a_link_at_the_final_path_is_replaced_never_written_through() {
        let s = setup();
        s.grants.write_file("/artifacts/secret-link", b"mine", 0o600).unwrap();
        let meta = std::fs::symlink_metadata(s.target.join("secret-link")).unwrap();
        assert!(meta.is_file(), "the link was replaced by a file");
        assert_eq!(std::fs::read(s.target.join("secret-link")).unwrap(), b"mine");
        assert!(s.grants.set_mode("/artifacts/link-out".into(), 0o777).is_err(), "chmod through an escaping link");
        s.victim_untouched();
    }

    #[test]
    fn a_file_gets_its_mode_whether_new_or_rewritten() {
        let s = setup();
        s.grants.write_file("/artifacts/new", b"one", 0o600).unwrap();
        assert_eq!(std::fs::metadata(s.target.join("new")).unwrap().mode() & 0o777, 0o600);
        std::fs::set_permissions(s.target.join("new"), std::fs::Permissions::from_mode(0o644)).unwrap();
        s.grants.write_file("/artifacts/new", b"two", 0o600).unwrap();
        assert_eq!(std::fs::metadata(s.target.join("new")).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(s.target.join("new")).unwrap(), b"two");
        // A mode the umask would narrow still comes out whole.
        s.grants.write_file("/artifacts/wide", b"w", 0o666).unwrap();
        assert_eq!(std::fs::metadata(s.target.join("wide")).unwrap().mode() & 0o777, 0o666);
    }

    #[test]
    fn a_read_only_grant_takes_no_writes() {
        let s = setup();
        assert!(s.grants.write_file("/pdd/x", b"x", 0o600).is_err());
        assert!(s.grants.make_symlink("x".into(), "/pdd/l".into()).is_err());
        assert!(s.grants.set_mode("/pdd".into(), 0o777).is_err());
    }
}
