//! The database: one SQLite file in WAL mode, the only source of truth.
//!
//! Opening never wipes or re-creates an existing file: a new (empty) file gets the
//! schema and the demo sale; an existing flashsale file is migrated forward by
//! `PRAGMA user_version`; anything else is refused with a clear error before a byte is
//! written.

mod check;
mod migrate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use crate::error::Error;
use crate::sql::Result;

pub use check::{FileKind, check_before_writing, probe};
pub use migrate::SCHEMA_VERSION;

/// How hard SQLite pushes each commit to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync at every commit: no committed order is lost even on power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a crash of the process, not of the machine.
    Normal,
}

impl Synchronous {
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Synchronous::Full => "full",
            Synchronous::Normal => "normal",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
    pub read_only: bool,
    /// How long a connection waits in SQLite's busy handler for another process's
    /// writer. Inside one process writers are funnelled and rarely wait here.
    pub busy_timeout: Duration,
    pub pool_size: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous: Synchronous::Full,
            read_only: false,
            busy_timeout: Duration::from_secs(5),
            pool_size: 16,
        }
    }
}

pub type PooledConn = PooledConnection<SqliteConnectionManager>;

/// A cheap-to-clone handle on the database file and its connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool<SqliteConnectionManager>,
    path: PathBuf,
    options: StoreOptions,
}

/// What opening found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The file was new: the schema was applied and it holds no sale yet.
    Created,
    Existing,
}

impl Store {
    /// Opens (or, unless read-only, creates) the database at `path`.
    pub fn open(path: &Path, options: StoreOptions) -> Result<(Store, Opened)> {
        let opened = if options.read_only {
            check_readable(path)?;
            Opened::Existing
        } else {
            prepare_file(path)?
        };
        let manager = manager(path, &options);
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .map_err(|e| Error::CannotOpen {
                path: path.to_path_buf(),
                why: e.to_string(),
            })?;
        let store = Store {
            pool,
            path: path.to_path_buf(),
            options,
        };
        Ok((store, opened))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    pub fn synchronous(&self) -> Synchronous {
        self.options.synchronous
    }

    pub fn read_only(&self) -> bool {
        self.options.read_only
    }

    /// A pooled connection, for reads and for the naive strategy's racing writes.
    pub fn conn(&self) -> Result<PooledConn> {
        Ok(self.pool.get()?)
    }

    /// A connection of its own outside the pool, with the same settings: the writer
    /// funnel and the queue's writer thread each keep one for their whole life.
    pub fn dedicated(&self) -> Result<Connection> {
        let conn = open_connection(&self.path, self.options.read_only)?;
        configure(&conn, &self.options)?;
        Ok(conn)
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e).into())
}

fn manager(path: &Path, options: &StoreOptions) -> SqliteConnectionManager {
    let flags = if options.read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let options = options.clone();
    SqliteConnectionManager::file(path)
        .with_flags(flags)
        .with_init(move |conn| configure_raw(conn, &options))
}

/// Per-connection settings; journal_mode is not among them: it is set once, outside any
/// transaction, when the file is prepared.
fn configure_raw(conn: &Connection, options: &StoreOptions) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if !options.read_only {
        conn.pragma_update(None, "synchronous", options.synchronous.pragma())?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn configure(conn: &Connection, options: &StoreOptions) -> Result<()> {
    Ok(configure_raw(conn, options)?)
}

/// Creates or migrates the file, refusing anything that is not ours.
fn prepare_file(path: &Path) -> Result<Opened> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::CannotOpen {
            path: path.to_path_buf(),
            why: format!("the folder {} does not exist", parent.display()),
        }
        .into());
    }
    let existed = path.exists();
    if existed && path.is_dir() {
        return Err(Error::CannotOpen {
            path: path.to_path_buf(),
            why: "it is a folder, not a file".into(),
        }
        .into());
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let version = migrate::check_ours(&conn, path)?;
    // WAL is a property of the file: set once, outside any transaction.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| classify_open(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::CannotOpen {
            path: path.to_path_buf(),
            why: format!("SQLite refused WAL mode (journal_mode is {mode})"),
        }
        .into());
    }
    migrate::apply(&mut conn, version).map_err(|e| classify_open(path, e))?;
    Ok(if version == 0 {
        Opened::Created
    } else {
        Opened::Existing
    })
}

fn check_readable(path: &Path) -> Result<()> {
    if !path.is_file() {
        return Err(Error::CannotOpen {
            path: path.to_path_buf(),
            why: "no such file (a read-only monitor needs an existing database)".into(),
        }
        .into());
    }
    let conn = open_connection(path, true)?;
    let version = migrate::check_ours(&conn, path)?;
    if version == 0 {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            why: "it has no flashsale schema yet".into(),
        }
        .into());
    }
    Ok(())
}

fn open_error(path: &Path, e: &rusqlite::Error) -> Error {
    Error::CannotOpen {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// Turns SQLite's codes for "this is not a database" and "read-only" into sentences.
pub(crate) fn classify_open(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotADatabase {
            path: path.to_path_buf(),
            why: "the file is not an SQLite database".into(),
        },
        Some(ErrorCode::ReadOnly) => Error::ReadOnly {
            path: path.to_path_buf(),
            why: "check the file's and folder's permissions, or use --read-only to watch it".into(),
        },
        Some(ErrorCode::CannotOpen) => open_error(path, &e),
        _ => crate::sql::sqlite_error(e),
    }
}
