//! flashsale: runs a flash sale honestly on SQLite, and shows it happening.
//!
//! 50 units, 50,000 buyers pressing "Add to cart" in the same second: the first 50 get a
//! hold locked to them for the hold TTL; a paid hold becomes an order; an unpaid one
//! expires and its unit goes to the next buyer. SQLite in WAL mode is the truth; every
//! transaction that writes after reading starts `BEGIN IMMEDIATE`.
//!
//! # Layout
//!
//! The engine is a library with no terminal code; the binary's commands are its clients.
//!
//! - [`store`]: the database file, its schema and migrations, the connection pool.
//! - [`sale`]: sale files (products, stock, rules) and loading them.
//! - [`hold`]: the state changes as plain functions over a transaction — reserve,
//!   checkout, release, extend, expire.
//! - [`engine`]: the cheap-to-clone handle: strategies, the writer thread that funnels
//!   every write first-in first-out (group commit for the queue), the sweeper, the gate,
//!   events.
//! - [`strategy`], [`gate`], [`clock`], [`ids`], [`error`]: the vocabulary.
//! - [`backoff`]: the jittered exponential pause before trying again (engine and swarm).
//! - [`audit`]: every invariant checked from the database alone.
//! - [`journal`]: the sale's journal in the database — runs, the operator log, what the
//!   seller runs now.
//! - [`metrics`]: the one aggregate of outcomes and latencies that reports read.
//! - [`serve`]: the sale over HTTP (axum): the API, the storefront page, SSE, `/metrics`.
//! - [`swarm`]: the bot buyers (real threads) and their report.
//! - [`bench`](mod@bench): every strategy on one workload beside the single-connection `limit` row.
//! - [`lab`]: the locking lab — scenarios stepped on real SQLite connections.
//! - [`monitor`]: the console's read model: short read transactions that never block a sale.
//! - [`tui`]: the console (ratatui), a client of the engine like any other program.
//! - [`cli`]: the command line, a thin client of all of the above.
#![forbid(unsafe_code)]

pub mod audit;
pub mod bench;
pub mod cli;
pub mod engine;
pub mod gate;
pub mod hold;
pub mod journal;
pub mod lab;
pub mod monitor;
pub mod pg;
pub mod sale;
pub mod serve;
pub mod sql;
pub mod store;
pub mod swarm;
pub mod tui;

// The vocabulary lives in core; re-exported under the paths every module has used.
pub use flashsale_core::{backoff, clock, error, ids, metrics, strategy, units};

pub use clock::Clock;
pub use engine::{Engine, EngineConfig, EngineEvent};
pub use error::{Error, Rejection, Result};
pub use store::{Store, StoreOptions, Synchronous};
pub use strategy::Strategy;
