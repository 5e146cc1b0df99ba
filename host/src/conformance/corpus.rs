//! The corpus embedded at build time: upstream 2.4.3's recorded scenarios and the hostile
//! corpus, unpacked into a temp dir when the kit runs.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

static CORPUS: &[u8] = include_bytes!(env!("RUNNERWIRE_CORPUS_PATH"));

/// One recorded scenario.
pub struct Scenario {
    pub name: String,
    pub dir: PathBuf,
    pub args: serde_json::Value,
}

impl Scenario {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub fn read(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        std::fs::read(self.file(name)).with_context(|| format!("corpus file {}/{name}", self.name))
    }
    pub fn has(&self, name: &str) -> bool {
        self.file(name).exists()
    }
    /// The arguments a stage was recorded with; none when the CLI did not run it.
    pub fn stage_args(&self, stage: &str) -> Option<Vec<String>> {
        self.args[stage].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    }
}

/// Unpacks the corpus into `into`.
pub fn unpack(into: &Path) -> anyhow::Result<()> {
    let mut tar = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(CORPUS)
        .map_err(|e| anyhow::anyhow!("the embedded corpus is not zstd: {e}"))?
        .read_to_end(&mut tar)
        .context("cannot decompress the embedded corpus")?;
    tar::Archive::new(tar.as_slice()).unpack(into).context("cannot unpack the embedded corpus")
}

/// The recorded scenarios in `root`, by name.
pub fn scenarios(root: &Path) -> anyhow::Result<Vec<Scenario>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let dir = entry?.path();
        let args = dir.join("args.json");
        if args.exists() {
            let args = serde_json::from_slice(&std::fs::read(&args)?)?;
            out.push(Scenario { name: dir.file_name().unwrap_or_default().to_string_lossy().into_owned(), dir, args });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
