//! The `flashsale` binary: parse, dispatch, and turn the outcome into an exit code
//! (0 ok, 1 the job failed, 2 bad usage). No panic message reaches a user.

use std::process::ExitCode;

use clap::Parser;
use flashsale::cli::{self, Cli};

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: flashsale hit an internal bug{place}; nothing half-done was committed (every change is one transaction). Please report it."
        );
    }));
    let cli = Cli::parse();
    match std::panic::catch_unwind(|| cli::run(&cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            if cli::is_usage(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
        Err(_) => ExitCode::from(1),
    }
}
