//! Pack -> unpack round trips and unpack safety, on the real filesystem.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::ErrorKind;
use crate::fsys::NativeFs;
use crate::limits::Limits;
use crate::archive::pack::{self, ExtraFile};
use crate::archive::unpack;

const FS: NativeFs = NativeFs { utc_offset: 0 };

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(path: &Path, data: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// xorshift64 bytes: what no deflate can shrink.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn set_mtime(path: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::open(path).unwrap().set_modified(t).unwrap();
}

/// (path, kind, mode, content or link target, mtime) for every entry, sorted.
fn listing(root: &Path) -> Vec<(String, char, u32, Vec<u8>, i64)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, char, u32, Vec<u8>, i64)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if m.file_type().is_symlink() {
                out.push((rel, 'l', 0, std::fs::read_link(&p).unwrap().to_string_lossy().as_bytes().to_vec(), 0));
            } else if m.is_dir() {
                out.push((rel, 'd', m.mode() & 0o7777, Vec::new(), 0));
                walk(root, &p, out);
            } else if m.is_file() {
                out.push((rel, 'f', m.mode() & 0o7777, std::fs::read(&p).unwrap(), m.mtime()));
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn a_tree_round_trips_with_modes_links_empty_dirs_and_times() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("project/site.yml"), b"- hosts: all\n", 0o644);
    write(&src.join("project/run.sh"), b"#!/bin/sh\n", 0o755);
    write(&src.join("env/ssh_key"), b"secret", 0o600);
    write(&src.join("data/\u{fc}n\u{ef}c\u{f6}d\u{e9}-\u{65e5}.txt"), "ü".as_bytes(), 0o640);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    write(&src.join("data/blob.bin"), &big, 0o644);
    std::fs::create_dir_all(src.join("data/empty/nested")).unwrap();
    std::os::unix::fs::symlink("site.yml", src.join("project/rel")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", src.join("project/abs")).unwrap();
    std::os::unix::fs::symlink("no/such", src.join("project/dangling")).unwrap();
    std::os::unix::fs::symlink("../data", src.join("project/dirlink")).unwrap();
    std::os::unix::fs::symlink("project", src.join("top")).unwrap();
    let fifo = std::ffi::CString::new(s(&src.join("data/fifo"))).unwrap();
    assert_eq!(unsafe { libc_mkfifo(fifo.as_ptr(), 0o644) }, 0);
    for f in ["project/site.yml", "project/run.sh", "data/blob.bin"] {
        set_mtime(&src.join(f), 1_700_000_001);
    }

    let zip = tmp.path().join("a.zip");
    let extra = [ExtraFile { name: "env/cmdline".into(), mode: 0o600, mtime: 1_700_000_000, content: b"-e x=1".to_vec() }];
    pack::pack(s(&src), s(&zip), s(tmp.path()), &FS, &extra).unwrap();
    let dst = tmp.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    let report = unpack::unpack(s(&zip), s(&dst), &FS, &Limits::default(), Some("env/cmdline")).unwrap();
    assert_eq!(report.captured.as_deref(), Some(&b"-e x=1"[..]));

    let mut expected = listing(&src);
    expected.retain(|(p, ..)| p != "data/fifo");
    expected.push(("env/cmdline".into(), 'f', 0o600, b"-e x=1".to_vec(), 1_700_000_000));
    expected.sort();
    // Zip times have 2-second resolution: 1_700_000_001 comes back as 1_700_000_000.
    for e in &mut expected {
        e.4 -= e.4 % 2;
    }
    let mut got = listing(&dst);
    for e in &mut got {
        e.4 -= e.4 % 2;
    }
    assert_eq!(got, expected);
}

#[test]
fn incompressible_files_are_stored_and_the_rest_deflated() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let noise = noise(200_000, 0x2545_F491_4F6C_DD1D);
    write(&src.join("noise.bin"), &noise, 0o644);
    write(&src.join("text.yml"), "- name: a task\n  debug: msg=hello\n".repeat(5_000).as_bytes(), 0o644);
    // Small files are deflated whatever they hold, as upstream does.
    write(&src.join("small.bin"), &noise[..1_000], 0o644);
    let zip = tmp.path().join("a.zip");
    pack::pack(s(&src), s(&zip), s(tmp.path()), &FS, &[]).unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let method = |archive: &mut zip::ZipArchive<std::fs::File>, name: &str| archive.by_name(name).unwrap().compression();
    assert_eq!(method(&mut archive, "noise.bin"), zip::CompressionMethod::Stored);
    assert_eq!(method(&mut archive, "text.yml"), zip::CompressionMethod::Deflated);
    assert_eq!(method(&mut archive, "small.bin"), zip::CompressionMethod::Deflated);
    // And the same tree gives the same bytes.
    let again = tmp.path().join("b.zip");
    pack::pack(s(&src), s(&again), s(tmp.path()), &FS, &[]).unwrap();
    assert_eq!(std::fs::read(&zip).unwrap(), std::fs::read(&again).unwrap());
    let dst = tmp.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    unpack::unpack(s(&zip), s(&dst), &FS, &Limits::default(), None).unwrap();
    assert_eq!(std::fs::read(dst.join("noise.bin")).unwrap(), noise);
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

/// A zip written by Python's zipfile: (name, data, st_mode).
fn python_zip(dir: &Path, entries: &[(&str, &str, u32)]) -> std::path::PathBuf {
    let zip = dir.join("py.zip");
    let spec: String = entries.iter().map(|(n, d, m)| format!("({n:?}, {d:?}, {m}),")).collect();
    let script = format!(
        "import zipfile\nwith zipfile.ZipFile({:?}, 'w') as z:\n    for n, d, m in [{spec}]:\n        i = zipfile.ZipInfo(n)\n        i.create_system = 3\n        i.external_attr = m << 16\n        z.writestr(i, d)\n",
        s(&zip)
    );
    let status = std::process::Command::new("python3").args(["-c", &script]).status().expect("python3");
    assert!(status.success());
    zip
}

#[test]
fn unpack_never_follows_or_writes_through_links() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let target = tmp.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let out = s(&outside);

    // Upstream #1548: a link, then a file through it.
    let zip = python_zip(tmp.path(), &[("evil", out, 0o120777), ("evil/x", "pwned", 0o100644)]);
    let err = unpack::unpack(s(&zip), s(&target), &FS, &Limits::default(), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsafe);
    assert!(err.message.contains("\"evil/x\" goes through the symlink \"evil\""), "{}", err.message);

    // A link already in the target, then a file of its name: replaced, not written through.
    let target2 = tmp.path().join("target2");
    std::fs::create_dir(&target2).unwrap();
    let victim = outside.join("victim");
    std::os::unix::fs::symlink(&victim, target2.join("f")).unwrap();
    let zip = python_zip(tmp.path(), &[("f", "replaced", 0o100644)]);
    unpack::unpack(s(&zip), s(&target2), &FS, &Limits::default(), None).unwrap();
    assert_eq!(std::fs::read(target2.join("f")).unwrap(), b"replaced");

    // A link, then a file of the same name in the same archive: a duplicate, refused.
    let zip = python_zip(tmp.path(), &[("g", s(&victim), 0o120777), ("g", "replaced", 0o100644)]);
    let err = unpack::unpack(s(&zip), s(&target2), &FS, &Limits::default(), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsafe);
    assert!(err.message.contains("duplicate entry names"), "{}", err.message);

    // A chain of links (a -> b -> outside), then a file through the first.
    let zip = python_zip(tmp.path(), &[("b", out, 0o120777), ("a", "b", 0o120777), ("a/x", "pwned", 0o100644)]);
    let target4 = tmp.path().join("target4");
    std::fs::create_dir(&target4).unwrap();
    let err = unpack::unpack(s(&zip), s(&target4), &FS, &Limits::default(), None).unwrap_err();
    assert!(err.message.contains("goes through the symlink \"a\""), "{}", err.message);

    // A link replacing a directory is refused (upstream crashes on it).
    let zip = python_zip(tmp.path(), &[("d/", "", 0o40755), ("d", out, 0o120777)]);
    let target3 = tmp.path().join("target3");
    std::fs::create_dir(&target3).unwrap();
    let err = unpack::unpack(s(&zip), s(&target3), &FS, &Limits::default(), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsafe);

    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing may appear outside");
}

#[test]
fn set_uid_bits_are_dropped_and_existing_dirs_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("t");
    std::fs::create_dir_all(target.join("job_events")).unwrap();
    std::fs::set_permissions(target.join("job_events"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let zip = python_zip(tmp.path(), &[("job_events/", "", 0o40755), ("suid", "x", 0o104755)]);
    unpack::unpack(s(&zip), s(&target), &FS, &Limits::default(), None).unwrap();
    let mode = |p: &str| std::fs::metadata(target.join(p)).unwrap().mode() & 0o7777;
    assert_eq!(mode("suid"), 0o755);
    assert_eq!(mode("job_events"), 0o700, "an existing directory is left as it is, like upstream");
}

#[test]
fn entry_and_size_limits_are_obeyed_and_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = python_zip(tmp.path(), &[("a", "12345", 0o100644), ("b", "67890", 0o100644)]);
    let run = |limits: Limits| {
        let dir = tempfile::tempdir_in(tmp.path()).unwrap();
        unpack::unpack(s(&zip), s(dir.path()), &FS, &limits, None).map(|r| (r.entries, r.bytes_written))
    };
    assert_eq!(run(Limits { max_entries: 2, max_unpacked_bytes: 10, ..Limits::default() }), Ok((2, 10)));
    assert_eq!(run(Limits { max_entries: 1, ..Limits::default() }).unwrap_err().kind, ErrorKind::Limit);
    let err = run(Limits { max_unpacked_bytes: 9, ..Limits::default() }).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert!(err.message.contains("\"b\""), "{}", err.message);
}

#[test]
fn names_that_collide_after_normalization_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (first, second) in [("a/b", "a//b"), ("a/b", "./a/b"), ("d/", "d"), ("d/x", "d")] {
        let target = tempfile::tempdir_in(tmp.path()).unwrap();
        let zip = python_zip(tmp.path(), &[(first, "1", 0o100644), (second, "2", 0o100644)]);
        let err = unpack::unpack(s(&zip), s(target.path()), &FS, &Limits::default(), None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsafe, "{first} then {second}: {}", err.message);
        assert!(err.message.contains(&format!("{second:?}")), "{}", err.message);
    }
    // A directory entry after files inside it is the usual order in some archives: fine.
    let target = tempfile::tempdir_in(tmp.path()).unwrap();
    let zip = python_zip(tmp.path(), &[("d/x", "1", 0o100644), ("d/", "", 0o40755)]);
    unpack::unpack(s(&zip), s(target.path()), &FS, &Limits::default(), None).unwrap();
}

#[test]
fn compression_ratio_is_obeyed_at_the_limit_and_enforced_past_it() {
    let tmp = tempfile::tempdir().unwrap();
    // 4 MiB of zeros deflates ~1000:1.
    let zip = tmp.path().join("bomb.zip");
    let script = format!(
        "import zipfile\nwith zipfile.ZipFile({:?}, 'w', zipfile.ZIP_DEFLATED) as z:\n    z.writestr('zeros', bytes(4 << 20))\nprint(z.getinfo('zeros').compress_size)",
        s(&zip)
    );
    let out = std::process::Command::new("python3").args(["-c", &script]).output().expect("python3");
    let compressed: u64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let ratio = ((4u64 << 20) / compressed) as u32;
    let run = |max_compression_ratio: u32| {
        let target = tempfile::tempdir_in(tmp.path()).unwrap();
        unpack::unpack(s(&zip), s(target.path()), &FS, &Limits { max_compression_ratio, ..Limits::default() }, None)
    };
    assert_eq!(run(ratio + 1).unwrap().bytes_written, 4 << 20);
    let err = run(ratio - 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert!(err.message.contains("max compression ratio") && err.message.contains("\"zeros\""), "{}", err.message);
}

/// A host that lists and encodes natively, as the native host does on several cores: files
/// dealt out to three outputs in turn, each output holding its entries in order.
struct DealingFs;

impl crate::fsys::HostFs for DealingFs {
    fn lstat(&self, path: &str) -> std::io::Result<Option<crate::fsys::Meta>> { FS.lstat(path) }
    fn set_mode(&self, path: &str, mode: u32) -> std::io::Result<()> { FS.set_mode(path, mode) }
    fn set_mtime(&self, path: &str, mtime: i64) -> std::io::Result<()> { FS.set_mtime(path, mtime) }
    fn read_link(&self, path: &str) -> std::io::Result<String> { FS.read_link(path) }
    fn symlink(&self, target: &str, path: &str) -> std::io::Result<()> { FS.symlink(target, path) }
    fn utc_offset(&self, t: i64) -> i32 { FS.utc_offset(t) }
    fn write_file(&self, path: &str, data: &[u8], mode: u32) -> std::io::Result<()> { FS.write_file(path, data, mode) }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> std::io::Result<()> { FS.write_at(path, offset, data) }
    /// Listed backwards: the walk must sort.
    fn list_dir_natively(&self, dir: &str) -> std::io::Result<Option<crate::fsys::Listing>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().into_string().unwrap();
            let meta = FS.lstat(&format!("{dir}/{name}"))?.unwrap();
            entries.push((name.into_bytes(), meta));
        }
        entries.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(Some(entries))
    }
    /// Deals the files' chunks out over three outputs in turn, each chunk encoded on its
    /// own, as the native host's workers do.
    fn encode_files_natively(&self, files: &[crate::fsys::ToEncode], out_prefix: &str) -> std::io::Result<Option<Vec<crate::fsys::Encoded>>> {
        use runnerwire_policy::entry_data::{chunk_count, join_chunks};
        let mut outputs: Vec<std::fs::File> = (0..3).map(|n| std::fs::File::create(format!("{out_prefix}.{n}")).unwrap()).collect();
        let mut at = [0u64; 3];
        let mut encoded = Vec::new();
        let mut encoder = runnerwire_policy::entry_data::Encoder::default();
        let mut unit = 0;
        for file in files {
            let count = chunk_count(file.size);
            let (mut chunks, mut pieces) = (Vec::new(), Vec::new());
            for k in 0..count {
                let output = unit % 3;
                unit += 1;
                let chunk = encoder.encode_chunk(&mut std::fs::File::open(&file.path)?, k, count, &mut outputs[output])?;
                pieces.push(crate::fsys::DataPiece { output: output as u32, offset: at[output], length: chunk.compressed_size });
                at[output] += chunk.compressed_size;
                chunks.push(chunk);
            }
            encoded.push(crate::fsys::Encoded { data: join_chunks(chunks).unwrap(), pieces });
        }
        Ok(Some(encoded))
    }
}

/// A tree listed and its files encoded by a host (on several outputs) gives the very archive
/// the component's own listing and encoding give, and the outputs are gone afterwards.
#[test]
fn files_encoded_natively_on_several_outputs_give_the_same_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("big/noise.bin"), &noise(300_000, 0x9E37_79B9_7F4A_7C15), 0o644);
    write(&src.join("big/text.yml"), "- name: a task\n  debug: msg=hello\n".repeat(9_000).as_bytes(), 0o640);
    // Three chunks and a bit: its pieces land on all three outputs.
    let lines: String = (0..90_000).map(|i| format!("- name: task {i}\n  debug: msg={}\n", i * 7919 % 1000)).collect();
    assert!(lines.len() as u64 > 3 * runnerwire_policy::entry_data::CHUNK_BYTES);
    write(&src.join("big/tasks.yml"), lines.as_bytes(), 0o644);
    for i in 0..20 {
        write(&src.join(format!("small/{i:02}.txt")), format!("small file {i}\n").repeat(i * 50).as_bytes(), 0o644);
    }
    std::os::unix::fs::symlink("big", src.join("link")).unwrap();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let here = tmp.path().join("here.zip");
    pack::pack(s(&src), s(&here), s(&scratch), &FS, &[]).unwrap();
    let dealt = tmp.path().join("dealt.zip");
    pack::pack(s(&src), s(&dealt), s(&scratch), &DealingFs, &[]).unwrap();
    assert!(std::fs::read(&here).unwrap() == std::fs::read(&dealt).unwrap(), "the encoding changed the archive");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "outputs left in scratch");
    let dst = tmp.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    unpack::unpack(s(&dealt), s(&dst), &FS, &Limits::default(), None).unwrap();
    // Zip times have 2-second resolution.
    let even = |mut l: Vec<(String, char, u32, Vec<u8>, i64)>| {
        l.iter_mut().for_each(|e| e.4 -= e.4 % 2);
        l
    };
    assert_eq!(even(listing(&dst)), even(listing(&src)));
}
