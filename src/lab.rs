//! The locking lab: real SQLite sessions, one statement at a time.
//!
//! Students come here to see *why* a shop oversells and what each fix does. Every
//! scenario runs on real `rusqlite` connections (one per session) to a temporary database
//! file in WAL mode; nothing about locking is simulated, so what the lab shows is what
//! SQLite really did — and each scenario's expectations are checked against it.
//!
//! # Layout
//!
//! - [`scenario`]: the data format (JSON in `assets/lab/`, built-ins compiled in).
//! - [`database`]: each run's temporary database — the shop's own `schema.sql` and
//!   migrations, made by the shop's [`Store::open`](crate::Store::open); scenarios only add rows.
//! - [`session`]: one connection, its variables, its transaction state in SQLite's terms.
//! - [`runner`]: a temporary database, the steps, the rows after each one, the audit.
//!   (The rows themselves and their differences: `rows.rs`, re-exported by the runner.)
//! - [`stepper`]: step mode — forward and back (back replays on a fresh database).
//! - [`scheduler`]: scheduler mode — the student picks who runs next; anomalies announced.
//! - [`transcript`]: the text printed by `flashsale lab NAME --print`.
//! - [`matrix`](mod@matrix): every anomaly against every strategy, Hermitage-style.
//! - [`ui`]: the console's Lab tab (ratatui), self-contained.
//!
//! The command line calls [`run_headless`] with a parsed [`LabArgs`] when
//! [`LabArgs::is_headless`], and otherwise opens the console on the Lab tab with
//! [`console_view`]; the console mounts [`ui::LabView`].

pub mod database;
pub mod matrix;
mod rows;
pub mod runner;
pub mod scenario;
pub mod scheduler;
pub mod session;
pub mod stepper;
pub mod transcript;
pub mod ui;

use std::io::{self, Write};
use std::path::Path;

use scenario::{Origin, Scenario};

use crate::error::Error;

/// A scenario file (or the matrix's data) that cannot be used: the user's input, so a
/// usage error (exit 2), in one sentence naming the file.
pub(crate) fn bad_scenario(
    origin: impl std::fmt::Display,
    reason: impl std::fmt::Display,
) -> Error {
    Error::Usage(format!("scenario {origin} cannot be used: {reason}"))
}

/// No scenario has that name (and no file has that path): a usage error naming the
/// ones that exist.
fn unknown_scenario<'a>(name: &str, available: impl IntoIterator<Item = &'a str>) -> Error {
    let available: Vec<&str> = available.into_iter().collect();
    Error::Usage(format!(
        "there is no lab scenario called {name:?}; available: {}",
        available.join(", ")
    ))
}

/// The lab's temporary database at `path` failed while doing `what`.
pub(crate) fn lab_database(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::CannotOpen {
        path: path.to_path_buf(),
        why: format!("the lab {what}: {e}"),
    }
}

/// `flashsale lab [SCENARIO] [--print] | --list | --matrix`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct LabArgs {
    /// A scenario name (see --list) or the path of a scenario .json file.
    pub scenario: Option<String>,
    /// Print the scenario's transcript instead of opening the console; exit 1 if SQLite
    /// did not do what the scenario expects.
    #[arg(long)]
    pub print: bool,
    /// List the scenarios, one per line, name first.
    #[arg(long, conflicts_with_all = ["print", "matrix"])]
    pub list: bool,
    /// Run every anomaly against every strategy and print which strategy prevents which.
    #[arg(long, conflicts_with = "print")]
    pub matrix: bool,
}

impl LabArgs {
    /// Whether these arguments ask for text output rather than the console.
    #[must_use]
    pub fn is_headless(&self) -> bool {
        self.print || self.list || self.matrix
    }
}

/// One line of `flashsale lab --list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioInfo {
    /// The name to pass to `flashsale lab`.
    pub name: String,
    /// The one-line title.
    pub title: String,
    /// The strategy its sessions follow, if it names one.
    pub strategy: Option<scenario::Follows>,
    /// "built-in" or the file it came from.
    pub origin: String,
}

/// Every scenario: the built-in ones, then `assets/lab/*.json` under the current directory.
/// Files that do not parse are left out (the headless `--list` names them on stderr).
#[must_use]
pub fn list() -> Vec<ScenarioInfo> {
    catalog().0.iter().map(info).collect()
}

fn info(s: &Scenario) -> ScenarioInfo {
    ScenarioInfo {
        name: s.name.clone(),
        title: s.title.clone(),
        strategy: s.strategy,
        origin: s.origin.to_string(),
    }
}

/// The scenarios plus the files that could not be read.
fn catalog() -> (Vec<Scenario>, Vec<scenario::Broken>) {
    let dir = scenario::default_dir();
    // The built-ins are tested to parse; if one did not, the rest is still worth showing.
    scenario::catalog(Some(&dir)).unwrap_or_default()
}

/// Finds a scenario by name, or reads it from a path (anything that exists as a file).
///
/// # Errors
/// [`Error::Usage`] for an unknown scenario (listing the names that exist) or a broken file.
pub fn find(name_or_path: &str) -> Result<Scenario, Error> {
    let path = Path::new(name_or_path);
    if path.is_file() {
        return Scenario::from_file(path);
    }
    let (all, _) = catalog();
    if let Some(s) = all.iter().find(|s| s.name == name_or_path) {
        return Ok(s.clone());
    }
    Err(unknown_scenario(
        name_or_path,
        all.iter().map(|s| s.name.as_str()),
    ))
}

/// Runs a scenario in its written order and prints the transcript. Returns whether every
/// expectation was met.
///
/// # Errors
/// Unknown scenario, a broken file, the database, or the writer.
pub fn print_transcript(name_or_path: &str, out: &mut impl Write) -> Result<bool, Error> {
    let scenario = find(name_or_path)?;
    transcript::print(&scenario, out)
}

/// Prints the anomaly × strategy matrix.
///
/// # Errors
/// The matrix data or a lab database failed, or the writer.
pub fn matrix(out: &mut impl Write) -> Result<(), Error> {
    let data = matrix::Matrix::built_in()?;
    let results = data.run()?;
    matrix::print(&data, &results, out)?;
    Ok(())
}

/// The console's Lab tab for `flashsale lab [SCENARIO]` without `--print`: the scenario
/// list, or the named scenario (a name or a file path) open in step mode.
///
/// # Errors
/// Unknown scenario (the sentence lists the names), a broken file, or its database.
pub fn console_view(args: &LabArgs, no_color: bool) -> Result<ui::LabView, Error> {
    let mut view = ui::LabView::new(no_color);
    if let Some(name) = args.scenario.as_deref() {
        let scenario = find(name)?;
        view.open_scenario(scenario, ui::Mode::Step)?;
    }
    Ok(view)
}

/// `flashsale lab ...` without the console: `--list`, `--matrix`, `NAME --print`.
/// Usage problems are written to stderr. Returns the exit code: 0 ok, 1 an expectation
/// was not met, 2 bad usage.
///
/// # Errors
/// Only when writing to `out` fails or a lab database cannot be created.
pub fn run_headless(args: &LabArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    run_headless_to(args, out, &mut io::stderr())
}

/// [`run_headless`] with the usage messages going to `err`.
///
/// # Errors
/// Only when writing fails or a lab database cannot be created.
pub fn run_headless_to(
    args: &LabArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<u8> {
    if args.list {
        let (all, broken) = catalog();
        let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &all {
            let strategy = s.strategy.map(|st| format!(" [{st}]")).unwrap_or_default();
            let origin = match &s.origin {
                Origin::BuiltIn => String::new(),
                Origin::File(p) => format!(" ({})", p.display()),
            };
            writeln!(out, "{:width$}  {}{strategy}{origin}", s.name, s.title)?;
        }
        for b in broken {
            writeln!(err, "warning: {}", b.error)?;
        }
        return Ok(0);
    }
    if args.matrix {
        matrix(out)?;
        return Ok(0);
    }
    let Some(name) = args.scenario.as_deref() else {
        writeln!(
            err,
            "flashsale lab needs a scenario name with --print, or --list or --matrix; available: {}",
            names()
        )?;
        return Ok(2);
    };
    if !args.print {
        writeln!(
            err,
            "flashsale lab {name} opens the console; add --print for the transcript instead"
        )?;
        return Ok(2);
    }
    match print_transcript(name, out) {
        Ok(true) => Ok(0),
        Ok(false) => Ok(1),
        Err(e @ Error::Usage(_)) => {
            writeln!(err, "{e}")?;
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}

/// The scenario names, comma-separated.
fn names() -> String {
    list()
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
