//! `runnerwire._native`: the host crate the CLI is built from, exposed to Python. The same
//! wasmtime engine, the same embedded precompiled component, the same sandbox (grants,
//! memory, time budget); the Python package (`runnerwire/__init__.py`) names things as
//! ansible-runner's users expect.
//!
//! Errors cross as plain values, not exceptions, so the Python layer decides what each one
//! becomes (upstream's Processor turns a bad stream into an `error` status):
//! `("stream", kind, problem, offset, line, message, printed, exit_code, job_explanation)` for a bad
//! stream (`printed`: the one line the CLI prints; `job_explanation`: upstream's words for it,
//! then that line), `("codec", message)` for a trap.

mod pyvalue;

use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use runnerwire::failure::Failure;
use runnerwire::sandbox::{wit_limits, wit_process, wit_types, Budget, Grant, LimitArgs, Runtime, Trapped};
use runnerwire::stages;

/// One runtime per process: the engine, the component (deserialized once) and the linker.
static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn runtime() -> PyResult<&'static Runtime> {
    RUNTIME
        .get_or_init(|| Runtime::new().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(e.clone()))
}

/// What went wrong, as the Python layer receives it.
enum Problem {
    Stream(wit_types::StreamError),
    Codec(String),
    Python(PyErr),
}

impl From<PyErr> for Problem {
    fn from(e: PyErr) -> Self {
        Problem::Python(e)
    }
}

/// `?` on a call into the component: a trap crosses as the CLI would word it.
impl From<Trapped> for Problem {
    fn from(trapped: Trapped) -> Self {
        Problem::Codec(Failure::from(trapped).message)
    }
}

fn problem_value<'py>(py: Python<'py>, problem: Problem) -> PyResult<Bound<'py, PyTuple>> {
    match problem {
        Problem::Stream(e) => {
            let kind = runnerwire::failure::policy_kind(e.kind);
            let line = runnerwire::failure::describe(&e);
            let explanation = runnerwire::failure::job_explanation(&e);
            let problem = runnerwire::failure::problem(&e).name();
            ("stream", kind.name(), problem, e.offset, e.line, e.message, line, kind.exit_code(), explanation).into_pyobject(py)
        }
        Problem::Codec(message) => ("codec", message).into_pyobject(py),
        Problem::Python(e) => Err(e),
    }
}

/// The sandbox budget from the Python package's `sandbox` dict.
fn budget(max_memory_bytes: Option<usize>, step_timeout: Option<f64>) -> Budget {
    let default = Budget::default();
    Budget {
        max_memory_bytes: max_memory_bytes.unwrap_or(default.max_memory_bytes),
        call_timeout: step_timeout.filter(|t| *t > 0.0).map(Duration::from_secs_f64).unwrap_or(default.call_timeout),
    }
}

/// The caller's limits (names as the CLI's options, with underscores; None: the codec's
/// default).
fn limit_args(overrides: Option<&Bound<'_, PyDict>>) -> PyResult<LimitArgs> {
    let mut l = LimitArgs::default();
    if let Some(d) = overrides {
        for (key, value) in d.iter() {
            let key: String = key.extract()?;
            match key.as_str() {
                "max_line_bytes" => l.max_line_bytes = value.extract()?,
                "max_archive_bytes" => l.max_archive_bytes = value.extract()?,
                "max_entries" => l.max_entries = value.extract()?,
                "max_unpacked_bytes" => l.max_unpacked_bytes = value.extract()?,
                "max_compression_ratio" => l.max_compression_ratio = value.extract()?,
                "max_json_depth" => l.max_json_depth = value.extract()?,
                other => return Err(pyo3::exceptions::PyValueError::new_err(format!("no such limit: {other}"))),
            }
        }
    }
    Ok(l)
}

/// A failure of the host (not of the stream's format), as `("failure", exit code, message)`.
fn failure_value(py: Python<'_>, f: Failure) -> PyResult<Bound<'_, PyTuple>> {
    ("failure", f.code, f.message).into_pyobject(py)
}

/// The inspector over the file at `path`: `on_lines(bytes)` gets the `inspect --json` lines
/// as they come (only the summary line unless `json_lines`). Returns
/// `("report", text, first_problem)` or `("failure", code, message)`.
#[pyfunction]
#[pyo3(signature = (path, *, json_lines=true, on_lines=None, limits=None, max_memory_bytes=None, step_timeout=None))]
fn inspect<'py>(
    py: Python<'py>,
    path: &str,
    json_lines: bool,
    on_lines: Option<Bound<'py, PyAny>>,
    limits: Option<&Bound<'py, PyDict>>,
    max_memory_bytes: Option<usize>,
    step_timeout: Option<f64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let runtime = runtime()?;
    let limits = limit_args(limits)?;
    let mut input = match open_source(path) {
        Ok(f) => f,
        Err(e) => return failure_value(py, Failure { code: runnerwire::exit::IO_ERROR, message: format!("cannot open {path}: {e}") }),
    };
    let mut raised: Option<PyErr> = None;
    let on_lines = on_lines.map(Bound::unbind);
    let budget = budget(max_memory_bytes, step_timeout);
    // Without the GIL (the input may be a pipe a Python thread feeds); back with it per batch
    // of lines.
    let result = py.detach(|| {
        stages::inspect::inspect_stream(runtime, &mut input, &limits, budget, json_lines, |lines| {
            if let (Some(f), false) = (&on_lines, lines.is_empty()) {
                if let Err(e) = Python::attach(|py| f.call1(py, (PyBytes::new(py, lines),)).map(drop)) {
                    raised = Some(e);
                    return Err(Failure { code: runnerwire::exit::INTERNAL, message: String::new() });
                }
            }
            Ok(())
        })
    });
    if let Some(e) = raised {
        return Err(e);
    }
    match result {
        Ok(found) => ("report", found.text, found.first_problem).into_pyobject(py),
        Err(f) => failure_value(py, f),
    }
}

/// Opens a source the Python layer named: a path, or `/proc/self/fd/N#OFFSET` for a file
/// object over a regular file, read from OFFSET (where the Python object stands).
fn open_source(path: &str) -> std::io::Result<std::fs::File> {
    use std::io::Seek;
    if let Some((file, offset)) = path.strip_prefix("/proc/self/fd/").and_then(|rest| rest.split_once('#')) {
        let offset: u64 = offset.parse().map_err(|_| std::io::Error::other("bad offset"))?;
        let mut f = std::fs::File::open(format!("/proc/self/fd/{file}"))?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        return Ok(f);
    }
    std::fs::File::open(path)
}

/// Upstream's rule for the artifact directory, from the component.
#[pyfunction]
#[pyo3(signature = (cwd, private_data_dir, ident=None, artifact_dir=None))]
fn artifact_dir(cwd: &str, private_data_dir: &str, ident: Option<&str>, artifact_dir: Option<&str>) -> PyResult<String> {
    let runtime = runtime()?;
    let mut probe = runtime.instantiate(&[], Budget::default()).map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
    probe
        .store
        .call(|store| probe.codec.runnerwire_codec_process().call_artifact_dir(store, cwd, private_data_dir, ident, artifact_dir))
        .map_err(|trapped| PyRuntimeError::new_err(Failure::from(trapped).message))
}

/// The `process` stage one step at a time over the component's stepper, the stream read
/// from `path` as the component's stdin (it never crosses the boundary). Per step:
/// `on_status(dict)`; `on_event(dict)` (the event as `json.loads` gives it; a false result
/// keeps its file from being written), after `on_printed(text)` with its stdout unless
/// `quiet`; `on_artifacts()`. Any of them may be None. Returns
/// `("end", status, rc, events_written)` or a problem tuple (see the module doc); an
/// exception raised by a callback propagates.
#[pyfunction]
#[pyo3(signature = (path, artifact_dir, scratch, *, quiet=false, resume=false, limits=None, max_memory_bytes=None, step_timeout=None,
                    on_status=None, on_event=None, on_printed=None, on_artifacts=None))]
#[allow(clippy::too_many_arguments)]
fn process_steps<'py>(
    py: Python<'py>,
    path: &str,
    artifact_dir: &str,
    scratch: &str,
    quiet: bool,
    resume: bool,
    limits: Option<&Bound<'py, PyDict>>,
    max_memory_bytes: Option<usize>,
    step_timeout: Option<f64>,
    on_status: Option<Bound<'py, PyAny>>,
    on_event: Option<Bound<'py, PyAny>>,
    on_printed: Option<Bound<'py, PyAny>>,
    on_artifacts: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let runtime = runtime()?;
    let input = open_source(path).map_err(|e| PyRuntimeError::new_err(format!("cannot open {path}: {e}")))?;
    // A pipe may be fed by a Python thread: the GIL goes while the component reads it. A
    // regular file never waits on Python, and keeping the GIL saves a hand-over per step.
    let may_block = !input.metadata().map(|m| m.is_file()).unwrap_or(false);
    let grants = Grant::with_scratch(std::path::Path::new(artifact_dir), "/artifacts", true, std::path::Path::new(scratch));
    let mut instance = runtime
        .instantiate_reading(&grants, budget(max_memory_bytes, step_timeout), input)
        .map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
    let loads = py.import("json")?.getattr("loads")?;
    let mut values = pyvalue::Builder::default();
    let result = (|| -> Result<wit_process::Outcome, Problem> {
        let defaults = instance.store.call(|store| instance.codec.runnerwire_codec_types().call_default_limits(store))?;
        let limits = wit_limits(&limit_args(limits)?, defaults);
        let api = instance.codec.runnerwire_codec_process().stepper();
        let stepper = instance.store.call(|store| {
            if resume {
                api.call_resuming(store, limits, quiet)
            } else {
                api.call_constructor(store, limits, quiet)
            }
        })?;
        let outcome = loop {
            // Without the GIL: the component may block reading the stream from a pipe that a
            // Python thread feeds (a file object as `_input`).
            let store = &mut instance.store;
            let mut next = || store.call(|store| api.call_next(store, stepper));
            let step = if may_block { py.detach(next) } else { next() };
            let step = step?.map_err(Problem::Stream)?;
            match step {
                wit_process::Step::Status(json) => {
                    if let Some(f) = &on_status {
                        f.call1((loads.call1((json,))?,))?;
                    }
                }
                wit_process::Step::Event(event) => {
                    if let (Some(f), Some(text)) = (&on_printed, event.printed) {
                        f.call1((text,))?;
                    }
                    if let Some(f) = &on_event {
                        let event = match values.value(py, &event.json) {
                            Some(value) => value,
                            None => loads.call1((event.json,))?,
                        };
                        let keep = f.call1((event,))?;
                        if !keep.is_truthy()? {
                            instance.store.call(|store| api.call_skip_event(store, stepper))?;
                        }
                    }
                }
                wit_process::Step::Artifacts => {
                    if let Some(f) = &on_artifacts {
                        f.call0()?;
                    }
                }
                wit_process::Step::End(outcome) => break outcome,
            }
        };
        let _ = instance.store.call(|store| stepper.resource_drop(store));
        Ok(outcome)
    })();
    match result {
        Ok(o) => ("end", o.status, o.rc, o.events_written, o.exit_code).into_pyobject(py),
        Err(problem) => problem_value(py, problem),
    }
}

/// A `Write` over the stream that drops its first line: the kwargs line is the Python
/// layer's (upstream's Python API dumps the caller's own kwargs).
struct SkipFirstLine<W> {
    inner: W,
    in_first_line: bool,
}

impl<W: std::io::Write> std::io::Write for SkipFirstLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        let rest = if self.in_first_line {
            match buf.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.in_first_line = false;
                    &buf[end + 1..]
                }
                None => return Ok(n),
            }
        } else {
            buf
        };
        if !rest.is_empty() {
            self.inner.write_all(rest)?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A `Write` that hands its bytes to a Python callable; what it raised is kept for the
/// caller to re-raise.
struct PyWriter<'py> {
    write: Bound<'py, PyAny>,
    raised: Option<PyErr>,
}

impl std::io::Write for PyWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Err(e) = self.write.call1((PyBytes::new(self.write.py(), buf),)) {
            self.raised = Some(e);
            return Err(std::io::Error::other("the output's write raised"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The job stream's private data dir archive and eof line for `private_data_dir` (absolute),
/// as upstream's `stream_dir` sends it, to `write(bytes)`, or straight to the file
/// descriptor `fd` when the output has one (a file, AWX's socket), without the GIL; large
/// files packed on all cores. Returns None, or `("failure", code, message)`.
#[pyfunction]
#[pyo3(signature = (private_data_dir, write, *, fd=None, max_memory_bytes=None, step_timeout=None))]
fn transmit_archive<'py>(
    py: Python<'py>,
    private_data_dir: &str,
    write: Bound<'py, PyAny>,
    fd: Option<i32>,
    max_memory_bytes: Option<usize>,
    step_timeout: Option<f64>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let runtime = runtime()?;
    // The CLI's own request for a bare `transmit PDD` (the archive is all this call writes:
    // the package writes upstream's kwargs line itself).
    let args = runnerwire::cli::TransmitArgs { private_data_dir: private_data_dir.into(), ..Default::default() };
    let (_, request) = match stages::transmit::request_for(args, &std::env::current_dir().unwrap_or_else(|_| "/".into())) {
        Ok(made) => made,
        Err(f) => return failure_value(py, f).map(Some),
    };
    let budget = budget(max_memory_bytes, step_timeout);
    let pdd = std::path::Path::new(private_data_dir);
    let result = if let Some(fd) = fd {
        // Borrowed: the caller's file object still owns (and closes) the descriptor.
        use std::os::fd::FromRawFd;
        let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        let mut out = SkipFirstLine { inner: std::io::BufWriter::with_capacity(1 << 20, &*file), in_first_line: true };
        py.detach(|| stages::transmit::transmit(runtime, pdd, &request, budget, &mut out).and_then(|_| {
            std::io::Write::flush(&mut out).map_err(|e| Failure { code: runnerwire::exit::IO_ERROR, message: format!("cannot write the output: {e}") })
        }))
    } else {
        let mut out = SkipFirstLine { inner: PyWriter { write, raised: None }, in_first_line: true };
        let result = stages::transmit::transmit(runtime, pdd, &request, budget, &mut out);
        if let Some(e) = out.inner.raised {
            return Err(e);
        }
        result.map(drop)
    };
    match result {
        Ok(_) => Ok(None),
        Err(f) => failure_value(py, f).map(Some),
    }
}

/// What the CLI's `process` does to the private data dir first (made 0700, an empty
/// `daemon.log`): the host's own step.
#[pyfunction]
fn prepare_private_data_dir(pdd: &str) -> PyResult<()> {
    stages::process::prepare_private_data_dir(std::path::Path::new(pdd)).map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{e:#}")))
}

/// The exit codes by name (`EXIT.SUCCESS`, ...), as every runtime's CLI ends.
#[pyfunction]
fn exit_codes() -> Vec<(&'static str, u8)> {
    runnerwire::exit::NAMED.to_vec()
}

/// `python -m runnerwire`'s arguments, parsed by the native CLI's own grammar:
/// `("command", name, {argument: value})`, or `("exit", text, exit_code, to_stdout)` for
/// help, the version or a usage error.
#[pyfunction]
fn parse_cli<'py>(py: Python<'py>, argv: Vec<String>) -> PyResult<Bound<'py, PyTuple>> {
    use runnerwire::cli::PortableCommand;
    let command = match runnerwire::cli::parse_portable(argv) {
        Ok(command) => command,
        Err(early) => return ("exit", early.text, early.exit_code, early.to_stdout).into_pyobject(py),
    };
    let args = PyDict::new(py);
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let (name, limits, sandbox) = match &command {
        PortableCommand::Inspect(a) => {
            args.set_item("file", a.file.as_deref().map(path))?;
            args.set_item("json", a.json)?;
            ("inspect", &a.limits, &a.sandbox)
        }
        PortableCommand::Validate(a) => {
            args.set_item("file", a.file.as_deref().map(path))?;
            ("validate", &a.limits, &a.sandbox)
        }
        PortableCommand::Process(a) => {
            args.set_item("private_data_dir", path(&a.private_data_dir))?;
            args.set_item("ident", a.ident.as_deref())?;
            args.set_item("artifact_dir", a.artifact_dir.as_deref().map(path))?;
            args.set_item("quiet", a.quiet)?;
            args.set_item("resume", a.resume)?;
            ("process", &a.limits, &a.sandbox)
        }
    };
    // Only what was given: the package fills the rest from the codec's defaults.
    let given = PyDict::new(py);
    let l = limits;
    for (key, value) in [
        ("max_line_bytes", l.max_line_bytes),
        ("max_archive_bytes", l.max_archive_bytes),
        ("max_entries", l.max_entries),
        ("max_unpacked_bytes", l.max_unpacked_bytes),
        ("max_compression_ratio", l.max_compression_ratio.map(u64::from)),
        ("max_json_depth", l.max_json_depth.map(u64::from)),
    ] {
        if let Some(value) = value {
            given.set_item(key, value)?;
        }
    }
    args.set_item("limits", given)?;
    let budget = PyDict::new(py);
    budget.set_item("max_memory_bytes", sandbox.max_memory_bytes)?;
    budget.set_item("step_timeout", sandbox.step_timeout)?;
    args.set_item("sandbox", budget)?;
    ("command", name, args).into_pyobject(py)
}

/// What upstream's Processor tells its status handler when reading the stream raised an
/// error with this text.
#[pyfunction]
fn read_error_explanation(error: &str) -> String {
    runnerwire::failure::read_error_explanation(error)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_error_explanation, m)?)?;
    m.add_function(wrap_pyfunction!(exit_codes, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_private_data_dir, m)?)?;
    m.add_function(wrap_pyfunction!(parse_cli, m)?)?;
    m.add_function(wrap_pyfunction!(artifact_dir, m)?)?;
    m.add_function(wrap_pyfunction!(process_steps, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(transmit_archive, m)?)?;
    Ok(())
}
