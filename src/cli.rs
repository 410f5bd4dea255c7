//! The command line: flags and the commands behind them. `main.rs` only parses and maps
//! the outcome to an exit code: 0 ok, 1 the job failed, 2 bad usage.

mod audit;
mod bench;
mod init;
mod log;
mod open;
mod runs;
mod serve;
mod swarm;
mod sweep;
mod tui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::store::Synchronous;

pub use open::{open_engine, open_engine_at, open_existing, open_server, open_store, server_url};
pub use tui::TuiArgs;

#[derive(Debug, Parser)]
#[command(
    name = "flashsale",
    version,
    about = "Runs a flash sale honestly on SQLite (or PostgreSQL), and shows it happening."
)]
pub struct Cli {
    /// The database file (relative to the current folder), or a PostgreSQL database
    /// (`postgres://USER@HOST:PORT/DB`) that many processes share. The console, `init`
    /// and `swarm` create a missing file (or fill an empty database) with the demo sale;
    /// `audit` and `runs` only read.
    #[arg(long, global = true, default_value = "flashsale.db")]
    pub db: PathBuf,
    /// Durability of each commit: full (default; survives power loss) or normal.
    #[arg(long, global = true, value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,
    /// Keep the gate's count in Redis (redis://HOST:PORT), shared by every process
    /// selling this stock; without it each process counts in memory.
    #[arg(long, global = true, value_name = "redis://HOST:PORT")]
    pub gate: Option<String>,
    /// With no command, the console opens: these are its options (`flashsale tui` takes
    /// the same).
    #[command(flatten)]
    pub console: TuiArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The console (the default): a live dashboard, a storefront, the lab, run comparison.
    Tui(TuiArgs),
    /// The old no-console demo: 5,000 bots race for 50 units, with a progress bar.
    #[command(hide = true)]
    Demo,
    /// Create a database and load a sale (products, stock, hold TTL, per-buyer limit).
    Init(InitArgs),
    /// Run a headless swarm of bot buyers and print its report.
    Swarm(SwarmArgs),
    /// Check every invariant straight from the database; exit 1 on any violation.
    Audit(AuditArgs),
    /// The locking lab: step through real SQLite sessions (`--print` for a transcript).
    Lab(crate::lab::LabArgs),
    /// Every strategy on the same workload, one table, beside the `limit` row measured in
    /// the same run (a fresh temporary database per row).
    Bench(BenchArgs),
    /// Return every expired hold's units now (`--watch`: keep doing it until
    /// interrupted), so a sale run by headless swarms needs no console to expire holds.
    Sweep(SweepArgs),
    /// The sale over HTTP: the buyers' API, the storefront page at /, SSE, /metrics.
    Serve(ServeArgs),
    /// The swarm runs kept in the database, for slides: Markdown, `--csv` or `--json`.
    Runs(runs::RunsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Keep sweeping as holds fall due, until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[arg(long, value_parser = crate::cli::strategy(), default_value_t = crate::Strategy::Queue)]
    pub strategy: crate::Strategy,
    /// Shorten every sale duration by this factor (x60: a 10-minute hold lasts 10 s).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub warp: u32,
    /// Hold TTL while serving (e.g. 10m, 30s); the sale's TTL if omitted.
    #[arg(long, value_parser = crate::engine::parse_duration)]
    pub hold_ttl: Option<std::time::Duration>,
    /// Engine calls in flight past which add-to-cart answers 429 with Retry-After.
    #[arg(long, default_value_t = crate::serve::ServeConfig::default().queue_bound)]
    pub queue_bound: usize,
    /// The request log (one line per request); a file in the temporary folder if omitted.
    #[arg(long)]
    pub log: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Print the report as JSON: `{"rows": [{"strategy", "holds_per_sec", ...}]}`.
    #[arg(long)]
    pub json: bool,
    /// Buyer threads per row.
    #[arg(long, default_value_t = 1000)]
    pub threads: usize,
    /// Units on sale per row (10% more buyers than units try).
    #[arg(long, default_value_t = 20_000)]
    pub holds: u64,
    /// Only these strategies (repeat the flag); every strategy if omitted.
    #[arg(long, value_parser = crate::cli::strategy())]
    pub strategy: Vec<crate::Strategy>,
    /// A row stops taking new buyers after this long. By default 3× the time the
    /// limit row needs for the same holds (at least 6s, at most 60s).
    #[arg(long, value_parser = crate::engine::parse_duration)]
    pub time_limit: Option<std::time::Duration>,
    /// How long to count the gate's sold-out answers after its row (0s skips).
    #[arg(long, value_parser = crate::engine::parse_duration, default_value = "1s")]
    pub gate_probe: std::time::Duration,
    /// Active holds expiring together in the expiry scenario (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub expiry_holds: u64,
    /// Folder for the temporary database files (the system's temporary folder if omitted).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Read every row as the console does (every 200 ms, its read model): the cost of
    /// watching a sale, drawing aside.
    #[arg(long)]
    pub watch: bool,
    /// Every winner pays right after its add-to-cart (latency stays the add-to-cart's).
    #[arg(long)]
    pub pay: bool,
    /// The WAL bound the checkpointer keeps, in MiB (0: no checkpointer; the writer
    /// checkpoints inside its commits, as SQLite does by default).
    #[arg(long, default_value_t = 64)]
    pub wal_bound_mib: u64,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// A sale file (JSON); the demo sale if omitted.
    #[arg(long)]
    pub sale: Option<PathBuf>,
    /// Replace an existing database (its holds and orders are deleted).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Numbers are taken as typed, negative ones too (`allow_negative_numbers`), and checked
/// in `cli/swarm.rs`: out of bounds is a usage error in our own words (exit 2), not
/// clap's "unexpected argument '-1'".
#[derive(Debug, Clone, Args)]
pub struct SwarmArgs {
    /// The product to sell; the sale's first product if omitted.
    #[arg(long)]
    pub sku: Option<String>,
    /// Restock the product to this many available units first (the total moves by the
    /// same amount).
    #[arg(long, allow_negative_numbers = true)]
    pub stock: Option<i64>,
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    pub buyers: i64,
    /// Buyer threads (default: one per buyer, up to 1,000 per core; beyond what the
    /// machine allows, buyers share threads).
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<i64>,
    #[arg(long, value_parser = crate::cli::strategy(), default_value_t = crate::Strategy::Immediate)]
    pub strategy: crate::Strategy,
    /// Units per add-to-cart.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub qty: i64,
    /// Hold TTL for this run (e.g. 10m, 30s); the sale's TTL if omitted.
    #[arg(long, value_parser = crate::engine::parse_duration, allow_hyphen_values = true)]
    pub hold_ttl: Option<std::time::Duration>,
    /// Shorten every sale duration by this factor (x60: a 10-minute hold lasts 10 s).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub warp: i64,
    /// Weight of buyers who pay. With no behaviour flag everybody pays; once one is
    /// given, the others default to 0.
    #[arg(long, allow_negative_numbers = true)]
    pub pay: Option<f64>,
    /// Weight of buyers who walk away (their hold expires).
    #[arg(long, allow_negative_numbers = true)]
    pub abandon: Option<f64>,
    /// Weight of buyers who cancel (their unit returns at once).
    #[arg(long, allow_negative_numbers = true)]
    pub cancel: Option<f64>,
    /// Weight of buyers whose payment is declined.
    #[arg(long, allow_negative_numbers = true)]
    pub pay_fail: Option<f64>,
    /// How buyers arrive: burst (everyone at once).
    #[arg(long, value_enum, default_value_t = ArrivalKind::Burst, conflicts_with = "arrival_rate")]
    pub arrival: ArrivalKind,
    /// Open model: this many buyers arrive per second.
    #[arg(long, allow_negative_numbers = true)]
    pub arrival_rate: Option<f64>,
    /// Losers keep trying while held units may still come back.
    #[arg(long)]
    pub retry: bool,
    /// Wait for the holds buyers walked away from to expire, and report the expiry lag.
    #[arg(long)]
    pub wait_expiry: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Naive only: the pause between reading and writing the stock.
    #[arg(long, value_parser = crate::engine::parse_duration, default_value = "1ms")]
    pub race_window: std::time::Duration,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 if this run oversold any unit.
    #[arg(long)]
    pub fail_on_oversell: bool,
    /// Send the bots over HTTP to a flashsale server (http://HOST:PORT) instead of
    /// running the sale in this process; `--threads` is then the connection count.
    #[arg(long, conflicts_with_all = ["stock", "retry", "wait_expiry"])]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalKind {
    Burst,
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode, crate::Error> {
    match &cli.command {
        Some(Command::Init(args)) => init::run(cli, args),
        Some(Command::Swarm(args)) => swarm::run(cli, args),
        Some(Command::Audit(args)) => audit::run(cli, args),
        Some(Command::Tui(args)) => tui::run(cli, args),
        Some(Command::Demo) => swarm::demo(cli),
        Some(Command::Lab(args)) => lab(cli, args),
        Some(Command::Bench(args)) => bench::run(cli, args),
        Some(Command::Sweep(args)) => sweep::run(cli, args),
        Some(Command::Serve(args)) => serve::run(cli, args),
        Some(Command::Runs(args)) => runs::run(cli, args),
        None => tui::run(cli, &cli.console),
    }
}

fn lab(cli: &Cli, args: &crate::lab::LabArgs) -> Result<ExitCode, crate::Error> {
    if !args.is_headless() {
        // The interactive lab lives in the console: open it on the Lab tab.
        return tui::run_lab(cli, args);
    }
    let mut out = std::io::stdout().lock();
    match crate::lab::run_headless(args, &mut out) {
        Ok(code) => Ok(ExitCode::from(code)),
        // Keep the kind: a reader that went away (`| head`) ends the output quietly.
        Err(e) => {
            let kind = e
                .chain()
                .find_map(|cause| cause.downcast_ref::<std::io::Error>())
                .map_or(std::io::ErrorKind::Other, std::io::Error::kind);
            Err(crate::Error::Io(std::io::Error::new(kind, e.to_string())))
        }
    }
}

/// Pretty JSON and a newline; an error writing it (a closed pipe) is returned, never a
/// panic as `println!` would.
pub(crate) fn write_json(
    out: &mut impl std::io::Write,
    value: &impl serde::Serialize,
) -> Result<(), crate::Error> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// The reader of our output went away (`flashsale audit | head -1`): not a failure,
/// output just ends, as `ls | head` does.
pub fn is_closed_pipe(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Errors that come from what the user typed rather than from the job: exit 2.
/// `--strategy`: core's names, offered by clap as possible values (core has no clap).
pub fn strategy() -> impl clap::builder::TypedValueParser<Value = crate::Strategy> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(crate::Strategy::ALL.map(crate::Strategy::name))
        .try_map(|name| name.parse::<crate::Strategy>())
}

pub fn is_usage(e: &crate::Error) -> bool {
    use crate::Error;
    matches!(
        e,
        Error::UnknownSku { .. }
            | Error::BadQuantity { .. }
            | Error::BadSale { .. }
            | Error::Usage(_)
    )
}
