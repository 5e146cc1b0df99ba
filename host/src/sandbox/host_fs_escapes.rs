//! `fixtures/hostile/host-fs.json` run against the native host-fs (which the Python package
//! uses too); bindings/js/test/hostfs.test.mjs runs the same table against the Node one.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use runnerwire_policy::entry_data::CHUNK_BYTES;

use super::bindings::runnerwire::codec::native_pack::FileToEncode;
use super::host_fs::{Grant, Grants};
use super::write_queue::WriteQueue;

const TABLE: &str = include_str!("../../../fixtures/hostile/host-fs.json");

/// Everything under `dir`: kind, content or link text, mode and mtime, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.mode() & 0o7777)
            } else {
                format!("file {:?} {:o} {}", String::from_utf8_lossy(&std::fs::read(&path).unwrap()), meta.mode() & 0o7777, meta.mtime())
            };
            out.insert(path.strip_prefix(dir).unwrap().display().to_string(), what);
        }
    }
    out
}

struct Layout {
    root: tempfile::TempDir,
    grants: Arc<Grants>,
}

fn build(table: &Value) -> Layout {
    let root = tempfile::tempdir().unwrap();
    let at = |p: &Value| root.path().join(p.as_str().unwrap());
    let layout = &table["layout"];
    for dir in layout["dirs"].as_array().unwrap() {
        std::fs::create_dir_all(at(dir)).unwrap();
    }
    for file in layout["files"].as_array().unwrap() {
        std::fs::write(at(&file["path"]), file["text"].as_str().unwrap()).unwrap();
        std::fs::set_permissions(at(&file["path"]), std::fs::Permissions::from_mode(file["mode"].as_u64().unwrap() as u32)).unwrap();
    }
    for link in layout["links"].as_array().unwrap() {
        let target = link["target"].as_str().unwrap().replace("{root}", &root.path().display().to_string());
        std::os::unix::fs::symlink(target, at(&link["path"])).unwrap();
    }
    let mut grants = Grants::default();
    for g in table["grants"].as_array().unwrap() {
        let guest: &'static str = Box::leak(g["guest"].as_str().unwrap().to_string().into_boxed_str());
        grants.add(&Grant { host_path: at(&g["host"]), guest_path: guest, writable: g["writable"].as_bool().unwrap() }).unwrap();
    }
    Layout { root, grants: Arc::new(grants) }
}

/// Makes one call; Ok carries what a read gives back (link text, or "link"/"other" for lstat).
fn call(grants: &Arc<Grants>, call: &Value) -> Result<Option<String>, String> {
    let path = call["path"].as_str().unwrap().to_string();
    let data = call["text"].as_str().unwrap_or("pwned").as_bytes().to_vec();
    let mode = call["mode"].as_u64().unwrap_or(0o777) as u32;
    match call["op"].as_str().unwrap() {
        "write-file" => grants.write_file(&path, &data, mode).map(|_| None),
        "write-at" => grants.write_at(&path, call["offset"].as_u64().unwrap_or(0), &data).map(|_| None),
        "set-mode" => grants.set_mode(path, mode).map(|_| None),
        "set-mtime" => grants.set_mtime(path, call["mtime"].as_i64().unwrap_or(0)).map(|_| None),
        "make-symlink" => grants.make_symlink(call["target"].as_str().unwrap_or("/etc/passwd").to_string(), path).map(|_| None),
        "read-link" => grants.read_link(path).map(Some),
        "lstat" => match grants.lstat(path) {
            // Nothing there is as good as a refusal for an escape; a case says what it wants.
            Ok(None) => Err("nothing there".into()),
            Ok(Some(meta)) => Ok(Some(if meta.mode & 0o170000 == 0o120000 { "link" } else { "other" }.into())),
            Err(e) => Err(e),
        },
        "list-dir" => grants.list_dir(&path).map(|_| None).map_err(|e| e.to_string()),
        // Listed as three chunks: each is opened on its own, and each must be refused.
        "encode-files-from" => grants.encode_files(&[to_encode(&path, 3 * CHUNK_BYTES)], "/artifacts/out", 2).map(|_| None).map_err(|e| format!("{e:?}")),
        "encode-files-to" => grants.encode_files(&[to_encode("/pdd/kept", 4)], &path, 2).map(|_| None).map_err(|e| format!("{e:?}")),
        "queue-write" => {
            let mut queue = WriteQueue::new(grants.clone());
            queue.push(path, data, mode, 1).and_then(|()| queue.flush(None)).map(|()| None).map_err(|f| f.message)
        }
        op => panic!("unknown op {op}"),
    }
}

fn to_encode(path: &str, size: u64) -> FileToEncode {
    FileToEncode { path: path.to_string(), size }
}

fn outside(layout: &Layout) -> BTreeMap<String, String> {
    snapshot(layout.root.path()).into_iter().filter(|(path, _)| !path.starts_with("granted/")).collect()
}

#[test]
fn no_escape_path_reaches_anything_through_any_call() {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    let mut made = 0;
    let calls = table["calls"].as_array().unwrap().iter().chain(table["native_only_calls"].as_array().unwrap());
    for escape in table["escapes"].as_array().unwrap() {
        for op in calls.clone() {
            let layout = build(&table);
            let before = snapshot(layout.root.path());
            let result = call(&layout.grants, &serde_json::json!({ "op": op, "path": escape }));
            assert!(result.is_err(), "{op} {escape}: allowed, gave {result:?}");
            assert_eq!(snapshot(layout.root.path()), before, "{op} {escape}: something changed");
            made += 1;
        }
    }
    assert!(made >= 90, "{made} calls");
}

#[test]
fn every_case_gives_what_the_table_says() {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    for case in table["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let layout = build(&table);
        let before = outside(&layout);
        let result = call(&layout.grants, &case["call"]);
        match case["expect"].as_str().unwrap() {
            "ok" => {
                let got = result.unwrap_or_else(|e| panic!("{name}: refused: {e}"));
                if let Some(text) = case["text"].as_str() {
                    assert_eq!(got.as_deref(), Some(text), "{name}");
                }
                if let Some(kind) = case["kind"].as_str() {
                    assert_eq!(got.as_deref(), Some(kind), "{name}");
                }
            }
            _ => assert!(result.is_err(), "{name}: allowed"),
        }
        let granted = layout.root.path().join("granted");
        for then in case["then"].as_array().into_iter().flatten() {
            let path = granted.join(then["path"].as_str().unwrap());
            if then["absent"].as_bool() == Some(true) {
                assert!(std::fs::symlink_metadata(&path).is_err(), "{name}: {} exists", path.display());
            } else if let Some(target) = then["link"].as_str() {
                assert_eq!(std::fs::read_link(&path).unwrap().to_str(), Some(target), "{name}");
            } else {
                let meta = std::fs::symlink_metadata(&path).unwrap();
                assert!(meta.is_file(), "{name}: {} is not a file", path.display());
                assert_eq!(std::fs::read_to_string(&path).unwrap(), then["file"].as_str().unwrap(), "{name}");
                assert_eq!(u64::from(meta.mode() & 0o7777), then["mode"].as_u64().unwrap(), "{name}: mode");
            }
        }
        assert_eq!(outside(&layout), before, "{name}: something outside the grant changed");
    }
}

/// The success path the escapes are measured against: a granted file is encoded, its data
/// lands in the writable grant's output and inflates back to the file.
#[test]
fn encode_files_encodes_a_granted_file_into_the_writable_grant() {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    let layout = build(&table);
    let encoded = layout.grants.encode_files(&[to_encode("/pdd/kept", 4)], "/artifacts/out", 2).unwrap();
    assert_eq!((encoded.len(), encoded[0].pieces.len(), encoded[0].pieces[0].output, encoded[0].pieces[0].offset, encoded[0].size), (1, 1, 0, 0, 4));
    let data = std::fs::read(layout.root.path().join("granted/out.0")).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(&data[..]), &mut text).unwrap();
    assert_eq!(text, "kept");
}

/// A file of several chunks, encoded on two workers: its pieces, read in order from the
/// outputs they landed in, inflate back to the file.
#[test]
fn a_file_of_several_chunks_is_encoded_in_pieces_that_join_into_one_stream() {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    let layout = build(&table);
    let text: String = (0..200_000).map(|i| format!("line {i}: {}\n", i * 7919 % 10_007)).collect();
    assert!(text.len() as u64 > 2 * CHUNK_BYTES);
    std::fs::write(layout.root.path().join("readonly/big.txt"), &text).unwrap();
    let encoded = layout.grants.encode_files(&[to_encode("/pdd/kept", 4), to_encode("/pdd/big.txt", text.len() as u64)], "/artifacts/out", 2).unwrap();
    let big = &encoded[1];
    assert_eq!((big.size, big.pieces.len()), (text.len() as u64, text.len().div_ceil(CHUNK_BYTES as usize)));
    assert_eq!(big.pieces.iter().map(|p| p.length).sum::<u64>(), big.compressed_size);
    let outputs: Vec<Vec<u8>> = (0..2).map(|n| std::fs::read(layout.root.path().join(format!("granted/out.{n}"))).unwrap_or_default()).collect();
    let mut joined = Vec::new();
    for piece in &big.pieces {
        joined.extend_from_slice(&outputs[piece.output as usize][piece.offset as usize..(piece.offset + piece.length) as usize]);
    }
    let mut inflated = String::new();
    std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(&joined[..]), &mut inflated).unwrap();
    assert!(inflated == text, "the pieces do not inflate back to the file");
    assert_eq!(big.crc32, crc32fast::hash(text.as_bytes()));
}

/// A file listed larger than it is (it shrank after the walk): its later chunks find less
/// than they were promised, and the file fails by name instead of giving a torn entry.
#[test]
fn a_file_that_shrank_after_it_was_listed_fails_by_name() {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    let layout = build(&table);
    std::fs::write(layout.root.path().join("readonly/shrank.txt"), "x".repeat(CHUNK_BYTES as usize + 10)).unwrap();
    let error = layout.grants.encode_files(&[to_encode("/pdd/shrank.txt", 3 * CHUNK_BYTES)], "/artifacts/out", 2).unwrap_err();
    assert_eq!(format!("{error:?}"), format!("{:?}", super::bindings::runnerwire::codec::native_pack::EncodeError::Failed("cannot encode /pdd/shrank.txt: it changed while it was read".into())));
}
