//! Race tests: real threads against a real SQLite file, exact counts.

mod common;

use std::sync::{Arc, Barrier};

use common::{START, audit_ok, books, db_with, engine};
use flashsale::swarm::{self, SwarmConfig};
use flashsale::{Clock, Error, Strategy};

/// `buyers` threads released together; each adds to cart and pays. Returns
/// (orders, refusals) as the threads saw them.
fn race(strategy: Strategy, stock: i64, buyers: usize) -> (usize, usize, common::Db) {
    let db = db_with("FS", stock, 1);
    let engine = engine(&db.path, strategy, Clock::manual(START));
    let barrier = Arc::new(Barrier::new(buyers));
    let handles: Vec<_> = (0..buyers)
        .map(|i| {
            let engine = engine.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let buyer = format!("buyer-{i}");
                engine
                    .reserve("FS", &buyer, 1)
                    .and_then(|hold| engine.checkout(&hold))
            })
        })
        .collect();
    let mut orders = 0;
    let mut refusals = 0;
    for h in handles {
        match h.join().expect("buyer thread") {
            Ok(_) => orders += 1,
            Err(Error::SoldOut { .. } | Error::Refunded { .. }) => refusals += 1,
            Err(e) => panic!("{strategy}: unexpected error {e}"),
        }
    }
    (orders, refusals, db)
}

#[test]
fn twenty_units_thirty_three_buyers_every_safe_strategy() {
    for strategy in Strategy::SAFE {
        let (orders, refusals, db) = race(strategy, 20, 33);
        assert_eq!((orders, refusals), (20, 13), "{strategy}");
        assert_eq!(
            books(&db.path, "FS"),
            (0, 0, 20, 20),
            "{strategy}: available, held, paid, orders"
        );
        assert!(audit_ok(&db.path).ok, "{strategy}");
    }
}

#[test]
fn one_unit_a_hundred_buyers_every_safe_strategy() {
    for strategy in Strategy::SAFE {
        let (orders, refusals, db) = race(strategy, 1, 100);
        assert_eq!((orders, refusals), (1, 99), "{strategy}");
        assert_eq!(books(&db.path, "FS"), (0, 0, 1, 1), "{strategy}");
    }
}

#[test]
fn fifty_units_five_thousand_buyer_threads_every_safe_strategy() {
    for strategy in Strategy::SAFE {
        let db = db_with("FS", 50, 1);
        let engine = engine(&db.path, strategy, Clock::real());
        let mut config = SwarmConfig::new("FS", 5000);
        config.threads = Some(5000);
        let report = swarm::run(&engine, &config).expect("swarm");
        assert_eq!(report.threads, 5000, "{strategy}: real threads");
        assert_eq!(report.sold, 50, "{strategy}");
        assert_eq!(report.oversold, 0, "{strategy}");
        assert_eq!(report.undersold, 0, "{strategy}");
        assert_eq!(report.attempts, 5000, "{strategy}");
        // Pay-first turns losers away at payment, with a refund.
        let refused = if strategy == Strategy::PayFirst {
            report.refunds
        } else {
            report.rejected_sold_out
        };
        assert_eq!(refused, 4950, "{strategy}");
        assert_eq!(books(&db.path, "FS"), (0, 0, 50, 50), "{strategy}");
    }
}

#[test]
fn naive_oversells_and_the_audit_catches_it() {
    let db = db_with("FS", 20, 1);
    let engine = engine(&db.path, Strategy::Naive, Clock::real());
    let mut config = SwarmConfig::new("FS", 200);
    config.threads = Some(200);
    let report = swarm::run(&engine, &config).expect("swarm");
    assert!(
        report.oversold > 0,
        "naive with a race window must oversell: {report:?}"
    );
    let audit = audit_ok(&db.path);
    assert!(!audit.ok);
    assert!(
        audit.violations.iter().any(|v| matches!(v, flashsale::audit::Violation::Oversold { sku, excess, .. } if sku == "FS" && *excess == report.oversold)),
        "{:?}",
        audit.violations
    );
}
