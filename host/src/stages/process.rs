//! `runnerwire process`: prepare the directories upstream prepares, then feed stdin to the
//! component and print what it hands back.

use std::io::{Read, Write};

use anyhow::Context;

use crate::cli::ProcessArgs;
use crate::exit;
use crate::failure::{Failure, StageResult};
use crate::sandbox::{wit_limits, wit_process, Grant, Runtime};
use super::paths::absolute;

pub fn run(args: ProcessArgs) -> StageResult {
    let runtime = Runtime::new().map_err(Failure::internal)?;
    let cwd = std::env::current_dir().context("cannot read the current directory").map_err(Failure::io)?;
    process(&runtime, &args, &cwd, &mut std::io::stdin().lock(), &mut std::io::stdout().lock())
}

/// The stage on any input and output (`run` gives it stdin and stdout); relative paths in
/// `args` resolve against `cwd`.
pub fn process(runtime: &Runtime, args: &ProcessArgs, cwd: &std::path::Path, input: &mut dyn Read, out: &mut dyn Write) -> StageResult {
    let pdd = absolute(cwd, &args.private_data_dir);
    prepare_private_data_dir(&pdd).map_err(Failure::io)?;

    let budget = crate::sandbox::budget(&args.sandbox);
    // The artifact-dir rule is format logic: ask the component, with nothing granted.
    let mut probe = runtime.instantiate(&[], budget).map_err(Failure::internal)?;
    let artifact_dir = probe.store.call(|store| {
        probe.codec.runnerwire_codec_process().call_artifact_dir(
            store,
            &cwd.to_string_lossy(),
            &pdd.to_string_lossy(),
            args.ident.as_deref(),
            args.artifact_dir.as_ref().map(|p| p.to_string_lossy().into_owned()).as_deref(),
        )
    })?;
    let defaults = probe.store.call(|store| probe.codec.runnerwire_codec_types().call_default_limits(store))?;
    drop(probe);
    std::fs::create_dir_all(&artifact_dir)
        .with_context(|| format!("cannot create the artifact dir {artifact_dir}"))
        .map_err(Failure::io)?;

    let scratch = super::scratch::scratch_dir("process")?;
    let grants = Grant::with_scratch(std::path::Path::new(&artifact_dir), "/artifacts", true, scratch.path());
    let mut instance = runtime.instantiate(&grants, budget).map_err(Failure::internal)?;
    let api = instance.codec.runnerwire_codec_process().processor();
    let limits = wit_limits(&args.limits, defaults);
    let processor = instance.store.call(|store| {
        if args.resume {
            api.call_resuming(store, limits, args.quiet)
        } else {
            api.call_constructor(store, limits, args.quiet)
        }
    })?;

    super::chunks::each_chunk(input, |chunk| {
        let printed = instance.store.call(|store| api.call_feed(store, processor, chunk))?;
        let printed = printed.map_err(|fault| print_then_fail(out, fault))?;
        out.write_all(&printed).map_err(Failure::write)?;
        // Like upstream, stop at eof: the writer may keep the pipe open.
        let complete = instance.store.call(|store| api.call_complete(store, processor))?;
        Ok(if complete { std::ops::ControlFlow::Break(()) } else { std::ops::ControlFlow::Continue(()) })
    })?;
    let (printed, outcome) = instance
        .store
        .call(|store| api.call_finish(store, processor))?
        .map_err(|fault| print_then_fail(out, fault))?;
    out.write_all(&printed).map_err(Failure::write)?;
    out.flush().map_err(Failure::write)?;
    let _ = instance.store.call(|store| processor.resource_drop(store));
    Ok(match outcome.status.as_deref() {
        Some("successful") => exit::SUCCESS,
        _ => match outcome.rc {
            Some(rc) if rc != 0 => u8::try_from(rc).unwrap_or(exit::JOB_FAILED),
            _ => exit::JOB_FAILED,
        },
    })
}

/// Prints the stdout of the events before a fault (they were written), then fails.
fn print_then_fail(out: &mut dyn Write, fault: wit_process::Fault) -> Failure {
    let _ = out.write_all(&fault.printed).and_then(|_| out.flush());
    Failure::stream(fault.error)
}

/// What upstream's CLI does before processing (the policy's steps: the private data dir,
/// 0700, and an empty `daemon.log`, 0600). The Python package's `process` calls this too.
pub fn prepare_private_data_dir(pdd: &std::path::Path) -> anyhow::Result<()> {
    super::paths::prepare(&runnerwire_policy::prepare::for_process(pdd))
}
