//! Helpers shared by the integration tests: fixtures, trees, running the binaries.
// Each test crate uses its own part of these helpers and re-exports.
#![allow(dead_code, unused_imports)]

pub use runnerwire::conformance::normalize;
pub mod feeding;
pub mod processes;
pub mod sandbox;
pub mod workers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn runnerwire() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runnerwire"))
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
    /// Extracts the recorded source private data dir into `into` (FIFOs included).
    pub fn extract_pdd(&self, into: &Path) {
        runnerwire::conformance::tree::extract_tar(std::fs::File::open(self.file("pdd.tar")).unwrap(), into).unwrap();
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

pub use runnerwire::conformance::tree::{Kind, Node, Tree};

pub fn tree_from_dir(root: &Path) -> Tree {
    runnerwire::conformance::tree::from_dir(root).unwrap()
}

pub fn tree_from_tar(path: &Path) -> Tree {
    runnerwire::conformance::tree::from_tar(std::fs::File::open(path).unwrap()).unwrap()
}

pub use runnerwire::conformance::tree::diff as tree_diff;

pub use runnerwire::conformance::lines::raw_lines;

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

/// Sorted (name, mode, size, crc[, date]) of the archive in a job stream, read by Python's
/// zipfile with upstream's own name handling (`./x` is `x`).
pub fn archive_listing(dates: bool, stream: &[u8]) -> String {
    let script = r#"
import base64, io, json, os, sys, zipfile
data = sys.stdin.buffer.read()
first = data.index(b"\n") + 1
header_end = data.index(b"\n", first) + 1
n = json.loads(data[first:header_end])["zipfile"]
chars = 4 * ((n + 2) // 3)
z = zipfile.ZipFile(io.BytesIO(base64.b64decode(data[header_end:header_end + chars])))
dated = sys.argv[1] == "dates"
rows = sorted((os.path.normpath(i.filename) + ("/" if i.is_dir() else ""), oct(i.external_attr >> 16), i.file_size, i.CRC) + ((i.date_time,) if dated else ()) for i in z.infolist())
print("\n".join(map(str, rows)))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script, if dates { "dates" } else { "no-dates" }]);
    let out = run_with_input(cmd, stream);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// xorshift64 numbers from `state`: reproducible noise no deflate can shrink.
pub fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A private data dir with a playbook, `docs` text files of about `words` words each and a
/// MiB of noise under `project/files/`: large files worth packing on every core.
pub fn pdd_with_large_files(dir: &Path, docs: usize, words: usize) {
    std::fs::create_dir_all(dir.join("project/files")).unwrap();
    std::fs::write(dir.join("project/site.yml"), "- hosts: localhost\n  gather_facts: false\n  tasks: []\n").unwrap();
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    for i in 0..docs {
        let text: Vec<String> = (0..words).map(|_| format!("w{}", next() % 500)).collect();
        std::fs::write(dir.join(format!("project/files/doc-{i:02}.txt")), text.join(" ")).unwrap();
    }
    std::fs::write(dir.join("project/files/noise.bin"), (0..(1 << 20)).map(|_| next() as u8).collect::<Vec<u8>>()).unwrap();
    std::fs::write(dir.join("project/files/small.txt"), "small\n").unwrap();
}
