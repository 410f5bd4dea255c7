//! The race tests of seed 003 (20 units, 33 buyers) and seed 002 (1 unit, 100 buyers),
//! the per-buyer limit under a buyer racing themself, naive's oversell and the audit,
//! each from one test body against both stores: an SQLite file and a PostgreSQL
//! database (started by the test from Debian's package; skipped with a note where the
//! machine has none — CI installs it).

mod common;

use std::sync::{Arc, Barrier};

use common::START;
use common::both::{Sale, stores};
use common::servers::Postgres;
use flashsale::{Clock, Error, Strategy};

/// `buyers` threads released together on `sale`; each adds to cart and pays. Returns
/// (orders, refusals) as the threads saw them.
fn race(sale: &Sale, strategy: Strategy, buyers: usize, one_buyer: bool) -> (usize, usize) {
    let engine = sale.engine(strategy, Clock::manual(START));
    let barrier = Arc::new(Barrier::new(buyers));
    let handles: Vec<_> = (0..buyers)
        .map(|i| {
            let engine = engine.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let buyer = if one_buyer {
                    "the-same-buyer".to_owned()
                } else {
                    format!("buyer-{i}")
                };
                engine
                    .reserve("FS", &buyer, 1)
                    .and_then(|hold| engine.checkout(&hold))
            })
        })
        .collect();
    let (mut orders, mut refusals) = (0, 0);
    for h in handles {
        match h.join().expect("buyer thread") {
            Ok(_) => orders += 1,
            Err(Error::SoldOut { .. } | Error::Refunded { .. } | Error::LimitReached { .. }) => {
                refusals += 1;
            }
            Err(e) => panic!("{} {strategy}: unexpected error {e}", sale.name()),
        }
    }
    (orders, refusals)
}

#[test]
fn twenty_units_thirty_three_buyers_every_safe_strategy_on_both_stores() {
    let pg = Postgres::start();
    for strategy in Strategy::SAFE {
        let name = format!("twenty_{}", strategy.name().replace('-', "_"));
        for sale in stores(pg.as_ref(), &name, "FS", 20, 1) {
            let (orders, refusals) = race(&sale, strategy, 33, false);
            let on = format!("{} {strategy}", sale.name());
            assert_eq!((orders, refusals), (20, 13), "{on}");
            let stock = sale.stock("FS");
            assert_eq!(
                (stock.available, stock.held, stock.sold),
                (0, 0, 20),
                "{on}"
            );
            let audit = sale.audit();
            assert!(audit.ok, "{on}: {:?}", audit.violations);
            assert_eq!(audit.orders, 20, "{on}");
        }
    }
}

#[test]
fn one_unit_a_hundred_buyers_every_safe_strategy_on_both_stores() {
    let pg = Postgres::start();
    for strategy in Strategy::SAFE {
        let name = format!("one_{}", strategy.name().replace('-', "_"));
        for sale in stores(pg.as_ref(), &name, "FS", 1, 1) {
            let on = format!("{} {strategy}", sale.name());
            assert_eq!(race(&sale, strategy, 100, false), (1, 99), "{on}");
            let stock = sale.stock("FS");
            assert_eq!((stock.available, stock.held, stock.sold), (0, 0, 1), "{on}");
            assert!(sale.audit().ok, "{on}");
        }
    }
}

#[test]
fn one_buyer_racing_themself_gets_exactly_the_limit_on_both_stores() {
    let pg = Postgres::start();
    for strategy in Strategy::SAFE {
        let name = format!("limit_{}", strategy.name().replace('-', "_"));
        for sale in stores(pg.as_ref(), &name, "FS", 50, 3) {
            let on = format!("{} {strategy}", sale.name());
            assert_eq!(race(&sale, strategy, 40, true), (3, 37), "{on}");
            let stock = sale.stock("FS");
            assert_eq!((stock.available, stock.sold), (47, 3), "{on}");
            assert!(sale.audit().ok, "{on}");
        }
    }
}

#[test]
fn naive_oversells_on_both_stores_and_the_audit_says_by_how_much() {
    let pg = Postgres::start();
    for sale in stores(pg.as_ref(), "naive", "FS", 5, 1) {
        let (orders, _) = race(&sale, Strategy::Naive, 60, false);
        let stock = sale.stock("FS");
        let on = sale.name();
        assert!(orders > 5, "{on}: the lost update sold {orders} of 5");
        // Stale writes may also leave units "available" that were sold: at least the
        // extra orders are oversold.
        assert!(
            stock.oversold() >= i64::try_from(orders).unwrap() - 5,
            "{on}"
        );
        let audit = sale.audit();
        assert!(!audit.ok, "{on}: the audit must fail");
        assert!(
            audit
                .violations
                .iter()
                .any(|v| v.to_string().contains("Oversold")),
            "{on}: {:?}",
            audit.violations
        );
    }
}

#[test]
fn expiry_gives_units_back_once_and_a_late_payment_is_refused_on_both_stores() {
    let pg = Postgres::start();
    for sale in stores(pg.as_ref(), "expiry", "FS", 2, 1) {
        let on = sale.name();
        let clock = Clock::manual(START);
        let engine = sale.engine(Strategy::Immediate, clock.clone());
        let a = engine.reserve("FS", "ann", 1).expect("ann's hold");
        let b = engine.reserve("FS", "bob", 1).expect("bob's hold");
        assert!(matches!(
            engine.reserve("FS", "cy", 1),
            Err(Error::SoldOut { .. })
        ));
        engine.checkout(&a).expect("ann pays in time");
        clock.advance(std::time::Duration::from_secs(601));
        assert_eq!(
            engine.sweep().expect("sweep"),
            1,
            "{on}: bob's hold expires"
        );
        assert_eq!(engine.sweep().expect("sweep"), 0, "{on}: once");
        assert!(
            matches!(engine.checkout(&b), Err(Error::HoldExpired { .. })),
            "{on}"
        );
        engine.reserve("FS", "cy", 1).expect("cy gets bob's unit");
        let stock = sale.stock("FS");
        assert_eq!((stock.available, stock.held, stock.sold), (0, 1, 1), "{on}");
        assert!(sale.audit().ok, "{on}");
    }
}

/// The console's read model reads the same sale the same way on both stores: one
/// reading after two holds (one of a web buyer), a payment and a release.
#[test]
fn the_read_model_reads_the_same_sale_on_both_stores() {
    use flashsale::monitor::Query;
    let pg = Postgres::start();
    for sale in stores(pg.as_ref(), "read_model", "FS", 10, 2) {
        let on = sale.name();
        let engine = sale.engine(Strategy::Immediate, Clock::manual(START));
        let paid = engine.reserve("FS", "ann", 1).expect("ann");
        engine.checkout(&paid).expect("pays");
        let web = engine.reserve("FS", "web-bob-1", 2).expect("bob");
        let gone = engine.reserve("FS", "cy", 1).expect("cy");
        engine.release(&gone).expect("releases");
        let query = Query {
            follow: vec![paid.id, gone.id],
            returned: true,
            ..Query::default()
        };
        let s = engine.reader().read(&query, START).expect("a reading");
        let stock = &s.stock[0];
        assert_eq!((stock.available, stock.held, stock.sold), (7, 2, 1), "{on}");
        assert_eq!(s.active_holds, 1, "{on}");
        assert_eq!(s.holds.len(), 1, "{on}");
        assert_eq!((s.holds[0].id, s.holds[0].qty), (web.id, 2), "{on}");
        assert_eq!(s.orders.len(), 1, "{on}");
        assert_eq!(s.orders[0].buyer, "ann", "{on}");
        assert_eq!((s.holds_written, s.orders_written), (3, 1), "{on}");
        let statuses: Vec<_> = s.followed.iter().map(|f| f.status.as_str()).collect();
        assert_eq!(statuses, ["paid", "released"], "{on}");
        assert_eq!((s.web.holds, s.web.orders), (1, 0), "{on}");
        let back = s.returned.expect("asked for");
        assert_eq!(
            (back.expired, back.released, back.refunded),
            (0, 1, 0),
            "{on}"
        );
        assert!(s.rules.is_some(), "{on}");
        assert_eq!(s.prices.len(), 1, "{on}");
        assert!(s.oversold().next().is_none(), "{on}");
    }
}
