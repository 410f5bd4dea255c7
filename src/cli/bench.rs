use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use super::{BenchArgs, Cli};
use crate::bench::{self, BenchConfig};
use crate::error::Result;

pub fn run(cli: &Cli, args: &BenchArgs) -> Result<ExitCode> {
    let defaults = BenchConfig::default();
    let config = BenchConfig {
        threads: args.threads,
        holds: args.holds,
        synchronous: cli.synchronous,
        strategies: if args.strategy.is_empty() {
            defaults.strategies.clone()
        } else {
            args.strategy.clone()
        },
        time_limit: args.time_limit,
        gate_probe: args.gate_probe,
        expiry_holds: args.expiry_holds,
        dir: args.dir.clone(),
        watch: args.watch,
        pay: args.pay,
        wal_bound: args.wal_bound_mib.saturating_mul(1024 * 1024),
        server: super::server_url(&cli.db).map(str::to_owned),
        gate: cli.gate.clone(),
    };
    // Rows as they finish, when someone is watching; the table itself goes to stdout.
    let chatty = std::io::stderr().is_terminal();
    let report = bench::run(&config, |line| {
        if chatty {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        super::write_json(&mut out, &report)?;
    } else {
        report.write_text(&mut out)?;
    }
    let oversold_safe = report
        .rows
        .iter()
        .filter(|r| r.strategy != "naive" && r.strategy != "limit")
        .any(|r| r.oversold > 0);
    if oversold_safe {
        // The job failed: a safe strategy broke the books.
        let _ = writeln!(
            std::io::stderr(),
            "error: a safe strategy oversold during the bench (see the oversold column)"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
