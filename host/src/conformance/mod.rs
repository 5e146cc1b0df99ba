//! `runnerwire conformance`: upstream 2.4.3's recorded scenarios (and, with `--safety`, the
//! hostile corpus) through any implementation's stages, one PASS or FAIL line per case.
//! The corpus travels inside the binary (see `corpus`), so the kit needs nothing else.

pub mod corpus;
pub mod environment;
pub mod exec;
pub mod lines;
pub mod normalize;
pub mod safety;
pub mod stages;
pub mod tree;

use std::io::Write;

use anyhow::Context;

use crate::cli::ConformanceArgs;
use crate::failure::{Failure, StageResult};
use crate::sandbox::{Grant, Runtime, Trapped};

pub fn run(args: ConformanceArgs) -> StageResult {
    if args.transmit.is_none() && args.worker.is_none() && args.process.is_none() {
        return Err(Failure::usage("conformance needs at least one of --transmit, --worker, --process"));
    }
    let runtime = Runtime::new().map_err(Failure::internal)?;
    let root = tempfile::Builder::new().prefix("runnerwire-conformance-").tempdir().context("cannot create a temp dir").map_err(Failure::io)?;
    let corpus_dir = root.path().join("corpus");
    corpus::unpack(&corpus_dir).map_err(Failure::io)?;
    let scenarios = corpus::scenarios(&corpus_dir).map_err(Failure::io)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut report = |out: &mut std::io::StdoutLock, name: String, result: anyhow::Result<Result<Option<String>, String>>| -> Result<(), Failure> {
        let line = match result {
            Ok(Ok(None)) => {
                passed += 1;
                format!("PASS {name}\n")
            }
            Ok(Ok(Some(note))) => {
                passed += 1;
                format!("PASS {name} ({note})\n")
            }
            Ok(Err(why)) => {
                failed += 1;
                format!("FAIL {name}: {why}\n")
            }
            Err(e) => {
                failed += 1;
                format!("FAIL {name}: the kit could not run the case: {e:#}\n")
            }
        };
        out.write_all(line.as_bytes()).and_then(|_| out.flush()).map_err(Failure::write)
    };
    let mut case_dir = {
        let mut n = 0;
        let base = root.path().to_path_buf();
        move || {
            n += 1;
            let dir = base.join(format!("case-{n}"));
            std::fs::create_dir_all(&dir).map(|_| dir)
        }
    };
    for scenario in &scenarios {
        if let Some(cmd) = &args.transmit {
            if scenario.stage_args("transmit").is_some() {
                let dir = case_dir().context("cannot create a case dir").map_err(Failure::io)?;
                report(&mut out, format!("transmit/{}", scenario.name), without_note(stages::transmit(cmd, scenario, &dir, &runtime)))?;
            }
        }
        if let Some(cmd) = &args.worker {
            if scenario.has("result.stream") {
                let dir = case_dir().context("cannot create a case dir").map_err(Failure::io)?;
                report(&mut out, format!("worker/{}", scenario.name), stages::worker(cmd, scenario, &dir))?;
            }
        }
        if let Some(cmd) = &args.process {
            if scenario.has("result.stream") {
                let dir = case_dir().context("cannot create a case dir").map_err(Failure::io)?;
                report(&mut out, format!("process/{}", scenario.name), without_note(stages::process(cmd, scenario, &dir)))?;
            }
        }
    }
    if args.safety {
        for case in safety::cases(&corpus_dir).map_err(Failure::io)? {
            let cmd = match case.stage.as_str() {
                "process" => &args.process,
                _ => &args.worker,
            };
            let Some(cmd) = cmd else { continue };
            let dir = case_dir().context("cannot create a case dir").map_err(Failure::io)?;
            let name = format!("safety/{}/{}", case.stage, case.name.split('/').next_back().unwrap_or(&case.name));
            report(&mut out, name, without_note(safety::check(cmd, &case, &dir)))?;
        }
    }
    writeln!(out, "{passed} passed, {failed} failed").map_err(Failure::write)?;
    Ok(if failed == 0 { crate::exit::SUCCESS } else { crate::exit::JOB_FAILED })
}

/// A case's outcome with no note to add to its PASS line.
fn without_note(result: anyhow::Result<Result<(), String>>) -> anyhow::Result<Result<Option<String>, String>> {
    result.map(|r| r.map(|()| None))
}

/// The inspector's summary of a whole stream (in-process, for archive listings).
pub fn inspect_summary(runtime: &Runtime, stream: &[u8]) -> anyhow::Result<serde_json::Value> {
    let scratch = tempfile::tempdir()?;
    let grants = [Grant { host_path: scratch.path().to_path_buf(), guest_path: "/scratch", writable: true }];
    let mut instance = runtime.instantiate(&grants, Default::default())?;
    let limits = instance.store.call(|store| instance.codec.runnerwire_codec_types().call_default_limits(store)).map_err(wasm_error)?;
    let api = instance.codec.runnerwire_codec_inspect().inspector();
    let inspector = instance.store.call(|store| api.call_constructor(store, limits)).map_err(wasm_error)?;
    instance.store.call(|store| api.call_push(store, inspector, stream)).map_err(wasm_error)?;
    let tail = instance.store.call(|store| api.call_finish(store, inspector)).map_err(wasm_error)?;
    let last = tail.split(|&b| b == b'\n').filter(|l| !l.is_empty()).next_back().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(last)?;
    Ok(value["summary"].clone())
}

/// A call into the component failed (a trap: out of time or memory, or a bug).
pub fn wasm_error(trapped: Trapped) -> anyhow::Error {
    anyhow::anyhow!("the sandboxed codec failed: {:#}", trapped.into_error())
}
