//! `flashsale bench`: every strategy on the same workload, side by side, beside the
//! `limit` row measured in the same run.
//!
//! The workload: `threads` buyer threads in a closed loop (a thread's next buyer arrives
//! when it is free, so latency is per request, from the moment the request starts) take
//! buyers from one counter until `buyers` have tried, or the row's time limit passes.
//! The product has `holds` units and there are 10% more buyers than units, so every
//! strategy both takes holds and turns buyers away, and fairness means something.
//! Each row runs on a fresh temporary database file with the same durability.
//!
//! The `limit` row is the ceiling a strategy is judged against: the same reservation
//! transaction (`BEGIN IMMEDIATE`; read stock; check the per-buyer limit; decrement;
//! insert the hold; `COMMIT`), on one connection, one transaction per hold, in a tight
//! loop with no threads, no engine and no bookkeeping.
//!
//! # Layout
//!
//! - `workload`: the per-strategy row — a swarm ([`crate::swarm`], the one load
//!   driver) in a closed loop, read off its report.
//! - `limit`: the limit row.
//! - `time_limit`: how long a row may run: by default a multiple of the limit row's
//!   time for the same holds.
//! - `expiry`: expiry at scale — many holds due at once, reservations going on meanwhile.
//! - `table`: the printed table and the JSON shape.
//!
//! No terminal code here: the command line prints what [`run`] returns.

mod expiry;
mod limit;
mod server;
mod table;
mod time_limit;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sale::{self, ProductSpec, SaleFile};
use crate::store::{Store, StoreOptions, Synchronous};
use crate::strategy::Strategy;

pub use expiry::ExpiryReport;

/// The product every row sells.
pub const SKU: &str = "BENCH";

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Buyer threads per row (the `limit` row always uses one connection, one thread).
    pub threads: usize,
    /// Units on sale in every row, and so the most holds a row can take.
    pub holds: u64,
    pub synchronous: Synchronous,
    /// The strategies to run, in this order; the `limit` row always runs first.
    pub strategies: Vec<Strategy>,
    /// A row stops taking new buyers after this long (its rate is still honest: holds
    /// taken over time spent); keeps a pathological strategy from stalling the table.
    /// `None`: derived from the limit row of the same run (`time_limit.rs`).
    pub time_limit: Option<Duration>,
    /// How long the gate's sold-out answers are counted after the gate row (zero skips).
    pub gate_probe: Duration,
    /// Active holds that expire together in the expiry scenario (zero skips it).
    pub expiry_holds: u64,
    /// Where the temporary database files go (the system's temporary folder if `None`).
    pub dir: Option<PathBuf>,
    /// Watch every row the way the console does (its read model, `monitor::read`, on a
    /// connection of its own every 200 ms): what a console open on the same process
    /// costs the sale, drawing aside.
    pub watch: bool,
    /// Every winner pays right after its add-to-cart (checkout), as in a sale where
    /// everybody buys: payments and add-to-carts share the writer. Latency stays the
    /// add-to-cart's.
    pub pay: bool,
    /// The engines' WAL bound (`EngineConfig::wal_bound`; zero: the writer checkpoints
    /// inside its commits, SQLite's default).
    pub wal_bound: u64,
    /// `postgres://…`: run every row on this database (emptied before each row)
    /// instead of on temporary files.
    pub server: Option<String>,
    /// `redis://…`: the gate row's count in Redis.
    pub gate: Option<String>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            threads: 1000,
            holds: 20_000,
            synchronous: Synchronous::Full,
            strategies: Strategy::ALL.to_vec(),
            time_limit: None,
            gate_probe: Duration::from_secs(1),
            expiry_holds: 100_000,
            dir: None,
            watch: false,
            pay: false,
            wal_bound: crate::engine::DEFAULT_WAL_BOUND,
            server: None,
            gate: None,
        }
    }
}

impl BenchConfig {
    /// Buyers per row: 10% more than units, at least one more.
    pub fn buyers(&self) -> u64 {
        self.holds + (self.holds / 10).max(1)
    }

    fn check(&self) -> Result<()> {
        if self.threads == 0 {
            return Err(Error::Usage("--threads must be at least 1".into()));
        }
        if self.holds == 0 {
            return Err(Error::Usage("--holds must be at least 1".into()));
        }
        // Each row is a swarm of `buyers()`: 10% more than the units.
        let most = crate::swarm::MAX_BUYERS / 11 * 10;
        if self.holds > most {
            return Err(Error::Usage(format!(
                "--holds must be at most {most} (a row's buyers, 10% more, are one swarm's)"
            )));
        }
        Ok(())
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// A strategy's name, or `limit`.
    pub strategy: String,
    /// Holds committed per second of the row's wall time (for `pay-first`: payments
    /// that claimed a unit, since that is where it takes stock).
    pub holds_per_sec: f64,
    /// `holds_per_sec` over the `limit` row's.
    pub ratio_to_limit: f64,
    /// Latency of one request (add-to-cart; for `pay-first` add-to-cart and payment).
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Units held or paid at the end, from the database.
    pub sold: i64,
    /// Units held or sold beyond the stock, from the database.
    pub oversold: i64,
    /// Of the first `holds` arrivals, the share that won a unit.
    pub fairness: f64,
    pub inversions: u64,
    pub conflicts: u64,
    pub busy: u64,
    pub attempts: u64,
    pub held: u64,
    pub rejected: u64,
    /// Write transactions committed (group commit shows here: far fewer than holds).
    pub commits: u64,
    pub threads: usize,
    pub elapsed_ms: u64,
    /// False when the row's time limit stopped it before every buyer had tried while
    /// units were left (once every unit is taken, the buyers still waiting are the
    /// turned-away ones, and the rate is the whole sale's).
    pub complete: bool,
    /// Orders paid during the row (with `pay`; pay-first's always).
    pub paid: u64,
    /// The largest WAL file the checkpointer saw during the row (0 without one).
    pub wal_peak_bytes: u64,
    /// This process's CPU time per hold: every thread's, the buyer threads' included
    /// (on a database server, the server's own is not counted).
    pub cpu_us_per_hold: f64,
    /// The cores the row kept busy: its CPU time over its wall time.
    pub cores: f64,
    /// The share of the row's selling time the engine's one writer thread spent on a
    /// core, and runnable but waiting for one (none without a writer thread, or where
    /// the kernel keeps no scheduler statistics). The rest it slept: on the disk, or
    /// with nothing to do.
    pub writer_on_cpu: Option<f64>,
    pub writer_waiting_for_cpu: Option<f64>,
    /// Where `cpu_us_per_hold` went: the buyer threads' own part, the writer thread's,
    /// and the waker thread's, which wakes the buyers the writer answered (none for the
    /// `limit` row, or without those threads or the kernel's statistics). The rest is
    /// the checkpointer's, the collector's and the sweeper's.
    pub buyers_cpu_us_per_hold: Option<f64>,
    pub writer_cpu_us_per_hold: Option<f64>,
    pub waker_cpu_us_per_hold: Option<f64>,
    /// The machine's cores over `cpu_us_per_hold`: the most holds a second this row's
    /// way of selling could reach here with every core busy, all else unchanged. A
    /// row near it is bound by the CPU; far below it, by a wait (the disk, a lock).
    pub cpu_ceiling_holds_per_sec: f64,
    /// The rest of the machine over the row's selling time, in cores beside `cores`:
    /// the kernel's and other processes' work, time the hypervisor gave to others
    /// (steal), and idle (none without `/proc/stat`, and for the `limit` row). What
    /// keeps a CPU-bound row below `cpu_ceiling_holds_per_sec` on a virtual machine.
    pub machine_other_cores: Option<f64>,
    pub machine_steal_cores: Option<f64>,
    pub machine_idle_cores: Option<f64>,
}

impl BenchRow {
    /// A strategy's row, read off its swarm's report: every figure is the report's (or
    /// the engine's counters over the run); `ratio_to_limit` is filled in beside the
    /// `limit` row.
    fn of_swarm(run: &crate::swarm::Finished, wal_peak_bytes: u64) -> BenchRow {
        let r = &run.report;
        let writer = run.threads.writer;
        // Pay-first claims stock at payment: its paid units are its holds.
        let held = if r.takes_stock_at_payment() {
            u64::try_from(r.sold).unwrap_or(0)
        } else {
            r.holds_taken
        };
        BenchRow {
            strategy: r.strategy.clone(),
            holds_per_sec: r.claimed_per_sec(),
            ratio_to_limit: 0.0,
            p50_us: r.latency_us.p50,
            p99_us: r.latency_us.p99,
            max_us: r.latency_us.max,
            sold: r.held + r.sold,
            oversold: r.oversold,
            fairness: r.fairness,
            inversions: r.inversions,
            conflicts: r.conflicts,
            busy: r.busy,
            attempts: r.attempts,
            held,
            // A refund is pay-first's late refusal.
            rejected: r.rejected_total() + r.refunds,
            commits: run.counters.commits,
            threads: r.threads,
            elapsed_ms: r.elapsed_ms,
            complete: r.buyer_outcomes.stopped == 0 || r.held + r.sold >= r.stock,
            paid: r.buyer_outcomes.paid,
            wal_peak_bytes,
            cpu_us_per_hold: per_hold(run.cpu, held),
            cores: cores(run.cpu, run.elapsed),
            writer_on_cpu: writer.map(|w| cores(w.on_cpu, run.elapsed)),
            writer_waiting_for_cpu: writer.map(|w| cores(w.waiting_for_cpu, run.elapsed)),
            buyers_cpu_us_per_hold: Some(per_hold(run.buyers_cpu, held)),
            writer_cpu_us_per_hold: writer.map(|w| per_hold(w.on_cpu, held)),
            waker_cpu_us_per_hold: run.threads.waker.map(|w| per_hold(w.on_cpu, held)),
            cpu_ceiling_holds_per_sec: cpu_ceiling(run.cpu, held),
            machine_other_cores: run
                .machine
                .map(|m| cores(m.busy.saturating_sub(run.cpu), run.elapsed)),
            machine_steal_cores: run.machine.map(|m| cores(m.steal, run.elapsed)),
            machine_idle_cores: run.machine.map(|m| cores(m.idle, run.elapsed)),
        }
    }
}

/// Everything one `flashsale bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub synchronous: String,
    /// Whether a console-like watcher read every row while it ran.
    pub watched: bool,
    /// Whether every winner paid right after its add-to-cart.
    pub pay: bool,
    pub wal_bound: u64,
    pub threads: usize,
    pub holds: u64,
    pub buyers: u64,
    /// How long each strategy row could run.
    pub time_limit_ms: u64,
    /// Whether `--time-limit` fixed it (otherwise it came from the limit row).
    pub time_limit_fixed: bool,
    pub rows: Vec<BenchRow>,
    /// The gate's sold-out answers per second once sold out, and whether any of them
    /// touched the database (it must not).
    pub gate_sold_out_per_sec: Option<f64>,
    pub gate_sold_out_touched_db: Option<bool>,
    /// The limit measured again, briefly, after the strategies: a machine whose disk or
    /// CPU changed speed during the run shows here (then compare ratios with care).
    pub limit_at_end_holds_per_sec: f64,
    pub expiry: Option<ExpiryReport>,
}

impl BenchReport {
    pub fn row(&self, strategy: &str) -> Option<&BenchRow> {
        self.rows.iter().find(|r| r.strategy == strategy)
    }

    /// The table, as text.
    pub fn write_text(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        table::write(self, out)
    }
}

/// Runs the bench; `progress` hears each row as it finishes (for a line on stderr).
pub fn run(config: &BenchConfig, mut progress: impl FnMut(&str)) -> Result<BenchReport> {
    config.check()?;
    let base = match &config.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir(),
    };
    let limit = limit::run(config, &base)?;
    progress(&table::line(&limit));
    let limit_rate = limit.holds_per_sec;
    let row_limit = time_limit::for_rows(config, limit_rate);
    let mut rows = vec![limit];
    let mut gate_probe = None;
    for &strategy in &config.strategies {
        let (mut row, probe) = workload::run(config, &base, strategy, row_limit)?;
        row.ratio_to_limit = ratio(row.holds_per_sec, limit_rate);
        progress(&table::line(&row));
        if probe.is_some() {
            gate_probe = probe;
        }
        rows.push(row);
    }
    if let Some(first) = rows.first_mut() {
        first.ratio_to_limit = 1.0;
    }
    let again = limit::run_for(config, &base, config.holds.div_ceil(4))?;
    let limit_at_end = again.holds_per_sec;
    progress(&format!("limit again: {limit_at_end:.0} holds/s"));
    // The expiry scenario reads an SQLite file's deadline index directly.
    let expiry = if config.expiry_holds > 0 && config.server.is_none() {
        let e = expiry::run(config, &base)?;
        progress(&e.line());
        Some(e)
    } else {
        None
    };
    Ok(BenchReport {
        synchronous: if config.server.is_some() {
            "server".to_owned()
        } else {
            config.synchronous.label().to_owned()
        },
        watched: config.watch,
        pay: config.pay,
        wal_bound: config.wal_bound,
        threads: config.threads,
        holds: config.holds,
        buyers: config.buyers(),
        time_limit_ms: millis(row_limit),
        time_limit_fixed: config.time_limit.is_some(),
        rows,
        gate_sold_out_per_sec: gate_probe.map(|p: workload::GateProbe| p.per_sec),
        gate_sold_out_touched_db: gate_probe.map(|p| p.touched_db),
        limit_at_end_holds_per_sec: limit_at_end,
        expiry,
    })
}

/// CPU time per hold, in µs.
fn per_hold(cpu: Duration, holds: u64) -> f64 {
    if holds == 0 {
        0.0
    } else {
        cpu.as_secs_f64() * 1e6 / holds as f64
    }
}

/// The cores this process may use.
fn machine_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Holds a second with every core of this machine busy at `cpu` for `holds`.
fn cpu_ceiling(cpu: Duration, holds: u64) -> f64 {
    ratio(machine_cores() as f64 * holds as f64, cpu.as_secs_f64())
}

fn cores(cpu: Duration, elapsed: Duration) -> f64 {
    ratio(cpu.as_secs_f64(), elapsed.as_secs_f64())
}

fn ratio(rate: f64, limit: f64) -> f64 {
    if limit > 0.0 { rate / limit } else { 0.0 }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The bench's sale: products `(sku, units)`, one unit per buyer, holds that outlive
/// the run.
fn bench_sale(products: &[(&str, i64)]) -> SaleFile {
    SaleFile {
        name: "Bench sale".into(),
        hold_ttl: Duration::from_secs(3600),
        max_per_buyer: 1,
        max_extensions: 0,
        max_hold: None,
        products: products
            .iter()
            .map(|(sku, units)| ProductSpec {
                sku: (*sku).to_owned(),
                name: format!("Bench unit {sku}"),
                price_cents: 100,
                stock: *units,
                max_per_buyer: Some(1),
            })
            .collect(),
    }
}

/// A `limit` row from what it measured.
fn limit_row(
    metrics: &crate::metrics::Metrics,
    stock: &crate::hold::Stock,
    commits: u64,
    (elapsed, cpu): (Duration, Duration),
    complete: bool,
) -> BenchRow {
    let lat = metrics.latency_us();
    BenchRow {
        strategy: "limit".into(),
        holds_per_sec: metrics.held as f64 / elapsed.as_secs_f64().max(1e-9),
        ratio_to_limit: 1.0,
        p50_us: lat.p50,
        p99_us: lat.p99,
        max_us: lat.max,
        sold: stock.held + stock.sold,
        oversold: stock.oversold(),
        fairness: 1.0,
        inversions: 0,
        conflicts: 0,
        busy: 0,
        attempts: metrics.attempts,
        held: metrics.held,
        rejected: metrics.rejected_total(),
        commits,
        threads: 1,
        elapsed_ms: millis(elapsed),
        complete,
        paid: 0,
        wal_peak_bytes: 0,
        cpu_us_per_hold: per_hold(cpu, metrics.held),
        cores: cores(cpu, elapsed),
        writer_on_cpu: None,
        writer_waiting_for_cpu: None,
        buyers_cpu_us_per_hold: None,
        writer_cpu_us_per_hold: None,
        waker_cpu_us_per_hold: None,
        cpu_ceiling_holds_per_sec: cpu_ceiling(cpu, metrics.held),
        machine_other_cores: None,
        machine_steal_cores: None,
        machine_idle_cores: None,
    }
}

/// A row's engine on a fresh sale: a temporary file, or the server's database emptied
/// and loaded again. The folder (for a file) lives as long as the engine is used.
fn fresh_engine(
    base: &Path,
    config: &BenchConfig,
    products: &[(&str, i64)],
    engine: crate::EngineConfig,
) -> Result<(Option<tempfile::TempDir>, crate::Engine)> {
    if let Some(url) = &config.server {
        server::fresh(url, products)?;
        let engine = crate::EngineConfig {
            gate: config.gate.clone(),
            ..engine
        };
        return Ok((None, crate::cli::open_server(url, engine)?));
    }
    let (dir, store) = fresh_db(base, config, products)?;
    Ok((Some(dir), crate::Engine::open(store, engine)?))
}

/// A fresh database in its own temporary folder (removed when the folder is dropped),
/// holding one sale: products `(sku, units)`, one unit per buyer, holds that outlive
/// the run.
fn fresh_db(
    base: &Path,
    config: &BenchConfig,
    products: &[(&str, i64)],
) -> Result<(tempfile::TempDir, Store)> {
    let dir = tempfile::Builder::new()
        .prefix("flashsale-bench-")
        .tempdir_in(base)
        .map_err(|e| Error::CannotOpen {
            path: base.to_path_buf(),
            why: format!("cannot make a temporary folder there: {e}"),
        })?;
    let path = dir.path().join("bench.db");
    let options = StoreOptions {
        synchronous: config.synchronous,
        ..StoreOptions::default()
    };
    let (store, _) = Store::open(&path, options)?;
    let sale = bench_sale(products);
    let mut conn = store.dedicated()?;
    sale::load(&mut conn, &sale, crate::Clock::real().now())?;
    Ok((dir, store))
}

fn units(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
