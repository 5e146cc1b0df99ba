#![no_main]
// Logic in runnerwire_codec::fuzzing, shared with src/fuzz_replays.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // A fresh directory each run (set TMPDIR=/dev/shm to keep it off the disk).
    let outer = tempfile::tempdir().expect("temp dir");
    runnerwire_codec::fuzzing::unpack(data, outer.path());
});
