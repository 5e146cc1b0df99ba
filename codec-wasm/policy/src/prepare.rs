//! What upstream's CLI makes before a stage runs: the private data dir (0700) and, before
//! `process`, an empty `daemon.log` (0600) in it. Given as steps a host carries out in order,
//! so the rule is written once and a host only creates what it is told.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Make this directory (and missing parents) with `mode`, unless a directory is there.
    Dir { path: PathBuf, mode: u32 },
    /// Create this empty file exclusively with `mode`, unless anything (a link too) is there.
    EmptyFile { path: PathBuf, mode: u32 },
}

/// Before `transmit`: a missing private data dir is made.
pub fn for_transmit(private_data_dir: &Path) -> Vec<Step> {
    vec![Step::Dir { path: private_data_dir.to_path_buf(), mode: 0o700 }]
}

/// Before `process`: the private data dir and its empty `daemon.log`.
pub fn for_process(private_data_dir: &Path) -> Vec<Step> {
    let mut steps = for_transmit(private_data_dir);
    steps.push(Step::EmptyFile { path: private_data_dir.join("daemon.log"), mode: 0o600 });
    steps
}
