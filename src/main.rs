//! The `flashsale` binary: parse, dispatch, and turn the outcome into an exit code
//! (0 ok, 1 the job failed, 2 bad usage). No panic message reaches a user.
//!
//! Everything here writes to stderr with `writeln!` and ignores the result: when the
//! reader of our output is gone (`flashsale audit 2>&1 | head -1`), `eprintln!` would
//! panic, and a panic inside the panic hook aborts the process (SIGABRT).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use flashsale::cli::{self, Cli};

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr().lock(),
            "error: flashsale hit an internal bug{place}; nothing half-done was committed (every change is one transaction). Please report it."
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help`, `--version` and usage errors; clap's own `exit` panics when
            // its output pipe is closed.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match std::panic::catch_unwind(|| cli::run(&cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) if cli::is_closed_pipe(&e) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            if cli::is_usage(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
        Err(_) => ExitCode::from(1),
    }
}
