//! The PostgreSQL store's state changes under real contention: real threads, each with
//! its own connection and transaction, against a real server. Exact counts, as on
//! SQLite: 20 units and 33 buyers give exactly 20 holds and 13 sold-out answers, for
//! every safe way of taking a hold; the naive one oversells; the per-buyer limit holds;
//! checkouts racing two sweepers give every hold exactly one end.

mod common;

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::servers::Postgres;
use flashsale::error::Error;
use flashsale::hold::{Checkout, Hold, HoldKind, ProductInfo};
use flashsale::ids::HoldId;
use flashsale::pg::hold::{self as pg, Cas, OneCall};
use flashsale::pg::{PgStore, sale as pg_sale};
use flashsale::sale::{ProductSpec, SaleFile};
use flashsale::sql::SqlError;

const NOW: i64 = 1_800_000_000_000;
const TTL: i64 = 600_000;

/// A database holding one product `PHONE` with `stock` units and `limit` per buyer.
fn sale(pg: &Postgres, name: &str, stock: i64, limit: i64) -> (PgStore, ProductInfo) {
    let url = pg.database(name);
    let store = PgStore::open(&url).expect("open");
    let sale = SaleFile {
        name: "Race".into(),
        hold_ttl: Duration::from_secs(600),
        max_per_buyer: limit,
        max_extensions: 2,
        max_hold: None,
        products: vec![ProductSpec {
            sku: "PHONE".into(),
            name: "Phone".into(),
            price_cents: 100,
            stock,
            max_per_buyer: None,
        }],
    };
    let mut conn = store.conn().unwrap();
    pg_sale::load(&mut conn, &sale, NOW).expect("load");
    let product = pg::all_products(&mut *conn).unwrap().remove(0);
    drop(conn);
    (store, product)
}

#[derive(Clone, Copy, Debug)]
enum Way {
    Immediate,
    Atomic,
    Optimistic,
    PayFirst,
}

fn one_call(way: Way) -> OneCall {
    match way {
        Way::Atomic => OneCall::Atomic,
        _ => OneCall::Immediate,
    }
}

/// One buyer's attempt, the way `way` takes a hold, in its own transaction(s).
fn attempt(store: &PgStore, product: &ProductInfo, buyer: &str, way: Way) -> Result<(), SqlError> {
    let mut conn = store.conn()?;
    match way {
        // One call in autocommit: the store's own way.
        Way::Immediate | Way::Atomic => {
            pg::reserve_in_one_call(&mut *conn, one_call(way), product, buyer, 1, NOW, TTL)
                .map(drop)
        }
        Way::Optimistic => {
            let mut seen = pg::available(&mut *conn, product.id)?;
            for round in 0..500u64 {
                let mut tx = conn.transaction()?;
                match pg::reserve_cas(&mut tx, product, buyer, 1, seen, NOW, TTL)? {
                    Cas::Won(_) => {
                        tx.commit()?;
                        return Ok(());
                    }
                    Cas::Lost(now) => {
                        drop(tx);
                        seen = now;
                        std::thread::sleep(Duration::from_micros(100 * (round % 8)));
                    }
                }
            }
            panic!("optimistic never finished")
        }
        Way::PayFirst => {
            let cart = Hold {
                id: HoldId::at(1_800_000_000_000),
                product_id: product.id,
                buyer: buyer.into(),
                qty: 1,
                created_at: NOW,
                expires_at: NOW + TTL,
                kind: HoldKind::Cart,
            };
            let mut tx = conn.transaction()?;
            let paid = pg::pay_first(&mut tx, product, &cart, NOW + 1)?;
            tx.commit()?;
            paid.map(|_| ()).map_err(|_| {
                SqlError(Error::Refunded {
                    product: product.name.clone(),
                })
            })
        }
    }
}

/// `buyers` threads released together; returns (won, sold out, other errors).
fn race(
    store: PgStore,
    product: ProductInfo,
    buyers: usize,
    same_buyer: bool,
    way: Way,
) -> (usize, usize, Vec<String>) {
    let store = Arc::new(store);
    let start = Arc::new(Barrier::new(buyers));
    let outcomes = Arc::new(Mutex::new((0, 0, Vec::new())));
    let threads: Vec<_> = (0..buyers)
        .map(|i| {
            let (store, product, start, outcomes) = (
                store.clone(),
                product.clone(),
                start.clone(),
                outcomes.clone(),
            );
            std::thread::spawn(move || {
                let buyer = if same_buyer {
                    "ann".to_owned()
                } else {
                    format!("b{i}")
                };
                start.wait();
                let result = attempt(&store, &product, &buyer, way).map_err(Error::from);
                let mut o = outcomes.lock().unwrap();
                match result {
                    Ok(()) => o.0 += 1,
                    Err(
                        Error::SoldOut { .. } | Error::Refunded { .. } | Error::LimitReached { .. },
                    ) => o.1 += 1,
                    Err(e) => o.2.push(e.to_string()),
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Arc::try_unwrap(outcomes).unwrap().into_inner().unwrap()
}

fn books(store: &PgStore) -> flashsale::hold::Stock {
    pg::stock(&mut *store.conn().unwrap()).unwrap().remove(0)
}

#[test]
fn twenty_units_thirty_three_buyers_every_safe_way() {
    let Some(server) = Postgres::start() else {
        return;
    };
    for way in [Way::Immediate, Way::Atomic, Way::Optimistic, Way::PayFirst] {
        let (store, product) = sale(&server, &format!("r_{way:?}").to_lowercase(), 20, 1);
        let store2 =
            PgStore::open(&server.database_url(&format!("r_{way:?}").to_lowercase())).unwrap();
        let (won, refused, other) = race(store, product, 33, false, way);
        assert_eq!((won, refused), (20, 13), "{way:?}: {other:?}");
        assert!(other.is_empty(), "{way:?}: {other:?}");
        let s = books(&store2);
        assert_eq!(s.available, 0, "{way:?}");
        assert_eq!(s.held + s.sold, 20, "{way:?}");
        assert_eq!(s.balance(), 0, "{way:?}: the books balance");
    }
}

#[test]
fn one_unit_one_hundred_buyers() {
    let Some(server) = Postgres::start() else {
        return;
    };
    let (store, product) = sale(&server, "one", 1, 1);
    let (won, refused, other) = race(store, product, 100, false, Way::Immediate);
    assert_eq!((won, refused, other.len()), (1, 99, 0), "{other:?}");
}

#[test]
fn the_per_buyer_limit_holds_for_one_buyer_racing_themself() {
    let Some(server) = Postgres::start() else {
        return;
    };
    for way in [Way::Immediate, Way::Atomic, Way::Optimistic, Way::PayFirst] {
        let (store, product) = sale(&server, &format!("l_{way:?}").to_lowercase(), 50, 2);
        let (won, refused, other) = race(store, product, 12, true, way);
        assert_eq!((won, refused), (2, 10), "{way:?}: {other:?}");
    }
}

/// The one call (`immediate`'s and `atomic`'s) refuses without writing and says why
/// (the buyer's held units, the stock left), and takes the longer way, expiring due
/// holds to make room, when the stock is short and a hold is past its deadline.
#[test]
fn one_call_says_why_it_refuses_and_expires_due_holds_for_room() {
    let Some(server) = Postgres::start() else {
        return;
    };
    for way in [Way::Immediate, Way::Atomic] {
        let (store, product) = sale(&server, &format!("lazy_{way:?}").to_lowercase(), 1, 1);
        let mut conn = store.conn().unwrap();
        let mut reserve = |buyer: &str, now: i64, ttl: i64| {
            pg::reserve_in_one_call(&mut *conn, one_call(way), &product, buyer, 1, now, ttl)
        };
        let (ann, returned) = reserve("ann", NOW, 1_000).expect("ann's hold");
        assert!(returned.is_empty());
        let again = reserve("ann", NOW + 1, TTL);
        assert!(
            matches!(
                again,
                Err(SqlError(Error::LimitReached {
                    held: 1,
                    limit: 1,
                    ..
                }))
            ),
            "{way:?}: {again:?}"
        );
        let early = reserve("bob", NOW + 999, TTL);
        assert!(
            matches!(
                early,
                Err(SqlError(Error::SoldOut {
                    available: 0,
                    requested: 1,
                    ..
                }))
            ),
            "{way:?}: {early:?}"
        );
        let (_, returned) =
            reserve("bob", NOW + 1_000, TTL).expect("bob gets ann's unit at her deadline");
        assert_eq!(
            returned.iter().map(|r| r.hold_id).collect::<Vec<_>>(),
            [ann.id],
            "{way:?}"
        );
        drop(conn);
        let s = books(&store);
        assert_eq!((s.available, s.held, s.sold), (0, 1, 0), "{way:?}: {s:?}");
        assert_eq!(s.balance(), 0, "{way:?}: {s:?}");
    }
}

#[test]
fn naive_oversells_on_postgresql_too() {
    let Some(server) = Postgres::start() else {
        return;
    };
    let (store, product) = sale(&server, "naive", 20, 1);
    let url = server.database_url("naive");
    let store = Arc::new(store);
    let start = Arc::new(Barrier::new(33));
    let threads: Vec<_> = (0..33)
        .map(|i| {
            let (store, product, start) = (store.clone(), product.clone(), start.clone());
            std::thread::spawn(move || {
                // The connection after the start: the pool has fewer than 33.
                start.wait();
                let mut conn = store.conn().unwrap();
                pg::reserve_naive(
                    &mut *conn,
                    &product,
                    &format!("b{i}"),
                    1,
                    NOW,
                    TTL,
                    Duration::from_millis(5),
                )
                .is_ok()
            })
        })
        .collect();
    let won = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|w| *w)
        .count();
    assert!(
        won > 20,
        "READ COMMITTED's lost update: {won} holds for 20 units"
    );
    let s = books(&PgStore::open(&url).unwrap());
    assert!(s.oversold() > 0, "the books show it: {s:?}");
}

#[test]
fn checkouts_racing_two_sweepers_give_each_hold_exactly_one_end() {
    let Some(server) = Postgres::start() else {
        return;
    };
    let (store, product) = sale(&server, "sweep", 100, 1);
    let mut holds = Vec::new();
    {
        let mut conn = store.conn().unwrap();
        for i in 0..100 {
            let mut tx = conn.transaction().unwrap();
            let (hold, _) =
                pg::reserve_atomic(&mut tx, &product, &format!("b{i}"), 1, NOW, 1_000).unwrap();
            tx.commit().unwrap();
            holds.push(hold);
        }
    }
    let deadline = NOW + 1_000;
    let store = Arc::new(store);
    let holds = Arc::new(holds);
    let start = Arc::new(Barrier::new(6));
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (store, start) = (store.clone(), start.clone());
        threads.push(std::thread::spawn(move || {
            start.wait();
            let mut expired = 0;
            loop {
                let mut conn = store.conn().unwrap();
                let mut tx = conn.transaction().unwrap();
                let batch = pg::expire_due(&mut tx, deadline, 7).unwrap();
                tx.commit().unwrap();
                if batch.is_empty() {
                    return expired;
                }
                expired += batch.len();
            }
        }));
    }
    for part in 0..4 {
        let (store, holds, start) = (store.clone(), holds.clone(), start.clone());
        threads.push(std::thread::spawn(move || {
            start.wait();
            let mut paid = 0;
            for hold in holds.iter().skip(part).step_by(4) {
                let mut conn = store.conn().unwrap();
                let mut tx = conn.transaction().unwrap();
                // A moment before the deadline: the hold may still be paid, unless a
                // sweeper (whose clock says it is due) got it first.
                match pg::checkout(&mut tx, hold.id, &hold.buyer, deadline - 1) {
                    Ok(Checkout::Paid(_)) => {
                        tx.commit().unwrap();
                        paid += 1;
                    }
                    Err(SqlError(Error::HoldExpired { .. })) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            paid
        }));
    }
    let ends: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        ends, 100,
        "every hold ended once: paid or expired, never both"
    );
    let mut conn = store.conn().unwrap();
    let orders: i64 = conn
        .query_one("SELECT count(*) FROM orders", &[])
        .unwrap()
        .get(0);
    let paid: i64 = conn
        .query_one("SELECT count(*) FROM holds WHERE status = 'paid'", &[])
        .unwrap()
        .get(0);
    let active: i64 = conn
        .query_one("SELECT count(*) FROM holds WHERE status = 'active'", &[])
        .unwrap()
        .get(0);
    assert_eq!((orders, active), (paid, 0));
    let s = books(&store);
    assert_eq!(s.balance(), 0, "{s:?}");
    assert_eq!(s.available, 100 - paid);
}
