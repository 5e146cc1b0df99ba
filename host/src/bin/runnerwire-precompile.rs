//! `runnerwire-precompile [--target TRIPLE] OUT`: compiles the embedded component for the
//! runtime's engine configuration and writes it to OUT, for the second stage of `make build`
//! to embed. `--target` compiles it for another architecture's build (`make dist` makes the
//! aarch64 CLI's on an x86_64 machine); the default is this binary's own target.

use std::process::ExitCode;

const USAGE: &str = "usage: runnerwire-precompile [--target TRIPLE] OUT";

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (target, out) = match args.as_slice() {
        [out] => (runnerwire::sandbox::BUILD_TARGET.to_string(), out),
        [flag, target, out] if flag == "--target" => (target.to_string_lossy().into_owned(), out),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(runnerwire::exit::USAGE);
        }
    };
    let written = runnerwire::sandbox::precompile(&target).and_then(|bytes| {
        let tmp = std::path::PathBuf::from(format!("{}.tmp", out.to_string_lossy()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, out)?;
        Ok(())
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runnerwire-precompile: {e:#}");
            ExitCode::from(runnerwire::exit::INTERNAL)
        }
    }
}
