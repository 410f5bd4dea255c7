use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Cli, SwarmArgs};
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use crate::swarm::{self, Arrival, Behaviour, SwarmConfig, SwarmReport};
use crate::{Clock, Strategy};

/// More threads than this add nothing (buyers beyond the machine's cap share threads).
const MAX_THREADS: i64 = 1_000_000;
const MAX_WARP: i64 = 1_000_000;

/// `value` if it lies in `lo..=hi`, else a usage error naming the flag and the bounds.
fn within(flag: &str, value: i64, lo: i64, hi: i64) -> Result<i64> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(Error::Usage(format!(
            "--{flag} must be a whole number from {lo} to {hi} (got {value})"
        )))
    }
}

/// Every number on the command line, checked before the database is opened.
fn checked(args: &SwarmArgs) -> Result<(SwarmConfig, EngineConfig)> {
    let max_buyers = i64::try_from(swarm::MAX_BUYERS).unwrap_or(i64::MAX);
    let buyers = within("buyers", args.buyers, 1, max_buyers)?;
    let threads = args
        .threads
        .map(|t| within("threads", t, 1, MAX_THREADS))
        .transpose()?;
    let stock = args
        .stock
        .map(|s| within("stock", s, 0, crate::hold::MAX_STOCK))
        .transpose()?;
    let qty = within("qty", args.qty, 1, crate::hold::MAX_STOCK)?;
    let warp = within("warp", args.warp, 1, MAX_WARP)?;
    if let Some(ttl) = args.hold_ttl {
        crate::sale::check_hold_ttl(ttl)
            .map_err(|why| Error::Usage(format!("--hold-ttl {why}")))?;
    }
    let mut swarm = SwarmConfig::new("", u64::try_from(buyers).unwrap_or(1));
    swarm.stock = stock;
    swarm.threads = threads.map(|t| usize::try_from(t).unwrap_or(usize::MAX));
    swarm.qty = qty;
    swarm.behaviour = Behaviour::from_flags(args.pay, args.abandon, args.cancel, args.pay_fail);
    swarm.arrival = args.arrival_rate.map_or(Arrival::Burst, Arrival::Rate);
    swarm.retry = args.retry;
    swarm.wait_expiry = args.wait_expiry;
    swarm.seed = args.seed;
    // The rest (the arrival rate's span, the behaviour weights) as the library checks it.
    swarm.check()?;
    let engine = EngineConfig {
        strategy: args.strategy,
        clock: Clock::real().with_warp(u32::try_from(warp).unwrap_or(u32::MAX)),
        race_window: args.race_window,
        hold_ttl: args.hold_ttl,
        ..EngineConfig::default()
    };
    Ok((swarm, engine))
}

pub fn run(cli: &Cli, args: &SwarmArgs) -> Result<ExitCode> {
    let (mut swarm, config) = checked(args)?;
    if let Some(target) = &args.target {
        // Over HTTP: the target's sale, its first product unless --sku says.
        swarm.sku = match &args.sku {
            Some(sku) => sku.clone(),
            None => swarm::http::first_sku(target)?,
        };
        let report = swarm::http::run(target, &swarm)?;
        print(&report, args.json)?;
        return Ok(exit_code(args, &report));
    }
    let engine = super::open_engine(cli, config)?;
    swarm.sku = match &args.sku {
        Some(s) => s.clone(),
        None => engine
            .products()
            .first()
            .map(|p| p.sku.clone())
            .ok_or_else(|| Error::Usage("the sale has no products".into()))?,
    };
    let report = run_with_progress(&engine, &swarm)?;
    print(&report, args.json)?;
    Ok(exit_code(args, &report))
}

/// 1 when `--fail-on-oversell` and this run oversold, as a load tool's threshold would.
fn exit_code(args: &SwarmArgs, report: &SwarmReport) -> ExitCode {
    if args.fail_on_oversell && report.oversold > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print(report: &SwarmReport, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        super::write_json(&mut out, report)?;
    } else {
        report.write_text(&mut out)?;
    }
    Ok(())
}

/// Runs the swarm with a progress bar on stderr when it is a terminal.
pub fn run_with_progress(engine: &crate::Engine, config: &SwarmConfig) -> Result<SwarmReport> {
    let handle = swarm::start(engine, config)?;
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(config.buyers);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} buyers  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        while !handle.is_finished() {
            let live = handle.live();
            let secs = live.elapsed.as_secs_f64().max(1e-3);
            bar.set_position(live.buyers_done);
            bar.set_message(format!(
                "holds {}  sold {}  {:.0} buyers/s",
                live.held,
                live.paid,
                live.buyers_done as f64 / secs
            ));
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }
    handle.join()
}

/// `cargo run --release` with no command: a short demo swarm on the default database.
pub fn demo(cli: &Cli) -> Result<ExitCode> {
    let engine = super::open_engine(
        cli,
        EngineConfig {
            strategy: Strategy::Immediate,
            ..EngineConfig::default()
        },
    )?;
    let sku = engine
        .products()
        .first()
        .map(|p| p.sku.clone())
        .unwrap_or_default();
    let mut config = SwarmConfig::new(&sku, 5000);
    config.stock = Some(50);
    writeln!(
        std::io::stdout().lock(),
        "Demo: 5,000 bot buyers race for 50 units with the immediate strategy ({}).",
        cli.db.display()
    )?;
    let report = run_with_progress(&engine, &config)?;
    print(&report, false)?;
    Ok(ExitCode::SUCCESS)
}
