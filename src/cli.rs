//! The command line: flags and the commands behind them. `main.rs` only parses and maps
//! the outcome to an exit code: 0 ok, 1 the job failed, 2 bad usage.

mod audit;
mod bench;
mod init;
mod open;
mod swarm;
mod tui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::store::Synchronous;

pub use open::{open_engine, open_existing, open_store};
pub use tui::TuiArgs;

#[derive(Debug, Parser)]
#[command(
    name = "flashsale",
    version,
    about = "Runs a flash sale honestly on SQLite, and shows it happening."
)]
pub struct Cli {
    /// The database file; a new one is created with the demo sale.
    #[arg(long, global = true, default_value = "flashsale.db")]
    pub db: PathBuf,
    /// Durability of each commit: full (default; survives power loss) or normal.
    #[arg(long, global = true, value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,
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
    #[arg(long, value_enum)]
    pub strategy: Vec<crate::Strategy>,
    /// A row stops taking new buyers after this long.
    #[arg(long, value_parser = crate::engine::parse_duration, default_value = "6s")]
    pub time_limit: std::time::Duration,
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

#[derive(Debug, Clone, Args)]
pub struct SwarmArgs {
    /// The product to sell; the sale's first product if omitted.
    #[arg(long)]
    pub sku: Option<String>,
    /// Restock the product to this many available units first.
    #[arg(long)]
    pub stock: Option<i64>,
    #[arg(long, default_value_t = 1000)]
    pub buyers: u64,
    /// Buyer threads (default: one per buyer, up to 1,000 per core; beyond what the
    /// machine allows, buyers share threads).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = crate::Strategy::Immediate)]
    pub strategy: crate::Strategy,
    /// Units per add-to-cart.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub qty: i64,
    /// Hold TTL for this run (e.g. 10m, 30s); the sale's TTL if omitted.
    #[arg(long, value_parser = crate::engine::parse_duration)]
    pub hold_ttl: Option<std::time::Duration>,
    /// Shorten every sale duration by this factor (x60: a 10-minute hold lasts 10 s).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub warp: u32,
    /// Weight of buyers who pay.
    #[arg(long, default_value_t = 1.0)]
    pub pay: f64,
    /// Weight of buyers who walk away (their hold expires).
    #[arg(long, default_value_t = 0.0)]
    pub abandon: f64,
    /// Weight of buyers who cancel (their unit returns at once).
    #[arg(long, default_value_t = 0.0)]
    pub cancel: f64,
    /// Weight of buyers whose payment is declined.
    #[arg(long, default_value_t = 0.0)]
    pub pay_fail: f64,
    /// How buyers arrive: burst (everyone at once).
    #[arg(long, value_enum, default_value_t = ArrivalKind::Burst, conflicts_with = "arrival_rate")]
    pub arrival: ArrivalKind,
    /// Open model: this many buyers arrive per second.
    #[arg(long)]
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
    /// Exit 1 if any unit was oversold.
    #[arg(long)]
    pub fail_on_oversell: bool,
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
        Err(e) => Err(crate::Error::Io(std::io::Error::other(e.to_string()))),
    }
}

/// Errors that come from what the user typed rather than from the job: exit 2.
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
