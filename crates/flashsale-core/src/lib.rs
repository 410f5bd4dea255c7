//! flashsale's core: the model of a flash sale, its rules, and the two seams every
//! store and front end meets.
//!
//! It names no storage and no front end: no SQLite, PostgreSQL or Redis, no terminal, no
//! HTTP, no command line (the binary package's `tests/core_deps.rs` holds it to that).
//! The stores implement [`gate::Gate`] and the store seam; the console, the command
//! line, the swarm and the HTTP server call the operations through them.
//!
//! - [`model`]: products, holds, orders, stock, and the pure rules that judge them.
//! - [`strategy`], [`clock`], [`ids`], [`error`]: the vocabulary.
//! - [`store`]: the storage seam — the sale's state changes, as each store makes them.
//! - [`shop`]: the application's operations over any store: strategies, rules, gate,
//!   events, the sweeper.
//! - [`gate`]: the count in front of the database, and the in-process one.
//! - [`carts`]: pay-first's record of the carts it handed out.
//! - [`events`]: what the engine tells whoever watches.
//! - [`metrics`]: the one aggregate of outcomes and latencies.
//! - [`backoff`], [`units`]: small shared helpers; [`arrival`]: the door where a
//!   request's place in line is decided, for the fairness figures.
#![forbid(unsafe_code)]

pub mod arrival;
pub mod backoff;
pub mod carts;
pub mod clock;
pub mod error;
pub mod events;
pub mod gate;
pub mod ids;
pub mod metrics;
pub mod model;
pub mod shop;
pub mod store;
pub mod strategy;
pub mod units;

pub use clock::Clock;
pub use error::{Error, Rejection, Result};
pub use strategy::Strategy;
