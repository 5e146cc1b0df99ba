//! Helpers shared by the integration tests: fixtures, trees, running the binaries.
#![allow(dead_code)]

pub mod normalize;
pub mod sandbox;
pub mod workers;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn runnerwire() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runnerwire"));
    // Keep the precompiled-component cache inside the build tree.
    cmd.env("RUNNERWIRE_CACHE_DIR", repo_root().join("target/test-cache"));
    cmd
}

/// Runs `cmd` with `stdin` bytes; returns its output.
pub fn run_with_input(mut cmd: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    out
}

/// The venv holding upstream ansible-runner (made by `make venv`).
pub fn venv_bin() -> PathBuf {
    let dir = std::env::var_os("RUNNERWIRE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let bin = dir.join("bin");
    assert!(
        bin.join("ansible-runner").exists(),
        "upstream ansible-runner is not installed at {}: run `make venv` (or set RUNNERWIRE_VENV)",
        bin.display()
    );
    bin
}

/// An upstream ansible-runner command with the clean environment the fixtures were recorded in.
pub fn upstream(home: &Path) -> Command {
    let bin = venv_bin();
    let mut cmd = Command::new(bin.join("ansible-runner"));
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()))
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .env("ANSIBLE_NOCOLOR", "1");
    cmd
}

pub struct Fixture {
    pub name: String,
    pub dir: PathBuf,
}

impl Fixture {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", self.name))
    }
    pub fn has(&self, name: &str) -> bool {
        self.file(name).exists()
    }
    pub fn args(&self) -> serde_json::Value {
        serde_json::from_slice(&self.read("args.json")).unwrap()
    }
    /// Arguments one stage was recorded with; None when the stage was not run by the CLI.
    pub fn stage_args(&self, stage: &str) -> Option<Vec<String>> {
        self.args()[stage]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
    }
    /// Extracts the recorded source private data dir into `into`.
    pub fn extract_pdd(&self, into: &Path) {
        std::fs::create_dir_all(into).unwrap();
        let mut archive = tar::Archive::new(std::fs::File::open(self.file("pdd.tar")).unwrap());
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive.unpack(into).unwrap();
        // tar sets directory times before their contents are written; set them again.
        let mut archive = tar::Archive::new(std::fs::File::open(self.file("pdd.tar")).unwrap());
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            if entry.header().entry_type().is_dir() {
                let path = into.join(entry.path().unwrap());
                let mtime = entry.header().mtime().unwrap() as i64;
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime as u64);
                let _ = std::fs::File::open(&path).and_then(|f| f.set_modified(t));
            }
        }
    }
}

pub fn fixtures() -> Vec<Fixture> {
    let mut out: Vec<Fixture> = std::fs::read_dir(repo_root().join("fixtures"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            path.join("args.json").exists().then(|| Fixture {
                name: path.file_name().unwrap().to_string_lossy().into(),
                dir: path,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 7, "expected the recorded fixtures, found {}", out.len());
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Fifo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    pub mtime: i64,
}

/// A directory tree by relative path.
pub type Tree = BTreeMap<String, Node>;

pub fn tree_from_dir(root: &Path) -> Tree {
    let mut tree = Tree::new();
    walk(root, root, &mut tree);
    tree
}

fn walk(root: &Path, dir: &Path, tree: &mut Tree) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink(std::fs::read_link(&path).unwrap().to_string_lossy().into_owned())
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File(std::fs::read(&path).unwrap())
        } else {
            Kind::Fifo
        };
        let is_dir = kind == Kind::Dir;
        tree.insert(
            rel,
            Node {
                kind,
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            },
        );
        if is_dir {
            walk(root, &path, tree);
        }
    }
}

pub fn tree_from_tar(path: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let rel = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => {
                Kind::Symlink(entry.link_name().unwrap().unwrap().to_string_lossy().into_owned())
            }
            tar::EntryType::Fifo => Kind::Fifo,
            _ => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                Kind::File(data)
            }
        };
        tree.insert(
            rel,
            Node {
                kind,
                mode: header.mode().unwrap() & 0o7777,
                mtime: header.mtime().unwrap() as i64,
            },
        );
    }
    tree
}

/// Differences between two trees, one line each; `mtime_slack` None ignores mtimes,
/// and `check_mtime` picks the entries whose mtime matters.
pub fn tree_diff(
    expected: &Tree,
    actual: &Tree,
    mtime_slack: Option<i64>,
    check_mtime: &dyn Fn(&str, &Node) -> bool,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (path, want) in expected {
        match actual.get(path) {
            None => diffs.push(format!("missing: {path}")),
            Some(got) => {
                if got.kind != want.kind {
                    let show = |k: &Kind| match k {
                        Kind::File(d) => format!("file of {} bytes", d.len()),
                        other => format!("{other:?}"),
                    };
                    diffs.push(format!(
                        "{path}: expected {}, found {}",
                        show(&want.kind),
                        show(&got.kind)
                    ));
                }
                // Symlink permission bits are meaningless on Linux.
                if got.mode != want.mode && !matches!(want.kind, Kind::Symlink(_)) {
                    diffs.push(format!("{path}: mode {:o}, expected {:o}", got.mode, want.mode));
                }
                if let Some(slack) = mtime_slack {
                    if check_mtime(path, want) && (got.mtime - want.mtime).abs() > slack {
                        diffs.push(format!(
                            "{path}: mtime {} expected {} (±{slack}s)",
                            got.mtime, want.mtime
                        ));
                    }
                }
            }
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) {
            diffs.push(format!("unexpected: {path}"));
        }
    }
    diffs
}

/// The JSON lines of a stream as text (newline stripped), base64 payloads skipped (each
/// sized by its `zipfile` line).
pub fn raw_lines(stream: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| i + 1);
        let line = String::from_utf8_lossy(&rest[..end])
            .trim_end_matches(['\n', '\r'])
            .to_string();
        rest = &rest[end..];
        let size = line
            .strip_prefix("{\"zipfile\": ")
            .and_then(|t| t.trim_end_matches('}').trim().parse::<u64>().ok());
        if let Some(size) = size {
            let mut needed = size.div_ceil(3) * 4;
            let mut i = 0;
            while needed > 0 && i < rest.len() {
                if !rest[i].is_ascii_whitespace() {
                    needed -= 1;
                }
                i += 1;
            }
            rest = &rest[i..];
        }
        out.push(line);
    }
    out
}

/// The JSON lines of a stream, parsed (NaN and Infinity read as null: serde_json has none).
pub fn stream_lines(stream: &[u8]) -> Vec<serde_json::Value> {
    raw_lines(stream)
        .into_iter()
        .map(|text| {
            let text = text
                .replace("NaN", "null")
                .replace("-Infinity", "null")
                .replace("Infinity", "null");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad line {text:?}: {e}"))
        })
        .collect()
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
