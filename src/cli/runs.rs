//! `flashsale runs [--json|--csv|--markdown]`: every swarm run the console kept in the
//! database, as a table to paste into slides (Markdown, the default), a spreadsheet (CSV)
//! or a program (JSON). Read-only: it never changes the file.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use super::Cli;
use crate::error::Result;
use crate::journal::export::{self, Format};
use crate::store::StoreOptions;

#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct RunsArgs {
    /// Every field of every run as JSON.
    #[arg(long)]
    pub json: bool,
    /// One line per run, raw numbers (milliseconds, microseconds), for a spreadsheet.
    #[arg(long)]
    pub csv: bool,
    /// A Markdown table (the default).
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(cli: &Cli, args: &RunsArgs) -> Result<ExitCode> {
    let options = StoreOptions {
        read_only: true,
        pool_size: 1,
        ..StoreOptions::default()
    };
    let runs = match super::server_url(&cli.db) {
        Some(url) => crate::pg::journal::runs(&mut *crate::pg::PgStore::open(url)?.conn()?)?,
        None => {
            let store = super::open::open_existing(&cli.db, options)?;
            crate::journal::runs(&store.dedicated()?)?
        }
    };
    let format = if args.json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        Format::Markdown
    };
    let text = export::write(&runs, format)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if runs.is_empty() && format == Format::Markdown {
        eprintln!("No runs yet: launch a swarm from the console (n on the Sale tab).");
    }
    Ok(ExitCode::SUCCESS)
}
