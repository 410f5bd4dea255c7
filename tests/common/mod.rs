//! Shared by the integration tests: real SQLite files in temporary folders, a sale made
//! for the test, and an engine on it.
#![allow(dead_code)]

pub mod both;
pub mod servers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use flashsale::sale::{self, ProductSpec, SaleFile};
use flashsale::{Clock, Engine, EngineConfig, Store, StoreOptions, Strategy, Synchronous};

pub const START: i64 = 1_800_000_000_000;

pub struct Db {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// A new database holding one product `sku` with `stock` units (per-buyer limit `limit`),
/// and the demo's phone, with a 10-minute hold TTL.
pub fn db_with(sku: &str, stock: i64, limit: i64) -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sale.db");
    let sale = test_sale(sku, stock, limit);
    let (store, _) = Store::open(&path, options()).expect("open");
    let mut conn = store.dedicated().expect("conn");
    sale::load(&mut conn, &sale, START).expect("load sale");
    Db { dir, path }
}

/// One product `sku` with `stock` units (per-buyer limit `limit`), a 10-minute hold TTL.
pub fn test_sale(sku: &str, stock: i64, limit: i64) -> SaleFile {
    SaleFile {
        name: "Test sale".into(),
        hold_ttl: Duration::from_secs(600),
        max_per_buyer: 1,
        max_extensions: 2,
        max_hold: Some(Duration::from_secs(1200)),
        products: vec![ProductSpec {
            sku: sku.into(),
            name: format!("Test {sku}"),
            price_cents: 100,
            stock,
            max_per_buyer: Some(limit),
        }],
    }
}

pub fn options() -> StoreOptions {
    StoreOptions {
        synchronous: Synchronous::Normal,
        ..StoreOptions::default()
    }
}

pub fn engine(path: &Path, strategy: Strategy, clock: Clock) -> Engine {
    let (store, _) = Store::open(path, options()).expect("open");
    Engine::open(
        store,
        EngineConfig {
            strategy,
            clock,
            sweeper: false,
            ..EngineConfig::default()
        },
    )
    .expect("engine")
}

/// `(available, active units, paid units, orders)` straight from the file.
pub fn books(path: &Path, sku: &str) -> (i64, i64, i64, i64) {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row(
        "SELECT p.stock_available,
                coalesce((SELECT sum(qty) FROM holds WHERE product_id = p.id AND status = 'active'), 0),
                coalesce((SELECT sum(qty) FROM holds WHERE product_id = p.id AND status = 'paid'), 0),
                (SELECT count(*) FROM orders WHERE product_id = p.id)
         FROM products p WHERE sku = ?1",
        [sku],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .expect("books")
}

pub fn audit_ok(path: &Path) -> flashsale::audit::AuditReport {
    let mut conn = rusqlite::Connection::open(path).expect("open");
    flashsale::audit::audit(&mut conn, START).expect("audit")
}

/// Runs the real binary in `dir` with no stdin (no terminal) and waits for it.
pub fn run_bin(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run flashsale")
}

pub fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The JSON the binary printed, or a failure showing what it said instead.
pub fn json_of(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(o)))
}
