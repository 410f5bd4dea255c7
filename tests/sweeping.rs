//! Holds that never return and runs that never end: `flashsale sweep`, the audit's
//! warning about overdue holds, and `--retry` deciding from the database whether units
//! may still come back (another process may have taken them).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{START, books, db_with, run_bin as run, stdout_of as text};
use flashsale::swarm::{self, Behaviour, SwarmConfig};
use flashsale::{Clock, Engine, EngineConfig, Store, Strategy};

fn flashsale(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashsale"));
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    cmd
}

/// Holds a headless run walked away from, `ago_ms` past their deadline, as a swarm
/// that exited before they expired leaves them.
fn abandoned_holds(path: &Path, n: i64, ago_ms: i64) {
    let now = Clock::real().now();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "UPDATE products SET stock_available = stock_available - ?1 WHERE sku = 'PHONE-X1'",
        [n],
    )
    .unwrap();
    for i in 0..n {
        conn.execute(
            "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
             SELECT ?1, id, ?2, 1, 'active', ?3, ?4 FROM products WHERE sku = 'PHONE-X1'",
            rusqlite::params![
                uuid::Uuid::new_v4().to_string(),
                format!("gone-{i}"),
                now - ago_ms - 600_000,
                now - ago_ms
            ],
        )
        .unwrap();
    }
}

fn active(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM holds WHERE status = 'active'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn audit_warns_about_overdue_holds_and_sweep_returns_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flashsale.db");
    assert!(run(dir.path(), &["init"]).status.success());
    abandoned_holds(&path, 3, 1_000);
    let o = run(dir.path(), &["audit"]);
    assert_eq!(o.status.code(), Some(0), "a warning, not a violation");
    assert!(
        text(&o).contains("warning: 3 active holds are past their deadline"),
        "{}",
        text(&o)
    );
    let o = run(dir.path(), &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(audit["overdue_holds"], 3);

    let o = run(dir.path(), &["sweep"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text(&o).contains("3 holds expired and returned"),
        "{}",
        text(&o)
    );
    assert_eq!(active(&path), 0);
    assert_eq!(books(&path, "PHONE-X1").0, 50, "the units are back");
    let o = run(dir.path(), &["audit"]);
    assert!(!text(&o).contains("warning"), "{}", text(&o));
    let o = run(dir.path(), &["sweep"]);
    assert!(text(&o).contains("0 holds expired"), "once: {}", text(&o));
}

/// `sweep --watch` returns holds that fall due while it runs — holds another process
/// wrote — and stops cleanly on SIGTERM.
#[test]
fn sweep_watch_returns_holds_as_they_fall_due_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flashsale.db");
    assert!(run(dir.path(), &["init"]).status.success());
    let child = flashsale(dir.path(), &["sweep", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written after it started: it learns of them from the file, not from itself.
    abandoned_holds(&path, 2, 1);
    let waiting = Instant::now();
    while active(&path) > 0 {
        assert!(waiting.elapsed() < Duration::from_secs(20), "never swept");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text(&out).contains("stopped: 2 holds expired"),
        "{}",
        text(&out)
    );
    assert_eq!(books(&path, "PHONE-X1").0, 50);
}

/// The repro without the stopwatch: a `--retry` swarm's winners walk away;
/// "another process" (a second engine on the file) expires their holds and sells the
/// units in one transaction. The retrying losers must see from the database that
/// nothing can come back, and the run must end, with per-buyer outcomes that add up.
#[test]
fn retry_ends_when_another_process_took_the_units() {
    let db = db_with("FS", 2, 1);
    let open = |clock: Clock, sweeper: bool| {
        let (store, _) = Store::open(&db.path, common::options()).unwrap();
        Engine::open(
            store,
            EngineConfig {
                strategy: Strategy::Immediate,
                clock,
                sweeper,
                ..EngineConfig::default()
            },
        )
        .unwrap()
    };
    // This process never expires its own holds: only the other one does.
    let seller = open(Clock::real(), false);
    let mut config = SwarmConfig::new("FS", 6);
    config.threads = Some(6);
    config.retry = true;
    config.behaviour = Behaviour::from_flags(None, Some(1.0), None, None);
    let handle = swarm::start(&seller, &config).unwrap();
    let waiting = Instant::now();
    while books(&db.path, "FS").1 < 2 {
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "no holds taken"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The other process, an hour later by its clock: expire, then sell both units.
    let later = START.max(Clock::real().now()) + 3_600_000;
    // One transaction, as another process's would be: done as separate calls, a
    // retrying loser can take a unit in the moment between the sweep and the sales.
    let mut conn = rusqlite::Connection::open(&db.path).unwrap();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let returned = flashsale::hold::expire_due(&tx, later, 100).unwrap();
    assert_eq!(returned.len(), 2);
    let product = flashsale::hold::product_by_sku(&tx, "FS").unwrap().unwrap();
    for buyer in ["other-1", "other-2"] {
        let (h, _) =
            flashsale::hold::reserve_locked(&tx, &product, buyer, 1, later, 600_000).unwrap();
        flashsale::hold::checkout(&tx, h.id, buyer, later).unwrap();
    }
    tx.commit().unwrap();
    let (done, finished) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = done.send(handle.join());
    });
    let report = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the --retry run never ended")
        .unwrap();
    let b = &report.buyer_outcomes;
    assert_eq!(b.total(), 6, "{b:?}");
    assert_eq!((b.abandoned, b.turned_away), (2, 4), "{b:?}");
    assert!(report.buyer_retries > 0, "the losers did retry: {report:?}");
    assert_eq!(report.retries, 0, "the engine itself retried nothing");
}
