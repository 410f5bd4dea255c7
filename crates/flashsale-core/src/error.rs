//! Every expected outcome is a variant, not a string: the swarm meets them thousands of
//! times a second and must classify them without parsing text.

use std::path::PathBuf;

use crate::ids::HoldId;

/// The engine's error: one clear sentence that names the thing and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown SKU {sku:?}: no such product in this sale (known: {known})")]
    UnknownSku { sku: String, known: String },

    #[error("Quantity must be at least 1 (requested: {requested})")]
    BadQuantity { requested: i64 },

    #[error("Insufficient stock for {product} (available: {available}, requested: {requested})")]
    SoldOut {
        product: String,
        available: i64,
        requested: i64,
    },

    #[error(
        "Per-buyer limit reached for {product}: {buyer} already has {held} of at most {limit} (requested: {requested})"
    )]
    LimitReached {
        product: String,
        buyer: String,
        held: i64,
        limit: i64,
        requested: i64,
    },

    #[error("No hold {id}: check the hold id")]
    HoldNotFound { id: HoldId },

    #[error("Hold {id} expired; add the item to the cart again")]
    HoldExpired { id: HoldId },

    #[error("Hold {id} is already {status}; it can no longer be changed")]
    HoldClosed { id: HoldId, status: String },

    #[error("Hold {id} belongs to another buyer")]
    NotYourHold { id: HoldId },

    #[error("Hold {id} cannot be extended again ({why})")]
    ExtendLimit { id: HoldId, why: String },

    #[error("Payment for {product} refunded: it sold out before the payment went through")]
    Refunded { product: String },

    #[error(
        "Gave up on {product} after {retries} optimistic retries: other buyers kept changing the stock"
    )]
    Conflict { product: String, retries: u32 },

    #[error("The database stayed locked by another writer past the busy timeout; try again")]
    Busy,

    #[error("{} is not a flashsale database ({why}); pass another --db or create one with `flashsale init`", path.display())]
    NotADatabase { path: PathBuf, why: String },

    #[error("Cannot reach the database server of {what} ({why}); is it running?")]
    ServerUnreachable { what: String, why: String },

    #[error("The database {db} does not exist at {what}; create it with `createdb {db}`")]
    NoSuchDatabase { what: String, db: String },

    #[error(
        "The database server of {what} refused the login ({why}); check the user and password in the URL"
    )]
    LoginRefused { what: String, why: String },

    #[error("Cannot open the database {}: {why}", path.display())]
    CannotOpen { path: PathBuf, why: String },

    #[error("The database {} is read-only; {why}", path.display())]
    ReadOnly { path: PathBuf, why: String },

    #[error("The disk is full; free some space and try again (nothing was committed)")]
    DiskFull,

    #[error(
        "The database file cannot be written (a read-only file or file system); make it writable and try again (nothing was committed)"
    )]
    WriteRefused,

    #[error(
        "The disk failed to read or write the database ({why}); check the disk and try again (nothing half-done was committed)"
    )]
    DiskFailed { why: String },

    /// The group commit's fsync failed (`engine/syncer.rs`): what it covered is in the
    /// file but may not survive a power cut, so none of it is reported as done, and the
    /// process takes no more groups until it is restarted.
    #[error(
        "The disk failed to flush the sale's log ({why}); this process takes no more holds: check the disk and restart it"
    )]
    NotFlushed { why: String },

    #[error("{} is damaged ({why}); restore it from a backup or replace it with `flashsale init --force` (its holds and orders are lost)", path.display())]
    Damaged { path: PathBuf, why: String },

    #[error("Bad sale file {}: {why}", path.display())]
    BadSale { path: PathBuf, why: String },

    #[error("The queue's batch could not be committed, no hold in it was taken: {why}")]
    BatchFailed { why: String },

    #[error("{0}")]
    Usage(String),

    #[error("The engine has stopped")]
    Stopped,

    /// A storage error the store could not name more precisely (the store's own
    /// message, as text: core carries no driver's type).
    #[error("Database error: {why}")]
    Storage { why: String },

    /// The gate's store (Redis) cannot be reached, or its URL is wrong.
    #[error(transparent)]
    Gate(#[from] crate::gate::GateError),

    #[error("PostgreSQL error: {why}")]
    Server { why: String },

    /// No connection came free in time: the store is overloaded, not broken.
    #[error("Database pool error: {why}")]
    PoolTimeout { why: String },

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an attempt to take a hold did not get one: the rows of every rejection table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    SoldOut,
    Limit,
    Conflict,
    Busy,
    Timeout,
    Other,
}

impl Rejection {
    pub const ALL: [Rejection; 6] = [
        Rejection::SoldOut,
        Rejection::Limit,
        Rejection::Conflict,
        Rejection::Busy,
        Rejection::Timeout,
        Rejection::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Rejection::SoldOut => "sold out",
            Rejection::Limit => "per-buyer limit",
            Rejection::Conflict => "conflict",
            Rejection::Busy => "busy",
            Rejection::Timeout => "timeout",
            Rejection::Other => "other",
        }
    }
}

impl Error {
    /// The storage failed, not the sale: a full disk, a read-only or damaged file, an
    /// I/O error, a batch that could not commit. A swarm stops on the first one instead
    /// of counting thousands of "rejections" (and exits 1 naming it).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Error::DiskFull
                | Error::WriteRefused
                | Error::DiskFailed { .. }
                | Error::NotFlushed { .. }
                | Error::Damaged { .. }
                | Error::ReadOnly { .. }
                | Error::CannotOpen { .. }
                | Error::NotADatabase { .. }
                | Error::BatchFailed { .. }
                | Error::Gate(_)
                | Error::Storage { .. }
                | Error::Io(_)
        )
    }

    /// The rejection reason this error counts as.
    pub fn rejection(&self) -> Rejection {
        match self {
            Error::SoldOut { .. } | Error::Refunded { .. } => Rejection::SoldOut,
            Error::LimitReached { .. } => Rejection::Limit,
            Error::Conflict { .. } => Rejection::Conflict,
            Error::Busy => Rejection::Busy,
            Error::PoolTimeout { .. } => Rejection::Timeout,
            _ => Rejection::Other,
        }
    }
}
