//! flashsale: runs a flash sale honestly on SQLite (or PostgreSQL), and shows it happening.
//!
//! 50 units, 50,000 buyers pressing "Add to cart" in the same second: the first 50 get a
//! hold locked to them for the hold TTL; a paid hold becomes an order; an unpaid one
//! expires and its unit goes to the next buyer. SQLite in WAL mode is the truth; every
//! transaction that writes after reading starts `BEGIN IMMEDIATE`.
//!
//! # Layout
//!
//! The engine is a library with no terminal code; the binary's commands are its clients.
//! The model, the rules and the seams live in the `flashsale-core` crate (re-exported
//! here as [`clock`], [`ids`], [`strategy`], [`error`], [`metrics`], [`backoff`],
//! [`units`]), which names no storage and no front end.
//!
//! - [`engine`]: [`Engine`], the handle every front end holds — core's shop (the one
//!   application layer) over the SQLite file (one writer thread, group commit, the
//!   checkpointer, below the storage seam) or over a database server.
//! - The SQLite store: [`store`] (the file, its schema and migrations, the pool),
//!   [`hold`] (the state changes as plain functions over a transaction), [`sql`] (SQL
//!   errors classified into core's), [`monitor`] (the console's read model), [`audit`]
//!   (every invariant from the database alone), [`journal`] (runs, the operator log).
//! - [`pg`]: the PostgreSQL store — core's storage seam over a server many processes
//!   share; its read model, journal and audit.
//! - [`gate`]: the gate seam; Redis, the gate several processes share.
//! - [`sale`]: sale files (products, stock, rules) and loading them.
//! - [`serve`]: the sale over HTTP (axum): the API, the storefront page, SSE, `/metrics`.
//! - [`swarm`]: the bot buyers (real threads, or HTTP clients) and their report: the one
//!   load driver.
//! - [`bench`](mod@bench): every strategy on one workload (a swarm in a closed loop) beside
//!   the single-connection `limit` row.
//! - [`lab`]: the locking lab — scenarios stepped on real SQLite connections, on the
//!   shop's own schema.
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
