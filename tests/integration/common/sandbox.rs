//! A scratch root for hostile-input tests: the target directory sits three levels down
//! (`work/artifacts/job`), beside a `victim/` that archive links aim at. After a run,
//! [`Sandbox::assert_outside_untouched`] proves nothing outside `work/` changed.

use std::path::{Path, PathBuf};

use super::{tree_from_dir, Tree};

pub struct Sandbox {
    pub root: tempfile::TempDir,
    before: Tree,
}

pub const SECRET: &[u8] = b"secret\n";

impl Sandbox {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("victim")).unwrap();
        std::fs::write(root.path().join("victim/secret"), SECRET).unwrap();
        std::fs::create_dir_all(root.path().join("work/artifacts/job")).unwrap();
        let before = outside(root.path());
        Sandbox { root, before }
    }

    /// The directory `process` is pointed at (its artifact dir is [`Sandbox::target`]).
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// The target directory: the artifact dir for `process`, the private data dir for `worker`.
    pub fn target(&self) -> PathBuf {
        self.root.path().join("work/artifacts/job")
    }

    pub fn assert_outside_untouched(&self, what: &str) {
        let after = outside(self.root.path());
        assert!(self.before == after, "{what}: something outside the target changed:\nbefore {:?}\nafter {:?}", self.before.keys(), after.keys());
        assert_eq!(std::fs::read(self.root.path().join("victim/secret")).unwrap(), SECRET, "{what}: victim/secret changed");
        // `work/` itself may hold only what process makes there: daemon.log and artifacts/.
        for entry in std::fs::read_dir(self.work()).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(name == "daemon.log" || name == "artifacts", "{what}: unexpected {name:?} in work/");
        }
        let artifacts: Vec<_> = std::fs::read_dir(self.work().join("artifacts")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(artifacts, ["job"], "{what}: unexpected entries in work/artifacts");
    }
}

/// Everything under `root` except `work/`.
fn outside(root: &Path) -> Tree {
    tree_from_dir(root).into_iter().filter(|(path, _)| path != "work" && !path.starts_with("work/")).collect()
}
