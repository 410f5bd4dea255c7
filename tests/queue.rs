//! The queue's group commit decides a whole batch in memory: these check that what it
//! decides is exactly what one request at a time would, on real threads and a real file.
//! The writer is kept busy while the requests arrive, so most of them share a batch
//! (whether they do or not, the counts below must hold).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{START, audit_ok, books, db_with};
use flashsale::engine::EngineConfig;
use flashsale::hold::Hold;
use flashsale::store::{Store, StoreOptions};
use flashsale::{Clock, Engine, Error, Strategy};

/// An engine at `synchronous=FULL`, a sale's default (the other tests' files run at
/// `NORMAL`): there the group commit leaves its fsync to the syncer thread, and every
/// answer here comes through it.
fn engine(path: &std::path::Path, strategy: Strategy, clock: Clock) -> Engine {
    let (store, _) = Store::open(path, StoreOptions::default()).expect("open");
    let config = EngineConfig {
        strategy,
        clock,
        sweeper: false,
        ..EngineConfig::default()
    };
    Engine::open(store, config).expect("engine")
}

/// A job a buyer thread runs against the engine.
type Job<T> = Box<dyn FnOnce(&Engine) -> T + Send>;

/// Every job on its own thread, all queued behind one long write, then answered.
/// Results in job order.
fn all_queued<T: Send + 'static>(engine: &Engine, jobs: Vec<Job<T>>) -> Vec<T> {
    let n = jobs.len();
    let started = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let (engine, started, barrier) =
                (engine.clone(), Arc::clone(&started), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                started.fetch_add(1, Ordering::SeqCst);
                job(&engine)
            })
        })
        .collect();
    // Hold the writer connection while the jobs pile up in its queue.
    engine.hold_writer(|| {
        barrier.wait();
        while started.load(Ordering::SeqCst) < n {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    handles
        .into_iter()
        .map(|h| h.join().expect("buyer"))
        .collect()
}

/// Every `(buyer, qty)` add-to-cart queued together.
fn in_one_batch(engine: &Engine, requests: &[(String, i64)]) -> Vec<flashsale::Result<Hold>> {
    let jobs: Vec<Job<_>> = requests
        .iter()
        .cloned()
        .map(|(buyer, qty)| -> Job<_> { Box::new(move |e: &Engine| e.reserve("Q", &buyer, qty)) })
        .collect();
    all_queued(engine, jobs)
}

#[test]
fn a_buyer_twice_in_one_batch_gets_one_unit_and_a_limit_answer() {
    let db = db_with("Q", 1000, 1);
    let engine = engine(&db.path, Strategy::Queue, Clock::manual(START));
    let requests: Vec<(String, i64)> = (0..200).map(|i| (format!("b{}", i % 100), 1)).collect();
    let results = in_one_batch(&engine, &requests);
    let held = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(Error::LimitReached {
                    held: 1,
                    limit: 1,
                    ..
                })
            )
        })
        .count();
    assert_eq!((held, limited), (100, 100));
    assert_eq!(books(&db.path, "Q"), (900, 100, 0, 0));
    assert!(audit_ok(&db.path).ok);
}

#[test]
fn a_group_commit_leaves_the_writer_connection_at_full_for_everyone_after_it() {
    // The group's own transaction runs at synchronous=OFF and the syncer thread flushes
    // it before anyone hears (`engine/syncer.rs`); every other commit on the connection
    // (immediate's, a checkout's) must still pay its own fsync.
    let db = db_with("Q", 100, 1);
    let engine = engine(&db.path, Strategy::Queue, Clock::manual(START));
    let requests: Vec<(String, i64)> = (0..50).map(|i| (format!("b{i}"), 1)).collect();
    let results = in_one_batch(&engine, &requests);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 50);
    let full = 2;
    assert_eq!(
        engine.writer_setting("synchronous").expect("pragma"),
        Some(full)
    );
    assert_eq!(books(&db.path, "Q"), (50, 50, 0, 0));
}

#[test]
fn a_batch_counts_units_across_quantities_and_a_buyers_earlier_holds() {
    let db = db_with("Q", 10, 3);
    let engine = engine(&db.path, Strategy::Queue, Clock::manual(START));
    engine.reserve("Q", "ann", 2).expect("ann's first two");
    // ann may take one more (limit 3); bob takes 3; cy asks 3 but only 2 are left of
    // the 5 after ann and bob; dee asks 2 of those 2.
    let requests = vec![
        ("ann".to_owned(), 2),
        ("ann".to_owned(), 1),
        ("bob".to_owned(), 3),
        ("cy".to_owned(), 4),
        ("dee".to_owned(), 2),
    ];
    let results = in_one_batch(&engine, &requests);
    let sold: i64 = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|h| h.qty)
        .sum();
    let (available, active, _, _) = books(&db.path, "Q");
    assert_eq!(available + active, 10, "the books balance");
    assert_eq!(active, 2 + sold);
    assert!(audit_ok(&db.path).ok);
    // ann never ends up above her limit, however the batch was cut.
    let ann: i64 = results[..2]
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|h| h.qty)
        .sum();
    assert!(ann <= 1, "ann had 2 of 3: {ann} more");
}

#[test]
fn a_buyer_at_the_limit_in_a_batch_is_refused_and_the_others_get_every_unit_left() {
    // The writer leaves the limit to the schema's trigger at first: ann's earlier hold
    // is not read, her grant is refused by the trigger, and the group is decided again.
    // The answers must be the ones of one request at a time: ann is refused, and the
    // unit her undone grant held goes to the others. (Threads arrive in any order: ann
    // decided after all four others finds none left rather than her limit.)
    let db = db_with("Q", 5, 1);
    let engine = engine(&db.path, Strategy::Queue, Clock::manual(START));
    engine.reserve("Q", "ann", 1).expect("ann's first");
    let requests: Vec<(String, i64)> = ["ann", "bob", "cy", "dee", "eve"]
        .iter()
        .map(|b| ((*b).to_owned(), 1))
        .collect();
    let results = in_one_batch(&engine, &requests);
    assert!(
        matches!(
            &results[0],
            Err(Error::LimitReached {
                held: 1,
                limit: 1,
                requested: 1,
                ..
            } | Error::SoldOut {
                available: 0,
                requested: 1,
                ..
            })
        ),
        "ann: {:?}",
        results[0]
    );
    assert!(results[1..].iter().all(Result::is_ok), "{results:?}");
    assert_eq!(books(&db.path, "Q"), (0, 5, 0, 0));
    assert!(audit_ok(&db.path).ok);
}

#[test]
fn expired_units_sell_again_inside_a_batch_and_their_buyers_may_buy_again() {
    let db = db_with("Q", 50, 1);
    let clock = Clock::manual(START);
    let engine = engine(&db.path, Strategy::Queue, clock.clone());
    let first: Vec<(String, i64)> = (0..50).map(|i| (format!("b{i}"), 1)).collect();
    assert!(in_one_batch(&engine, &first).iter().all(Result::is_ok));
    clock.advance(Duration::from_secs(601));
    // The same 50 buyers and 50 new ones: the expired holds free both the units and
    // their buyers' limit; exactly 50 win.
    let second: Vec<(String, i64)> = (0..100).map(|i| (format!("b{i}"), 1)).collect();
    let won = in_one_batch(&engine, &second)
        .iter()
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(won, 50);
    assert_eq!(books(&db.path, "Q"), (0, 50, 0, 0));
    assert!(audit_ok(&db.path).ok);
}

#[test]
fn hold_ids_of_one_batch_are_v7_and_sort_by_time() {
    let db = db_with("Q", 100, 1);
    let clock = Clock::manual(START);
    let engine = engine(&db.path, Strategy::Queue, clock.clone());
    let early = engine.reserve("Q", "early", 1).expect("hold");
    clock.advance(Duration::from_millis(5));
    let late = engine.reserve("Q", "late", 1).expect("hold");
    assert_eq!(early.id.0.get_version_num(), 7);
    assert!(early.id < late.id);
    let stamp = early.id.0.get_timestamp().map(|t| t.to_unix());
    let secs = u64::try_from(START / 1000).expect("start");
    assert_eq!(stamp, Some((secs, 0)));
}

#[test]
fn payments_releases_and_add_to_carts_share_a_commit_and_one_failure_undoes_only_itself() {
    let db = db_with("Q", 100, 1);
    let clock = Clock::manual(START);
    let engine = engine(&db.path, Strategy::Queue, clock.clone());
    let holds: Vec<Hold> = (0..40)
        .map(|i| engine.reserve("Q", &format!("b{i}"), 1).expect("a hold"))
        .collect();
    let commits = engine.counters().commits;
    // In one queue: 30 payments, one payment by the wrong buyer, 9 releases, 20 new
    // add-to-carts (of which 9 take the released units' place on the books).
    let mut jobs: Vec<Job<&'static str>> = Vec::new();
    for (i, hold) in holds.iter().cloned().enumerate() {
        jobs.push(match i {
            0..30 => Box::new(move |e: &Engine| e.checkout(&hold).map_or("refused", |_| "paid")),
            30 => Box::new(move |e: &Engine| {
                e.checkout_id(hold.id, "mallory")
                    .map_or("refused", |_| "paid")
            }),
            _ => Box::new(move |e: &Engine| e.release(&hold).map_or("refused", |()| "released")),
        });
        if i % 2 == 0 {
            let buyer = format!("n{i}");
            jobs.push(Box::new(move |e: &Engine| {
                e.reserve("Q", &buyer, 1).map_or("refused", |_| "held")
            }));
        }
    }
    let answers = all_queued(&engine, jobs);
    let count = |what: &str| answers.iter().filter(|a| **a == what).count();
    assert_eq!(
        (
            count("paid"),
            count("refused"),
            count("released"),
            count("held")
        ),
        (30, 1, 9, 20)
    );
    // Active: hold 30 (mallory could not pay it) and the 20 new ones.
    assert_eq!(books(&db.path, "Q"), (100 - 30 - 21, 21, 30, 30));
    assert!(audit_ok(&db.path).ok);
    let used = engine.counters().commits - commits;
    assert!(
        used < 60,
        "60 changes took {used} commits: they did not share any"
    );
}

#[test]
fn buyers_who_add_pay_release_and_extend_at_once_keep_the_books() {
    let db = db_with("Q", 60, 2);
    let clock = Clock::manual(START);
    let engine = engine(&db.path, Strategy::Queue, clock.clone());
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let (engine, barrier) = (engine.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut paid = 0;
                for i in 0..60 {
                    // Two buyers per thread, so a buyer's limit is met and freed again.
                    let buyer = format!("t{t}-{}", i % 2);
                    let Ok(hold) = engine.reserve("Q", &buyer, 1) else {
                        continue;
                    };
                    match (t + i) % 4 {
                        0 => paid += u64::from(engine.checkout(&hold).is_ok()),
                        1 => engine.release(&hold).expect("release my hold"),
                        2 => {
                            // (On a clock that stands still there is nothing to extend.)
                            let extended = engine.extend(hold.id, &buyer);
                            assert!(
                                matches!(extended, Ok(_) | Err(Error::ExtendLimit { .. })),
                                "{extended:?}"
                            );
                            engine.release(&hold).expect("release my hold");
                        }
                        _ => assert!(engine.checkout_id(hold.id, "someone else").is_err()),
                    }
                }
                paid
            })
        })
        .collect();
    let paid: u64 = handles.into_iter().map(|h| h.join().expect("buyer")).sum();
    let (available, active, sold, orders) = books(&db.path, "Q");
    assert_eq!(available + active + sold, 60, "the books balance");
    assert_eq!(i64::try_from(paid).expect("paid"), sold);
    assert_eq!(sold, orders);
    assert!(audit_ok(&db.path).ok);
}

/// The HTTP server's add-to-cart on `queue`: started without a thread waiting, answered
/// by the writer when its group commits (none while the writer is held), with the same
/// exact counts as blocking callers get. Other strategies decline to answer later.
#[test]
fn add_to_carts_started_from_one_thread_are_answered_later_with_exact_counts() {
    use flashsale_core::shop::Later;
    let db = db_with("ITEM", 20, 1);
    let engine = engine(&db.path, Strategy::Queue, Clock::manual(START));
    let (tx, rx) = std::sync::mpsc::channel();
    engine.hold_writer(|| {
        for i in 0..33 {
            let tx = tx.clone();
            let then = Box::new(move |later: Later| tx.send(later).unwrap());
            assert!(
                engine
                    .start_reserve("ITEM", &format!("b{i}"), 1, then)
                    .is_ok()
            );
        }
        assert!(rx.try_recv().is_err(), "nothing answered before the commit");
    });
    drop(tx);
    let (mut held, mut sold_out) = (0, 0);
    for later in rx.iter() {
        match later {
            Later::Answer(Ok(_)) => held += 1,
            Later::Answer(Err(Error::SoldOut { .. })) => sold_out += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((held, sold_out), (20, 13));
    assert_eq!(books(&db.path, "ITEM"), (0, 20, 0, 0));
    audit_ok(&db.path);

    engine.set_strategy(Strategy::Immediate).unwrap();
    let then = Box::new(|_: Later| panic!("immediate answers only reserve"));
    assert!(engine.start_reserve("ITEM", "late", 1, then).is_err());
}
