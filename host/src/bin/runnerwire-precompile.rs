//! `runnerwire-precompile OUT`: compiles the embedded component for the runtime's engine
//! configuration and writes it to OUT, for the second stage of `make build` to embed.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: runnerwire-precompile OUT");
        return ExitCode::from(runnerwire::exit::USAGE);
    };
    let written = runnerwire::sandbox::precompile().and_then(|bytes| {
        let tmp = std::path::PathBuf::from(format!("{}.tmp", out.to_string_lossy()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &out)?;
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
