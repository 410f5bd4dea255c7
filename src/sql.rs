//! Errors of the SQL stores on their way into core's [`Error`].
//!
//! Core names no driver, so it cannot say how a `rusqlite::Error` or a `postgres::Error`
//! becomes one of its variants — and the orphan rule keeps this package from saying it
//! with a `From` between two foreign types. [`SqlError`] is the package's own type in
//! between: `?` turns a driver's error into it (classified once, here), and it turns into
//! core's error at the edge of the store, so the SQL code keeps using `?` everywhere.

use crate::error::Error;

/// A store's error, already classified as core's [`Error`].
#[derive(Debug)]
pub struct SqlError(pub Error);

/// The result of the SQL stores' functions.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl From<Error> for SqlError {
    fn from(e: Error) -> Self {
        SqlError(e)
    }
}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        e.0
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError(sqlite_error(e))
    }
}

impl From<std::io::Error> for SqlError {
    fn from(e: std::io::Error) -> Self {
        SqlError(Error::Io(e))
    }
}

impl From<r2d2::Error> for SqlError {
    fn from(e: r2d2::Error) -> Self {
        SqlError(Error::PoolTimeout { why: e.to_string() })
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> Self {
        SqlError(crate::pg::hold::classify(e))
    }
}

impl From<crate::gate::GateError> for SqlError {
    fn from(e: crate::gate::GateError) -> Self {
        SqlError(Error::Gate(e))
    }
}

/// What a SQLite error means for the sale: a busy writer, a full disk, a read-only file
/// or a failing disk each get their own variant; anything else is a plain storage error.
pub fn sqlite_error(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    // Growing the shared-memory file fails this way when the disk has no room left
    // (measured on a full tmpfs), before any page could be written.
    let shm_full = e
        .sqlite_error()
        .is_some_and(|f| f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE);
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Busy,
        Some(ErrorCode::DiskFull) => Error::DiskFull,
        _ if shm_full => Error::DiskFull,
        Some(ErrorCode::ReadOnly) => Error::WriteRefused,
        Some(ErrorCode::SystemIoFailure) => Error::DiskFailed { why: e.to_string() },
        _ => Error::Storage { why: e.to_string() },
    }
}

/// Ids bound as SQL parameters and read back from columns. Core's ids know nothing of
/// SQL; the schema stores hold and order ids as hyphenated TEXT and product ids as
/// INTEGER, so they cross as those.
pub mod ids {
    use rusqlite::Row;
    use rusqlite::types::Type;

    use crate::ids::{HoldId, OrderId, ProductId};

    /// A column holding a hold id (TEXT).
    pub fn hold(r: &Row<'_>, i: usize) -> rusqlite::Result<HoldId> {
        parsed(r, i)
    }

    /// A column holding an order id (TEXT).
    pub fn order(r: &Row<'_>, i: usize) -> rusqlite::Result<OrderId> {
        parsed(r, i)
    }

    /// A column holding a product id (INTEGER).
    pub fn product(r: &Row<'_>, i: usize) -> rusqlite::Result<ProductId> {
        r.get(i).map(ProductId)
    }

    fn parsed<T: std::str::FromStr<Err = uuid::Error>>(
        r: &Row<'_>,
        i: usize,
    ) -> rusqlite::Result<T> {
        let text: String = r.get(i)?;
        text.parse()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
    }
}
