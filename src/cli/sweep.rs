//! `flashsale sweep [--watch]`: expired holds give their units back without a console.
//! Once: every due hold now, then exit. `--watch`: the engine's own sweeper keeps at it
//! (woken by deadlines, re-reading them for holds other processes take) until Ctrl-C or
//! SIGTERM, and each return is printed as it happens.

use std::io::Write;
use std::process::ExitCode;

use super::{Cli, SweepArgs};
use crate::engine::{EngineConfig, EngineEvent, ReturnReason};
use crate::error::Result;

pub fn run(cli: &Cli, args: &SweepArgs) -> Result<ExitCode> {
    // Opened without its sweeper: the one below starts after we listen to it.
    let config = EngineConfig {
        sweeper: false,
        ..EngineConfig::default()
    };
    let engine = super::open_engine(cli, config)?;
    let mut out = std::io::stdout().lock();
    if !args.watch {
        let holds = engine.sweep()?;
        writeln!(out, "{}", summary(holds))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "sweeping {} until Ctrl-C or SIGTERM",
        engine.describe()
    )?;
    drop(out);
    let events = engine.subscribe();
    engine.start_sweeper();
    let printer = std::thread::Builder::new().name("sweep-log".into()).spawn(
        move || -> std::io::Result<usize> {
            let mut swept = 0;
            for event in events {
                if let EngineEvent::Returned {
                    reason: ReturnReason::Expired,
                    holds,
                } = event
                {
                    swept += holds.len();
                    let units: i64 = holds.iter().map(crate::hold::Returned::back).sum();
                    let at = chrono::Local::now().format("%H:%M:%S");
                    writeln!(
                        std::io::stdout().lock(),
                        "{at} {} expired, {units} units back on sale",
                        plural(holds.len(), "hold")
                    )?;
                }
            }
            Ok(swept)
        },
    )?;
    wait_for_interrupt()?;
    // Dropping the engine stops its sweeper and ends the event stream.
    drop(engine);
    let holds = printer.join().unwrap_or(Ok(0))?;
    writeln!(std::io::stdout().lock(), "stopped: {}", summary(holds))?;
    Ok(ExitCode::SUCCESS)
}

fn summary(holds: usize) -> String {
    format!("{} expired and returned", plural(holds, "hold"))
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Blocks until Ctrl-C or SIGTERM.
fn wait_for_interrupt() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })
}
