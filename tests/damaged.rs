//! A sale the naive strategy oversold stays oversold in the books: restock and expiry
//! settle what they must without rewriting history, and the sweeper does not spin on it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{START, audit_ok, books, db_with, engine};
use flashsale::audit::Violation;
use flashsale::hold::MAX_STOCK;
use flashsale::{Clock, Engine, EngineConfig, Error, Store, Strategy};

/// What a naive run leaves behind, made by hand so the numbers are exact: 5 units in
/// stock, none available, 8 buyers holding one each (3 more than exist), due at
/// `expires_at`.
fn oversell_by_hand(path: &Path, expires_at: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "UPDATE products SET stock_available = 0 WHERE sku = 'FS'",
        [],
    )
    .unwrap();
    for i in 0..8 {
        conn.execute(
            "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
             SELECT ?1, id, ?2, 1, 'active', ?3, ?4 FROM products WHERE sku = 'FS'",
            rusqlite::params![
                uuid::Uuid::new_v4().to_string(),
                format!("naive-{i}"),
                expires_at - 600_000,
                expires_at
            ],
        )
        .unwrap();
    }
}

fn oversold_by(path: &Path) -> Option<(i64, i64)> {
    audit_ok(path).violations.into_iter().find_map(|v| match v {
        Violation::Oversold { excess, short, .. } => Some((excess, short)),
        _ => None,
    })
}

fn total(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT stock_total FROM products WHERE sku = 'FS'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn restock_moves_available_and_total_together_and_keeps_an_oversell() {
    let db = db_with("FS", 5, 1);
    oversell_by_hand(&db.path, START + 600_000);
    assert_eq!(oversold_by(&db.path), Some((3, 0)));
    let engine = engine(&db.path, Strategy::Immediate, Clock::manual(START));
    engine.restock("FS", 50).unwrap();
    // 50 more units came in: available 0 -> 50, total 5 -> 55. Folding the 8 held
    // units into the total (58) would make the audit pass again.
    assert_eq!(books(&db.path, "FS").0, 50);
    assert_eq!(total(&db.path), 55);
    assert_eq!(oversold_by(&db.path), Some((3, 0)), "the oversell stays");
    engine.restock("FS", 10).unwrap();
    assert_eq!((books(&db.path, "FS").0, total(&db.path)), (10, 15));
    assert_eq!(oversold_by(&db.path), Some((3, 0)));
}

#[test]
fn restock_on_a_clean_sale_keeps_the_books_balanced() {
    let db = db_with("FS", 5, 1);
    let engine = engine(&db.path, Strategy::Immediate, Clock::manual(START));
    let hold = engine.reserve("FS", "a", 1).unwrap();
    engine.checkout(&hold).unwrap();
    engine.reserve("FS", "b", 1).unwrap();
    engine.restock("FS", 20).unwrap();
    assert_eq!(books(&db.path, "FS"), (20, 1, 1, 1));
    assert_eq!(total(&db.path), 22);
    assert!(audit_ok(&db.path).ok);
}

#[test]
fn a_huge_restock_is_refused_and_the_file_stays_readable() {
    let db = db_with("FS", 5, 1);
    let engine = engine(&db.path, Strategy::Immediate, Clock::manual(START));
    for i in 0..3 {
        let hold = engine.reserve("FS", &format!("b{i}"), 1).unwrap();
        engine.checkout(&hold).unwrap();
    }
    for huge in [i64::MAX, MAX_STOCK + 1, -1] {
        assert!(
            matches!(engine.restock("FS", huge), Err(Error::Usage(_))),
            "{huge}"
        );
    }
    engine.restock("FS", MAX_STOCK).unwrap();
    // Every column still reads as an INTEGER (an overflow would have made it a REAL).
    assert_eq!(total(&db.path), MAX_STOCK + 3);
    assert!(audit_ok(&db.path).ok);
    assert_eq!(engine.stock().unwrap()[0].available, MAX_STOCK);
}

#[test]
fn expiry_settles_every_due_hold_once_on_an_oversold_sale() {
    for strategy in [Strategy::Immediate, Strategy::Queue, Strategy::Atomic] {
        let db = db_with("FS", 5, 1);
        oversell_by_hand(&db.path, START + 600_000);
        let clock = Clock::manual(START);
        let engine = engine(&db.path, strategy, clock.clone());
        clock.advance(Duration::from_secs(600));
        assert_eq!(engine.sweep().unwrap(), 8, "{strategy}: every due hold");
        assert_eq!(engine.sweep().unwrap(), 0, "{strategy}: once");
        // 5 units went back (the stock is full), 3 never existed and stay on record.
        assert_eq!(books(&db.path, "FS"), (5, 0, 0, 0), "{strategy}");
        assert_eq!(oversold_by(&db.path), Some((3, 3)), "{strategy}");
        // The 5 real units sell again; the oversell stays visible.
        for i in 0..5 {
            let hold = engine.reserve("FS", &format!("later-{i}"), 1).unwrap();
            engine.checkout(&hold).unwrap();
        }
        assert!(engine.reserve("FS", "one-too-many", 1).is_err());
        assert_eq!(oversold_by(&db.path), Some((3, 3)), "{strategy}");
    }
}

#[test]
fn release_and_a_late_checkout_on_an_oversold_sale_close_their_holds() {
    let db = db_with("FS", 2, 1);
    let clock = Clock::manual(START);
    let engine = engine(&db.path, Strategy::Immediate, clock.clone());
    let a = engine.reserve("FS", "a", 1).unwrap();
    let b = engine.reserve("FS", "b", 1).unwrap();
    // A lost update elsewhere: the stock reads full while both units are held.
    rusqlite::Connection::open(&db.path)
        .unwrap()
        .execute("UPDATE products SET stock_available = 2", [])
        .unwrap();
    engine.release(&a).unwrap();
    clock.advance(Duration::from_secs(600));
    assert!(matches!(
        engine.checkout(&b),
        Err(Error::HoldExpired { .. })
    ));
    assert_eq!(books(&db.path, "FS"), (2, 0, 0, 0));
    assert_eq!(oversold_by(&db.path), Some((2, 2)));
}

/// The console's sweeper after a naive run whose holds have expired: it settles them
/// and then does nothing — no write, no failed transaction, round after round.
#[test]
fn the_sweeper_goes_quiet_after_settling_an_oversold_sale() {
    let db = db_with("FS", 5, 1);
    let now = Clock::real().now();
    oversell_by_hand(&db.path, now - 1_000);
    let (store, _) = Store::open(&db.path, common::options()).unwrap();
    let engine = Engine::open(
        store,
        EngineConfig {
            strategy: Strategy::Immediate,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let waiting = Instant::now();
    while books(&db.path, "FS").1 > 0 {
        assert!(waiting.elapsed() < Duration::from_secs(20), "never swept");
        std::thread::sleep(Duration::from_millis(20));
    }
    let settled = engine.counters();
    let (passes, _) = engine.sweeper_stats();
    // Watch it for a few of its rounds (the sweeper re-reads deadlines every 250 ms).
    while engine.sweeper_stats().0 < passes + 4 {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "sweeper stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle = engine.counters();
    assert_eq!(idle.commits, settled.commits, "no writes while idle");
    assert_eq!(idle.rollbacks, 0, "no failed sweep");
    assert_eq!(engine.sweeper_stats().1, 0);
    assert_eq!(oversold_by(&db.path), Some((3, 3)));
}

/// A sweep that fails every time (here a trigger refuses every expiry) is retried after
/// a growing pause, not at once: a handful of attempts in two seconds, not thousands.
#[test]
fn a_sweeper_meeting_a_persistent_error_backs_off() {
    let db = db_with("FS", 5, 1);
    oversell_by_hand(&db.path, Clock::real().now() - 1_000);
    rusqlite::Connection::open(&db.path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER jam BEFORE UPDATE OF status ON holds
             BEGIN SELECT RAISE(ABORT, 'jammed'); END;",
        )
        .unwrap();
    let (store, _) = Store::open(&db.path, common::options()).unwrap();
    let engine = Engine::open(store, EngineConfig::default()).unwrap();
    let waiting = Instant::now();
    while engine.sweeper_stats().1 == 0 {
        assert!(waiting.elapsed() < Duration::from_secs(20), "never tried");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (_, failures) = engine.sweeper_stats();
    // Pauses of 0.5, 1 and 2 s follow the first failure.
    assert!(failures <= 4, "{failures} failed sweeps in two seconds");
    assert_eq!(books(&db.path, "FS").1, 8, "nothing half-done");
}
