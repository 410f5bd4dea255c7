//! `flashsale` / `flashsale tui`: the console, on a database this process sells from,
//! or (`--read-only`) watching one another process writes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::Cli;
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use crate::monitor::Reader;
use crate::store::StoreOptions;
use crate::tui::{self, App, Options, Source};
use crate::{Clock, Strategy};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Console")]
pub struct TuiArgs {
    /// Watch a database another process writes; never write to it.
    #[arg(long)]
    pub read_only: bool,
    /// The strategy to sell with at first (s switches it in the console).
    #[arg(long, value_parser = crate::cli::strategy(), default_value_t = Strategy::Immediate)]
    pub strategy: Strategy,
    /// Shorten every sale duration by this factor (w changes it in the console).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub warp: u32,
    /// Where the console writes its log (never onto the screen).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Also serve the sale over HTTP on this address (e.g. 0.0.0.0:8080), from the
    /// console's engine: the audience joins with their phones (the Sale tab shows the
    /// URL and its QR code). Quitting the console stops the server.
    #[arg(long, value_name = "ADDR", conflicts_with = "read_only")]
    pub serve: Option<String>,
}

impl Default for TuiArgs {
    fn default() -> Self {
        TuiArgs {
            read_only: false,
            strategy: Strategy::Immediate,
            warp: 1,
            log: None,
            serve: None,
        }
    }
}

pub fn run(cli: &Cli, args: &TuiArgs) -> Result<ExitCode> {
    run_with(cli, args, |_| Ok(()))
}

/// `flashsale lab [NAME]`: the console, opened on the Lab tab (on NAME in step mode).
pub fn run_lab(cli: &Cli, lab: &crate::lab::LabArgs) -> Result<ExitCode> {
    // The scenario is checked before anything else is opened.
    let no_color = !tui::Theme::from_env().color;
    // The lab's own errors are the crate's: a bad scenario is usage (exit 2), a failing
    // temporary database is not.
    let view = crate::lab::console_view(lab, no_color)?;
    run_with(cli, &TuiArgs::default(), move |app| {
        app.lab = tui::app::LabState::with_view(view);
        tui::app::show(app, tui::Tab::Lab);
        Ok(())
    })
}

fn run_with(
    cli: &Cli,
    args: &TuiArgs,
    prepare: impl FnOnce(&mut App) -> Result<()>,
) -> Result<ExitCode> {
    let clock = Clock::real().with_warp(args.warp);
    // A file that is there is checked first, without writing (not ours, damaged: that
    // is the error to report); nothing is created or migrated until we know a console
    // can open.
    if cli.db.exists() {
        crate::store::probe(&cli.db)?;
    }
    if !std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "the console needs a terminal (stdout is not one); for a headless run use `flashsale swarm`"
                .into(),
        ));
    }
    if args.serve.is_some() {
        // Before the file is created: a sale that cannot be served is not started.
        crate::serve::servable(args.strategy)?;
    }
    let log = args.log.clone().unwrap_or_else(|| default_log(&cli.db));
    let _log_guard = super::log::start_log(&log);
    let source = open_source(cli, args, &clock)?;
    // Bound before the console takes the terminal: a taken port is a plain error.
    let server = match (&args.serve, source.engine()) {
        (Some(addr), Some(engine)) => Some(super::serve::Embedded::start(engine.clone(), addr)?),
        _ => None,
    };
    // A server's URL is shown without its password.
    let label = super::server_url(&cli.db)
        .map_or_else(|| cli.db.display().to_string(), crate::pg::shown_url);
    tracing::info!(db = %label, read_only = args.read_only, "console started");
    let mut app = App::new(source, clock, Options::new(label));
    app.served = server.as_ref().map(|s| tui::app::Served::new(&s.url));
    prepare(&mut app)?;
    let ran = tui::run(app);
    // The terminal is back; the server drains whether the console ended well or not.
    let stopped = server.map_or(Ok(()), super::serve::Embedded::stop);
    ran?;
    stopped?;
    tracing::info!("console left");
    Ok(ExitCode::SUCCESS)
}

fn open_source(cli: &Cli, args: &TuiArgs, clock: &Clock) -> Result<Source> {
    Ok(if args.read_only {
        let options = StoreOptions {
            read_only: true,
            // The console reads on one connection; a second for the odd extra read.
            pool_size: 2,
            ..StoreOptions::default()
        };
        match super::server_url(&cli.db) {
            Some(url) => Source::ReadOnly(Reader::Server(std::sync::Arc::new(
                crate::pg::PgStore::open(url)?,
            ))),
            None => Source::ReadOnly(Reader::File(super::open_existing(&cli.db, options)?)),
        }
    } else {
        let config = EngineConfig {
            strategy: args.strategy,
            clock: clock.clone(),
            ..EngineConfig::default()
        };
        Source::Live(super::open_engine(cli, config)?)
    })
}

/// The log goes next to nothing the user shares: the temp folder, named after the
/// database so two consoles on two files do not interleave.
fn default_log(db: &Path) -> PathBuf {
    let name = db
        .file_name()
        .map_or_else(|| "flashsale".into(), |n| n.to_string_lossy().into_owned());
    std::env::temp_dir().join(format!("flashsale-console-{name}.log"))
}
