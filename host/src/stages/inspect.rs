//! `runnerwire inspect` and `validate`: feed a stream to the component's inspector and
//! print what it finds. The diagnosis is the component's, so every runtime agrees.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{InspectArgs, SandboxArgs};
use crate::exit;
use crate::failure::{Failure, StageResult};
use crate::sandbox::{wit_limits, Grant, LimitArgs, Runtime};

/// What one inspection produced.
pub struct Inspection {
    pub text: String,
    /// `<kind> at byte N, line L: message`, when the stream is not complete and valid.
    pub first_problem: Option<String>,
}

pub fn inspect(args: InspectArgs) -> StageResult {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run_inspector(&args.file, &args.limits, &args.sandbox, true, |lines| {
        if args.json {
            out.write_all(lines).map_err(Failure::write)?;
        }
        Ok(())
    })?;
    if !args.json {
        out.write_all(result.text.as_bytes()).map_err(Failure::write)?;
    }
    out.flush().map_err(Failure::write)?;
    Ok(if result.first_problem.is_some() { exit::BAD_STREAM } else { exit::SUCCESS })
}

pub fn validate(args: crate::cli::ValidateArgs) -> StageResult {
    let result = run_inspector(&args.file, &args.limits, &args.sandbox, false, |_| Ok(()))?;
    match result.first_problem {
        Some(problem) => Err(Failure { code: exit::BAD_STREAM, message: problem }),
        None => Ok(exit::SUCCESS),
    }
}

/// Runs the inspector over a file or stdin; `lines` gets the JSON lines as they come (only
/// the summary line unless `json_lines`).
pub fn run_inspector(
    file: &Option<PathBuf>,
    limits: &LimitArgs,
    sandbox: &SandboxArgs,
    json_lines: bool,
    lines: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<Inspection, Failure> {
    let mut input: Box<dyn Read> = match file.as_ref().filter(|f| f.as_os_str() != "-") {
        Some(path) => Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display())).map_err(Failure::io)?,
        ),
        None => Box::new(std::io::stdin().lock()),
    };
    let runtime = Runtime::new().map_err(Failure::internal)?;
    inspect_stream(&runtime, &mut input, limits, crate::sandbox::budget(&sandbox), json_lines, lines)
}

/// The inspector on any input, in a runtime the caller keeps (the Python module keeps one
/// per process).
pub fn inspect_stream(
    runtime: &Runtime,
    input: &mut dyn Read,
    limits: &LimitArgs,
    budget: crate::sandbox::Budget,
    json_lines: bool,
    mut lines: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<Inspection, Failure> {
    let scratch = super::scratch::scratch_dir("inspect")?;
    let grants = [Grant { host_path: scratch.path().to_path_buf(), guest_path: "/scratch", writable: true }];
    let mut instance = runtime.instantiate(&grants, budget).map_err(Failure::internal)?;
    let defaults = instance.store.call(|store| instance.codec.runnerwire_codec_types().call_default_limits(store))?;
    let api = instance.codec.runnerwire_codec_inspect().inspector();
    let limits = wit_limits(limits, defaults);
    let inspector =
        instance.store.call(|store| if json_lines { api.call_constructor(store, limits) } else { api.call_validator(store, limits) })?;
    super::chunks::each_chunk(input, |chunk| {
        let found = instance.store.call(|store| api.call_push(store, inspector, chunk))?;
        lines(&found)?;
        Ok(std::ops::ControlFlow::Continue(()))
    })?;
    let found = instance.store.call(|store| api.call_finish(store, inspector))?;
    lines(&found)?;
    let text = instance.store.call(|store| api.call_text_report(store, inspector))?;
    let first_problem = instance.store.call(|store| api.call_first_problem(store, inspector))?;
    Ok(Inspection { text, first_problem })
}
