#![no_main]
// Logic in runnerwire_codec::fuzzing, shared with src/fuzz_replays.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| runnerwire_codec::fuzzing::frame_decoder(data));
