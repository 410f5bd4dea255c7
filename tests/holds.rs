//! Holds over time, on the manual clock: expiry, checkout, release, extend, bad input.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{START, audit_ok, books, db_with, engine};
use flashsale::{Clock, Error, Strategy};

const TTL: Duration = Duration::from_secs(600);

#[test]
fn abandoned_holds_expire_once_and_their_units_sell_again() {
    for strategy in Strategy::SAFE
        .into_iter()
        .filter(|s| *s != Strategy::PayFirst)
    {
        let db = db_with("FS", 5, 1);
        let clock = Clock::manual(START);
        let engine = engine(&db.path, strategy, clock.clone());
        let first: Vec<_> = (0..5)
            .map(|i| {
                engine
                    .reserve("FS", &format!("early-{i}"), 1)
                    .expect("hold")
            })
            .collect();
        assert!(
            matches!(
                engine.reserve("FS", "late-0", 1),
                Err(Error::SoldOut { available: 0, .. })
            ),
            "{strategy}"
        );
        clock.advance(TTL - Duration::from_millis(1));
        assert_eq!(
            engine.sweep().unwrap(),
            0,
            "{strategy}: nothing is due a millisecond early"
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(engine.sweep().unwrap(), 5, "{strategy}");
        assert_eq!(
            engine.sweep().unwrap(),
            0,
            "{strategy}: each hold expires exactly once"
        );
        assert_eq!(books(&db.path, "FS"), (5, 0, 0, 0), "{strategy}");
        // Checkout after expiry is refused.
        assert!(
            matches!(engine.checkout(&first[0]), Err(Error::HoldExpired { .. })),
            "{strategy}"
        );
        for i in 0..5 {
            let hold = engine
                .reserve("FS", &format!("late-{i}"), 1)
                .expect("a returned unit");
            engine.checkout(&hold).expect("pay");
        }
        assert_eq!(books(&db.path, "FS"), (0, 0, 5, 5), "{strategy}");
        assert!(audit_ok(&db.path).ok);
    }
}

#[test]
fn reserve_reclaims_expired_holds_lazily_without_a_sweeper() {
    for strategy in Strategy::SAFE {
        let db = db_with("FS", 2, 1);
        let clock = Clock::manual(START);
        let engine = engine(&db.path, strategy, clock.clone());
        if strategy == Strategy::PayFirst {
            continue; // pay-first takes no hold to expire
        }
        engine.reserve("FS", "a", 1).unwrap();
        engine.reserve("FS", "b", 1).unwrap();
        assert!(engine.reserve("FS", "c", 1).is_err(), "{strategy}");
        clock.advance(TTL);
        let hold = engine
            .reserve("FS", "c", 1)
            .unwrap_or_else(|e| panic!("{strategy}: {e}"));
        engine.checkout(&hold).unwrap();
        let (available, active, paid, _) = books(&db.path, "FS");
        assert_eq!((available, active, paid), (1, 0, 1), "{strategy}");
    }
}

#[test]
fn checkout_is_idempotent_and_only_for_the_holder() {
    let db = db_with("FS", 3, 1);
    let engine = engine(&db.path, Strategy::Immediate, Clock::manual(START));
    let hold = engine.reserve("FS", "alice", 1).unwrap();
    assert!(matches!(
        engine.checkout_id(hold.id, "mallory"),
        Err(Error::NotYourHold { .. })
    ));
    assert!(matches!(
        engine.release_id(hold.id, "mallory"),
        Err(Error::NotYourHold { .. })
    ));
    let first = engine.checkout(&hold).unwrap();
    let second = engine.checkout(&hold).unwrap();
    assert_eq!(first, second, "the same hold paid twice gives one order");
    assert_eq!(books(&db.path, "FS"), (2, 0, 1, 1));
    assert!(matches!(
        engine.release(&hold),
        Err(Error::HoldClosed { .. })
    ));
}

#[test]
fn release_puts_the_unit_back_at_once() {
    let db = db_with("FS", 1, 1);
    let engine = engine(&db.path, Strategy::Atomic, Clock::manual(START));
    let hold = engine.reserve("FS", "alice", 1).unwrap();
    engine.release(&hold).unwrap();
    assert!(matches!(
        engine.checkout(&hold),
        Err(Error::HoldClosed { .. })
    ));
    let again = engine.reserve("FS", "bob", 1).unwrap();
    engine.checkout(&again).unwrap();
    assert_eq!(books(&db.path, "FS"), (0, 0, 1, 1));
}

#[test]
fn extend_is_capped_in_count_and_total_time() {
    let db = db_with("FS", 1, 1);
    let clock = Clock::manual(START);
    let engine = engine(&db.path, Strategy::Immediate, clock.clone());
    let hold = engine.reserve("FS", "alice", 1).unwrap();
    assert!(matches!(
        engine.extend(hold.id, "bob"),
        Err(Error::NotYourHold { .. })
    ));
    clock.advance(Duration::from_secs(300));
    let once = engine.extend(hold.id, "alice").unwrap();
    assert_eq!(once.expires_at, START + 900_000, "now + TTL");
    clock.advance(Duration::from_secs(500));
    let twice = engine.extend(hold.id, "alice").unwrap();
    assert_eq!(
        twice.expires_at,
        START + 1_200_000,
        "never past created + max_hold"
    );
    assert!(matches!(
        engine.extend(hold.id, "alice"),
        Err(Error::ExtendLimit { .. })
    ));
    clock.advance(Duration::from_secs(400));
    assert!(matches!(
        engine.checkout(&twice),
        Err(Error::HoldExpired { .. })
    ));
}

#[test]
fn bad_requests_get_typed_errors_with_clear_sentences() {
    let db = db_with("FS", 3, 2);
    let engine = engine(&db.path, Strategy::Immediate, Clock::manual(START));
    let e = engine.reserve("NOPE", "a", 1).unwrap_err();
    assert!(matches!(e, Error::UnknownSku { .. }));
    assert!(e.to_string().contains("FS"), "names the known SKUs: {e}");
    assert!(matches!(
        engine.reserve("FS", "a", 0),
        Err(Error::BadQuantity { requested: 0 })
    ));
    assert!(matches!(
        engine.reserve("FS", "a", -3),
        Err(Error::BadQuantity { requested: -3 })
    ));
    let e = engine.reserve("FS", "a", 3).unwrap_err();
    assert!(matches!(e, Error::LimitReached { limit: 2, .. }), "{e}");
    engine.reserve("FS", "a", 2).unwrap();
    let e = engine.reserve("FS", "b", 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Insufficient stock for Test FS (available: 1, requested: 2)"
    );
    let e = engine.reserve("FS", "a", 1).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LimitReached {
                held: 2,
                limit: 2,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        books(&db.path, "FS"),
        (1, 2, 0, 0),
        "nothing was lost by the refusals"
    );
}

#[test]
fn the_per_buyer_limit_holds_under_every_strategy() {
    for strategy in Strategy::SAFE {
        let db = db_with("FS", 10, 1);
        let engine = engine(&db.path, strategy, Clock::manual(START));
        let barrier = Arc::new(Barrier::new(8));
        let results: Vec<_> = (0..8)
            .map(|_| {
                let engine = engine.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    engine
                        .reserve("FS", "greedy", 1)
                        .and_then(|h| engine.checkout(&h))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{strategy}"
        );
        assert!(audit_ok(&db.path).ok, "{strategy}");
    }
}

/// Checkout and the sweeper race for the same hold, 1,000 times. The two engines stand
/// for two processes whose clocks straddle the deadline: for the buyer the hold is still
/// valid, for the sweeper it is due. Exactly one of them may win.
#[test]
fn checkout_racing_the_sweeper_ends_as_exactly_one_outcome() {
    const ROUNDS: i64 = 1000;
    let db = db_with("FS", ROUNDS, 1);
    let buyer_clock = Clock::manual(START);
    let sweeper_clock = Clock::manual(START);
    let buyer_side = engine(&db.path, Strategy::Immediate, buyer_clock.clone());
    let sweeper_side = engine(&db.path, Strategy::Immediate, sweeper_clock.clone());
    let (mut paid, mut expired) = (0, 0);
    for round in 0..ROUNDS {
        let hold = buyer_side.reserve("FS", &format!("b{round}"), 1).unwrap();
        buyer_clock.set(hold.expires_at - 1);
        sweeper_clock.set(hold.expires_at);
        let barrier = Arc::new(Barrier::new(2));
        let pay = {
            let (engine, barrier, hold) = (buyer_side.clone(), Arc::clone(&barrier), hold.clone());
            std::thread::spawn(move || {
                barrier.wait();
                engine.checkout(&hold)
            })
        };
        let sweep = {
            let (engine, barrier) = (sweeper_side.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                engine.sweep()
            })
        };
        let paid_now = pay.join().unwrap();
        let swept = sweep.join().unwrap().unwrap();
        match paid_now {
            Ok(_) => {
                assert_eq!(swept, 0, "round {round}: a paid hold must not expire");
                paid += 1;
            }
            Err(Error::HoldExpired { .. }) => {
                assert_eq!(swept, 1, "round {round}");
                expired += 1;
            }
            Err(e) => panic!("round {round}: {e}"),
        }
        buyer_clock.set(START);
    }
    assert_eq!(paid + expired, ROUNDS);
    // Each unit came back at most once: the books balance exactly.
    let (available, active, sold, orders) = books(&db.path, "FS");
    assert_eq!((active, sold, orders), (0, paid, paid));
    assert_eq!(available, ROUNDS - paid);
    assert!(audit_ok(&db.path).ok);
    eprintln!("checkout won {paid}, sweeper won {expired}");
}

#[test]
fn warp_shortens_the_hold_but_stores_real_times() {
    let db = db_with("FS", 1, 1);
    let clock = Clock::manual(START).with_warp(60);
    let engine = engine(&db.path, Strategy::Immediate, clock.clone());
    let hold = engine.reserve("FS", "a", 1).unwrap();
    assert_eq!(
        hold.expires_at - hold.created_at,
        10_000,
        "10 minutes at x60 = 10 real seconds"
    );
    assert_eq!(clock.sale_time_left(hold.expires_at), TTL);
}
