use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Cli, SwarmArgs};
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use crate::swarm::{self, Arrival, Behaviour, SwarmConfig, SwarmReport};
use crate::{Clock, Strategy};

pub fn run(cli: &Cli, args: &SwarmArgs) -> Result<ExitCode> {
    if let Some(rate) = args.arrival_rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(Error::Usage(
            "--arrival-rate must be a number of buyers per second above 0".into(),
        ));
    }
    if args.stock.is_some_and(|s| s < 0) {
        return Err(Error::Usage("--stock cannot be negative".into()));
    }
    let behaviour = Behaviour {
        pay: args.pay,
        abandon: args.abandon,
        cancel: args.cancel,
        pay_fail: args.pay_fail,
    };
    behaviour.validate().map_err(Error::Usage)?;
    if let Some(target) = &args.target {
        // Over HTTP: the target's sale, its first product unless --sku says.
        let sku = match &args.sku {
            Some(sku) => sku.clone(),
            None => swarm::http::first_sku(target)?,
        };
        let report = swarm::http::run(target, &swarm_config(args, behaviour, &sku))?;
        print(&report, args.json)?;
        return Ok(exit_code(args, &report));
    }
    let config = EngineConfig {
        strategy: args.strategy,
        clock: Clock::real().with_warp(args.warp),
        race_window: args.race_window,
        hold_ttl: args.hold_ttl,
        ..EngineConfig::default()
    };
    let engine = super::open_engine(&cli.db, cli.synchronous, config)?;
    let sku = match &args.sku {
        Some(s) => s.clone(),
        None => engine
            .products()
            .first()
            .map(|p| p.sku.clone())
            .ok_or_else(|| Error::Usage("the sale has no products".into()))?,
    };
    let report = run_with_progress(&engine, &swarm_config(args, behaviour, &sku))?;
    print(&report, args.json)?;
    Ok(exit_code(args, &report))
}

fn swarm_config(args: &SwarmArgs, behaviour: Behaviour, sku: &str) -> SwarmConfig {
    let mut swarm = SwarmConfig::new(sku, args.buyers);
    swarm.stock = args.stock;
    swarm.threads = args.threads;
    swarm.qty = args.qty;
    swarm.behaviour = behaviour;
    swarm.arrival = args.arrival_rate.map_or(Arrival::Burst, Arrival::Rate);
    swarm.retry = args.retry;
    swarm.wait_expiry = args.wait_expiry;
    swarm.seed = args.seed;
    swarm
}

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
        serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::other)?;
        println!();
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
            let p = &handle.progress;
            let done = p.buyers_done.load(std::sync::atomic::Ordering::Relaxed);
            let holds = p.holds.load(std::sync::atomic::Ordering::Relaxed);
            let orders = p.orders.load(std::sync::atomic::Ordering::Relaxed);
            let secs = handle.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(done);
            bar.set_message(format!(
                "holds {holds}  sold {orders}  {:.0} buyers/s",
                done as f64 / secs
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
        &cli.db,
        cli.synchronous,
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
    println!(
        "Demo: 5,000 bot buyers race for 50 units with the immediate strategy ({}).",
        cli.db.display()
    );
    let report = run_with_progress(&engine, &config)?;
    print(&report, false)?;
    Ok(ExitCode::SUCCESS)
}
