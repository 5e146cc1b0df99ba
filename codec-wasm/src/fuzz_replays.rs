//! Replays the saved fuzz inputs (`fuzz/replays/<target>/`: past crashes and a small picked
//! corpus) through the same harnesses the fuzz targets run, on stable, in every `cargo test`.

use std::path::PathBuf;

use crate::fuzzing;

fn replay(target: &str, run: impl Fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/replays").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // An empty directory would make this test pass without testing anything.
    assert!(!files.is_empty(), "no replay inputs in {}", dir.display());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        eprintln!("replaying {}", file.display());
        run(&data);
    }
}

#[test]
fn frame_decoder() {
    replay("frame_decoder", fuzzing::frame_decoder);
}

#[test]
fn json_reencode() {
    replay("json_reencode", fuzzing::json_reencode);
}

#[test]
fn unpack() {
    replay("unpack", |data| {
        let outer = tempfile::tempdir().unwrap();
        fuzzing::unpack(data, outer.path());
    });
}
