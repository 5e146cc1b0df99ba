//! The second layer: even if the codec had a bug, the WASI sandbox it runs in cannot reach
//! outside its grants. `tests/escape-probe` (a WASI command built by `make component`) tries
//! every way out from inside, under the same store configuration the codec gets; the
//! host-fs layer (our own code) is attacked directly in the tests of
//! `host/src/sandbox/host_fs.rs`.


use crate::common::sandbox::Sandbox;
use crate::common::*;
use runnerwire::sandbox::{Budget, Grant, Runtime};

fn probe() -> Vec<u8> {
    let path = repo_root().join("target/wasm32-wasip2/release/escape-probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make component`)", path.display()))
}

#[test]
fn a_guest_cannot_write_read_or_remove_outside_its_grants() {
    let sandbox = Sandbox::new();
    let target = sandbox.target();
    let victim = sandbox.root.path().join("victim");
    std::os::unix::fs::symlink("../../../victim", target.join("link-out")).unwrap();
    std::os::unix::fs::symlink(&victim, target.join("abs-link-out")).unwrap();
    std::os::unix::fs::symlink("../../../victim/secret", target.join("secret-link")).unwrap();
    std::fs::create_dir(target.join("sub")).unwrap();
    let scratch = tempfile::tempdir_in(sandbox.root.path().join("work")).unwrap();
    let scratch_name = scratch.path().file_name().unwrap().to_owned();

    let runtime = Runtime::new().unwrap();
    let grants = Grant::with_scratch(&target, "/artifacts", true, scratch.path());
    let victim_text = victim.to_string_lossy().into_owned();
    let (ok, stdout) = runtime.run_command(&probe(), &grants, Budget::default(), &[("VICTIM_HOST_PATH", &victim_text)]).unwrap();
    assert!(ok, "the probe failed");
    let report = String::from_utf8(stdout).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.len() >= 14, "{report}");
    assert_eq!(lines[0], "control: write inside: allowed", "{report}");
    for line in &lines[1..] {
        assert!(line.contains(": denied ("), "an escape was allowed: {line}\n{report}");
    }
    // Allowed inside, and nothing else anywhere.
    assert_eq!(std::fs::read(target.join("inside.txt")).unwrap(), b"inside");
    drop(scratch);
    std::fs::remove_dir(sandbox.work().join(scratch_name)).ok();
    sandbox.assert_outside_untouched("escape probe");
    let leftovers: Vec<String> = tree_from_dir(sandbox.root.path()).into_keys().filter(|p| p.contains("escape") || p.contains("hard-link")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
