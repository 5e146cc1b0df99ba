//! Every limit in pairs, from the command line: a stream exactly at the limit is accepted,
//! one unit over is refused with exit 65 and a message naming the limit. Then the sandbox's
//! own budgets: memory (--max-memory-bytes) and time (--step-timeout), where a stream that
//! fits passes and one that does not ends in exit 70, never a crash.


use std::io::Write;

use crate::common::*;

fn process(stream: &[u8], args: &[String]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("process").arg(dir.path()).args(["--ident", "job"]).args(args);
    let out = run_with_input(cmd, stream);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Accepted with `--flag ok`, refused with `--flag ok-1` naming `(what)`.
fn pair(stream: &[u8], flag: &str, ok: u64, what: &str) {
    let (code, stderr) = process(stream, &[flag.into(), ok.to_string()]);
    assert_eq!(code, Some(0), "{flag} {ok}: {stderr}");
    let (code, stderr) = process(stream, &[flag.into(), (ok - 1).to_string()]);
    assert_eq!(code, Some(65), "{flag} {}: {stderr}", ok - 1);
    assert!(stderr.contains(&format!("({what})")) && stderr.lines().count() == 1, "{flag} {}: {stderr}", ok - 1);
}

const STATUS: &[u8] = b"{\"status\": \"successful\", \"runner_ident\": \"job\"}\n";
const EOF: &[u8] = b"{\"eof\": true}\n";

/// A result stream carrying `zip`, and the zip's size.
fn with_zip(zip: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let mut s = STATUS.to_vec();
    s.extend_from_slice(format!("{{\"zipfile\": {}}}\n", zip.len()).as_bytes());
    s.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(zip).as_bytes());
    s.extend_from_slice(EOF);
    s
}

/// A zip of `(name, data, deflate)` entries, and each entry's compressed size.
fn zip(entries: &[(&str, Vec<u8>, bool)]) -> (Vec<u8>, Vec<u64>) {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    for (name, data, deflate) in entries {
        let method = if *deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
        writer.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(method)).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap();
    let bytes = out.into_inner();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let sizes = (0..archive.len()).map(|i| archive.clone().by_index_raw(i).unwrap().compressed_size()).collect();
    (bytes, sizes)
}

#[test]
fn max_line_bytes() {
    let line = b"{\"uuid\": \"u\", \"counter\": 1, \"stdout\": \"0123456789\"}\n";
    let stream = [STATUS, line, EOF].concat();
    pair(&stream, "--max-line-bytes", line.len() as u64, "max line bytes");
}

#[test]
fn max_json_depth() {
    // The frame object and 9 arrays: depth 10.
    let line = format!("{{\"uuid\": \"u\", \"counter\": 1, \"x\": {}{}}}\n", "[".repeat(9), "]".repeat(9));
    let stream = [STATUS, line.as_bytes(), EOF].concat();
    pair(&stream, "--max-json-depth", 10, "max JSON depth");
}

#[test]
fn max_archive_bytes() {
    let (zip, _) = zip(&[("rc", b"0".to_vec(), false)]);
    pair(&with_zip(&zip), "--max-archive-bytes", zip.len() as u64, "max archive bytes");
}

#[test]
fn max_entries() {
    let (zip, _) = zip(&[("a", b"1".to_vec(), false), ("b", b"2".to_vec(), false), ("c", b"3".to_vec(), false)]);
    pair(&with_zip(&zip), "--max-entries", 3, "max entries");
}

#[test]
fn max_unpacked_bytes() {
    let (zip, _) = zip(&[("a", vec![b'a'; 1000], true), ("b", vec![b'b'; 234], false)]);
    pair(&with_zip(&zip), "--max-unpacked-bytes", 1234, "max unpacked bytes");
}

#[test]
fn max_compression_ratio() {
    let size = 3u64 << 20;
    let (zip, compressed) = zip(&[("zeros", vec![0; size as usize], true)]);
    let ratio = size.div_ceil(compressed[0]);
    pair(&with_zip(&zip), "--max-compression-ratio", ratio, "max compression ratio");
}

#[test]
fn default_limits_take_an_ordinary_large_job() {
    // 2 MiB of ordinary text in one event and a 20 MB archive of 2,000 files: nothing
    // a real job produces comes near the defaults.
    let text = "x".repeat(2 << 20);
    let event = format!("{{\"uuid\": \"u\", \"counter\": 1, \"stdout\": \"{text}\"}}\n");
    let files: Vec<(String, Vec<u8>)> = (0..2000).map(|i| (format!("d{}/f{i}", i % 20), format!("{i}\n").repeat(2500).into_bytes())).collect();
    let entries: Vec<(&str, Vec<u8>, bool)> = files.iter().map(|(n, d)| (n.as_str(), d.clone(), true)).collect();
    let (zip, _) = zip(&entries);
    let mut stream = with_zip(&zip);
    stream.splice(STATUS.len()..STATUS.len(), event.into_bytes());
    let (code, stderr) = process(&stream, &[]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn memory_budget_is_obeyed_and_enforced() {
    // A 24 MiB line fits a 256 MiB budget (with the line limit raised to take it) and does
    // not fit a 24 MiB one: the sandbox traps, the host reports it, nothing crashes.
    let text = "y".repeat(24 << 20);
    let stream = [STATUS, format!("{{\"uuid\": \"u\", \"counter\": 1, \"stdout\": \"{text}\"}}\n").as_bytes(), EOF].concat();
    let raise = ["--max-line-bytes".to_string(), (32u64 << 20).to_string()];
    let (code, stderr) = process(&stream, &[&raise[..], &["--max-memory-bytes".into(), (256u64 << 20).to_string()]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = process(&stream, &[&raise[..], &["--max-memory-bytes".into(), (24u64 << 20).to_string()]].concat());
    assert_eq!(code, Some(70), "{stderr}");
    assert!(stderr.contains("memory budget (--max-memory-bytes)") && stderr.lines().count() == 1, "{stderr}");
}

#[test]
fn time_budget_is_obeyed_and_enforced() {
    // Inflating 256 MiB takes well over one 0.1 s tick; the default budget lets it finish.
    let (zip, _) = zip(&[("zeros", vec![0; 256 << 20], true)]);
    let stream = with_zip(&zip);
    let ratio = ["--max-compression-ratio".to_string(), "5000".into()];
    let (code, stderr) = process(&stream, &ratio);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = process(&stream, &[&ratio[..], &["--step-timeout".into(), "0.1".into()]].concat());
    assert_eq!(code, Some(70), "{stderr}");
    assert!(stderr.contains("time budget (--step-timeout)") && stderr.lines().count() == 1, "{stderr}");
}
