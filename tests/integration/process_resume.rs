//! `process --resume`: a run that broke part way, fed the whole stream again, ends with the
//! tree and the output of an unbroken run, without touching the event files already
//! written; a different stream than the one on disk is refused and changes nothing.


use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::common::*;

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn process(pdd: &Path, stream: &[u8], resume: bool) -> Run {
    let mut cmd = runnerwire();
    cmd.arg("process").arg(pdd).args(["--ident", "job"]);
    if resume {
        cmd.arg("--resume");
    }
    let out = run_with_input(cmd, stream);
    Run { code: out.status.code(), stdout: out.stdout, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn events_dir(pdd: &Path) -> std::path::PathBuf {
    pdd.join("artifacts/job/job_events")
}

/// Each event file's identity and change times: any write or chmod changes ctime.
fn event_stamps(pdd: &Path) -> BTreeMap<String, (u64, i64, i64, i64, i64)> {
    std::fs::read_dir(events_dir(pdd))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (e.file_name().to_string_lossy().into_owned(), (m.ino(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()))
        })
        .collect()
}

/// Tree differences; the times of the files the archive restores must match too.
fn diff(expected: &Tree, actual: &Tree) -> Vec<String> {
    let restored = |path: &str, node: &Node| path.starts_with("artifacts/") && !path.contains("job_events") && matches!(node.kind, Kind::File(_));
    tree_diff(expected, actual, Some(0), &restored)
}

fn assert_one_line(run: &Run, needles: &[&str]) {
    assert_eq!(run.stderr.lines().count(), 1, "stderr: {:?}", run.stderr);
    for needle in needles {
        assert!(run.stderr.contains(needle), "stderr {:?} lacks {needle:?}", run.stderr);
    }
}

fn stream_of(name: &str) -> Vec<u8> {
    fixtures().into_iter().find(|f| f.name == name).unwrap().read("result.stream")
}

/// Where each line of `stream` starts (the zip's base64 is not a line of its own).
fn line_starts(stream: &[u8]) -> Vec<usize> {
    std::iter::once(0).chain(stream.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1)).filter(|&i| i < stream.len()).collect()
}

/// Cut points: at the start, mid-line in several events, at a line boundary, mid-zip,
/// between the zip and the eof line, inside the eof line.
fn cuts(stream: &[u8]) -> Vec<usize> {
    let zip = find(stream, b"{\"zipfile\"").unwrap();
    let eof = find(stream, b"{\"eof\": true}").unwrap();
    let starts: Vec<usize> = line_starts(&stream[..zip]);
    let mut cuts = vec![0, starts[1] + 5, starts[starts.len() / 2], starts[starts.len() / 2] + 40, starts[starts.len() - 1] + 3];
    cuts.extend([zip + 3, zip + (eof - zip) / 2, eof, eof + 5]);
    cuts.sort();
    cuts.dedup();
    cuts
}

#[test]
fn a_cut_run_resumed_with_the_whole_stream_ends_as_an_unbroken_run() {
    for fixture in fixtures().into_iter().filter(|f| f.has("result.stream")) {
        let stream = fixture.read("result.stream");
        let base = tempfile::tempdir().unwrap();
        let unbroken_pdd = base.path().join("unbroken");
        let unbroken = process(&unbroken_pdd, &stream, false);
        assert_eq!(unbroken.stderr, "", "{}", fixture.name);
        let want = tree_from_dir(&unbroken_pdd);

        for cut in cuts(&stream) {
            let what = format!("{} cut at {cut}", fixture.name);
            let pdd = base.path().join(format!("cut-{cut}"));
            let first = process(&pdd, &stream[..cut], false);
            assert_eq!(first.code, Some(65), "{what}: {}", first.stderr);
            let written = event_stamps(&pdd);

            let second = process(&pdd, &stream, true);
            assert_eq!(second.code, unbroken.code, "{what}: {}", second.stderr);
            assert_eq!(second.stderr, "", "{what}");
            let printed = [first.stdout.as_slice(), second.stdout.as_slice()].concat();
            assert_eq!(String::from_utf8_lossy(&printed), String::from_utf8_lossy(&unbroken.stdout), "{what}: output");
            assert_eq!(diff(&want, &tree_from_dir(&pdd)), Vec::<String>::new(), "{what}: tree");
            let after = event_stamps(&pdd);
            for (name, stamp) in &written {
                assert_eq!(after.get(name), Some(stamp), "{what}: {name} was written again");
            }
        }
    }
}

#[test]
fn a_torn_event_file_is_written_again_and_its_output_printed() {
    let stream = stream_of("multi");
    let base = tempfile::tempdir().unwrap();
    let unbroken = process(&base.path().join("unbroken"), &stream, false);
    let pdd = base.path().join("torn");
    let cut = line_starts(&stream)[40];
    process(&pdd, &stream[..cut], false);
    // The last event written: the one a crash would have torn.
    let names: Vec<String> = event_stamps(&pdd).into_keys().collect();
    let last = names.iter().max_by_key(|n| n.split('-').next().unwrap().parse::<u64>().unwrap()).unwrap().clone();
    let path = events_dir(&pdd).join(&last);
    let whole = std::fs::read(&path).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let kept = event_stamps(&pdd);

    let resumed = process(&pdd, &stream, true);
    assert_eq!(resumed.code, unbroken.code, "{}", resumed.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    assert_eq!(diff(&tree_from_dir(&base.path().join("unbroken")), &tree_from_dir(&pdd)), Vec::<String>::new());
    // Output resumes with the torn event's text (a torn file was never printed).
    let event: serde_json::Value = serde_json::from_slice(&whole).unwrap();
    let text = format!("{}\n", event["stdout"].as_str().unwrap());
    assert!(resumed.stdout.starts_with(text.as_bytes()), "{:?}", String::from_utf8_lossy(&resumed.stdout));
    assert!(unbroken.stdout.ends_with(&resumed.stdout));
    let after = event_stamps(&pdd);
    for (name, stamp) in kept.iter().filter(|(n, _)| **n != last) {
        assert_eq!(after.get(name), Some(stamp), "{name} was written again");
    }
}

#[test]
fn another_streams_events_on_disk_are_refused_before_anything_is_written() {
    let base = tempfile::tempdir().unwrap();
    let pdd = base.path().join("pdd");
    let simple = stream_of("simple");
    process(&pdd, &simple[..line_starts(&simple)[8]], false);
    let before = tree_from_dir(&pdd);

    let multi = stream_of("multi");
    let run = process(&pdd, &multi, true);
    assert_eq!(run.code, Some(65));
    let first_event = stream_lines(&multi).into_iter().position(|l| l.get("counter").is_some()).unwrap();
    let offset = line_starts(&multi)[first_event];
    let uuid = stream_lines(&multi)[first_event]["uuid"].as_str().unwrap().to_string();
    assert_one_line(&run, &[&format!("cannot-resume at byte {offset}, line "), "cannot resume", &format!("job_events/1-{uuid}.json")]);
    assert!(run.stdout.is_empty(), "nothing printed: {:?}", String::from_utf8_lossy(&run.stdout));
    assert_eq!(diff(&before, &tree_from_dir(&pdd)), Vec::<String>::new());
}

#[test]
fn an_event_file_with_other_content_is_refused_and_nothing_after_it_written() {
    let base = tempfile::tempdir().unwrap();
    let pdd = base.path().join("pdd");
    let stream = stream_of("multi");
    let starts = line_starts(&stream);
    process(&pdd, &stream[..starts[30]], false);
    // Event 5's file, changed without changing its length.
    let name = event_stamps(&pdd).into_keys().find(|n| n.starts_with("5-")).unwrap();
    let path = events_dir(&pdd).join(&name);
    let text = std::fs::read_to_string(&path).unwrap().replacen("\"counter\": 5", "\"counter\": 6", 1);
    std::fs::write(&path, text).unwrap();
    let before = tree_from_dir(&pdd);

    let run = process(&pdd, &stream, true);
    assert_eq!(run.code, Some(65));
    let line = stream_lines(&stream).into_iter().position(|l| l["counter"] == 5).unwrap();
    assert_one_line(&run, &[&format!("cannot-resume at byte {}, line {}:", starts[line], line + 1), &format!("job_events/{name} on disk differs")]);
    assert!(run.stdout.is_empty());
    assert_eq!(diff(&before, &tree_from_dir(&pdd)), Vec::<String>::new());
}

#[test]
fn event_files_the_stream_lacks_are_refused_at_its_eof() {
    let base = tempfile::tempdir().unwrap();
    let pdd = base.path().join("pdd");
    let stream = stream_of("simple");
    assert_eq!(process(&pdd, &stream, false).code, Some(0));
    std::fs::write(events_dir(&pdd).join("999-not-this-stream.json"), "{}").unwrap();
    let before = tree_from_dir(&pdd);

    let run = process(&pdd, &stream, true);
    assert_eq!(run.code, Some(65));
    let eof = find(&stream, b"{\"eof\": true}").unwrap();
    assert_one_line(&run, &[&format!("cannot-resume at byte {eof}, line "), "job_events/999-not-this-stream.json is on disk but not in the stream"]);
    // Every event was on disk already: nothing printed, the tree as it was.
    assert!(run.stdout.is_empty());
    assert_eq!(diff(&before, &tree_from_dir(&pdd)), Vec::<String>::new());
}

#[test]
fn without_resume_existing_event_files_are_overwritten_as_upstream_does() {
    let base = tempfile::tempdir().unwrap();
    let pdd = base.path().join("pdd");
    let stream = stream_of("simple");
    let first = process(&pdd, &stream, false);
    let want = tree_from_dir(&pdd);
    let name = event_stamps(&pdd).into_keys().next().unwrap();
    std::fs::write(events_dir(&pdd).join(&name), "changed").unwrap();

    let again = process(&pdd, &stream, false);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(again.stdout, first.stdout, "everything printed again");
    assert_eq!(diff(&want, &tree_from_dir(&pdd)), Vec::<String>::new());
}
