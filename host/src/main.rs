use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if runnerwire::worker::keeper::invoked() {
        return runnerwire::worker::keeper::main();
    }
    let cli = runnerwire::cli::Cli::parse();
    match runnerwire::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("runnerwire: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}
