//! The per-buyer limit under a race: one buyer in many tabs at once, real threads against
//! a real SQLite file, exact counts. The lab's matrix says the shop's schema stops a
//! limit bypass whatever the strategy's own check does; this is the engine agreeing.

mod common;

use std::sync::{Arc, Barrier};

use common::{START, audit_ok, books, db_with, engine};
use flashsale::{Clock, Error, Strategy};

/// `tabs` threads of the same buyer, released together, each adding `qty` to the cart
/// and paying. Returns the units paid for and the refusals by the per-buyer limit (for
/// pay-first, which claims stock only at payment, a refusal at payment is a refund).
fn one_buyer_in_many_tabs(
    strategy: Strategy,
    limit: i64,
    qty: i64,
    tabs: usize,
) -> (i64, usize, common::Db) {
    let db = db_with("FS", 40, limit);
    let engine = engine(&db.path, strategy, Clock::manual(START));
    let barrier = Arc::new(Barrier::new(tabs));
    let handles: Vec<_> = (0..tabs)
        .map(|_| {
            let engine = engine.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                engine
                    .reserve("FS", "greedy", qty)
                    .and_then(|hold| engine.checkout(&hold))
            })
        })
        .collect();
    let mut paid = 0;
    let mut refused = 0;
    for h in handles {
        match h.join().expect("tab thread") {
            Ok(order) => paid += order.qty,
            Err(Error::LimitReached { .. }) => refused += 1,
            Err(Error::Refunded { .. }) if strategy == Strategy::PayFirst => refused += 1,
            Err(e) => panic!("{strategy}: unexpected error {e}"),
        }
    }
    (paid, refused, db)
}

#[test]
fn sixteen_tabs_of_one_buyer_get_exactly_the_limit_under_every_safe_strategy() {
    for strategy in Strategy::SAFE {
        let (paid, refused, db) = one_buyer_in_many_tabs(strategy, 3, 1, 16);
        assert_eq!((paid, refused), (3, 13), "{strategy}: units paid, refusals");
        assert_eq!(
            books(&db.path, "FS"),
            (37, 0, 3, 3),
            "{strategy}: available, held, paid, orders"
        );
        assert!(audit_ok(&db.path).ok, "{strategy}");
    }
}

#[test]
fn the_limit_counts_units_not_holds_under_every_safe_strategy() {
    // Limit 3, two units a tab: one tab fits, a second would make 4.
    for strategy in Strategy::SAFE {
        let (paid, refused, db) = one_buyer_in_many_tabs(strategy, 3, 2, 8);
        assert_eq!((paid, refused), (2, 7), "{strategy}: units paid, refusals");
        assert_eq!(books(&db.path, "FS"), (38, 0, 2, 1), "{strategy}");
        assert!(audit_ok(&db.path).ok, "{strategy}");
    }
}
