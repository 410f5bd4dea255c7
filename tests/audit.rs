//! The audit on hand-damaged databases: each kind of damage it is meant to catch is
//! named. The schema's triggers would refuse most of these writes, so the damage is done
//! the way a careless hand would: by dropping them and ignoring CHECKs first.

mod common;

use common::{START, db_with, engine};
use flashsale::audit::{Violation, audit};
use flashsale::{Clock, Strategy};

/// A sale with one paid, one active and one expired hold.
fn sold_db() -> common::Db {
    let db = db_with("FS", 10, 1);
    let clock = Clock::manual(START);
    let e = engine(&db.path, Strategy::Immediate, clock.clone());
    let paid = e.reserve("FS", "paid-buyer", 1).unwrap();
    e.checkout(&paid).unwrap();
    e.reserve("FS", "active-buyer", 1).unwrap();
    let gone = e.reserve("FS", "gone-buyer", 1).unwrap();
    e.release(&gone).unwrap();
    db
}

fn damage(db: &common::Db, sql: &str) -> Vec<Violation> {
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER holds_status_once; DROP TRIGGER holds_paid_in_time;
         DROP TRIGGER holds_per_buyer_limit; DROP TRIGGER orders_match_paid_hold;
         PRAGMA ignore_check_constraints = ON;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    let mut conn = rusqlite::Connection::open(&db.path).unwrap();
    let report = audit(&mut conn, START).unwrap();
    assert!(!report.ok, "damage went unnoticed: {sql}");
    report.violations
}

#[test]
fn a_clean_sale_passes() {
    let db = sold_db();
    let mut conn = rusqlite::Connection::open(&db.path).unwrap();
    let report = audit(&mut conn, START).unwrap();
    assert!(report.ok, "{:?}", report.violations);
    assert_eq!((report.holds, report.orders), (3, 1));
}

#[test]
fn each_kind_of_damage_is_named() {
    type Check = fn(&Violation) -> bool;
    let cases: &[(&str, Check)] = &[
        (
            "UPDATE products SET stock_available = stock_available + 2",
            |v| matches!(v, Violation::Oversold { excess: 2, .. }),
        ),
        ("UPDATE products SET stock_total = stock_total + 3", |v| {
            matches!(v, Violation::LostUnits { missing: 3, .. })
        }),
        ("DELETE FROM orders", |v| {
            matches!(v, Violation::PaidHoldWithoutOrder { .. })
        }),
        (
            "UPDATE holds SET status = 'expired' WHERE buyer = 'paid-buyer'",
            |v| matches!(v, Violation::OrderWithoutPaidHold { status: Some(s), .. } if s == "expired"),
        ),
        (
            "UPDATE orders SET buyer = 'mallory'",
            |v| matches!(v, Violation::OrderMismatch { field, .. } if field == "buyer"),
        ),
        (
            "UPDATE holds SET closed_at = closed_at + 700000 WHERE status = 'paid';
             UPDATE orders SET paid_at = paid_at + 700000",
            |v| matches!(v, Violation::PaidAfterExpiry { .. }),
        ),
        (
            "UPDATE holds SET buyer = 'active-buyer', qty = 1 WHERE buyer = 'gone-buyer';
             UPDATE holds SET status = 'active', closed_at = NULL WHERE buyer = 'active-buyer';
             UPDATE products SET stock_available = stock_available - 1",
            |v| {
                matches!(
                    v,
                    Violation::OverLimit {
                        units: 2,
                        limit: 1,
                        ..
                    }
                )
            },
        ),
        (
            "UPDATE products SET stock_available = -1, stock_total = stock_total - stock_available - 1",
            |v| matches!(v, Violation::NegativeStock { available: -1, .. }),
        ),
        (
            "UPDATE holds SET status = 'lost' WHERE buyer = 'gone-buyer'",
            |v| matches!(v, Violation::BadStatus { status, .. } if status == "lost"),
        ),
        (
            "UPDATE holds SET closed_at = NULL WHERE status = 'released'",
            |v| matches!(v, Violation::ClosedAtMismatch { .. }),
        ),
    ];
    for (sql, expected) in cases {
        let db = sold_db();
        let violations = damage(&db, sql);
        assert!(violations.iter().any(expected), "{sql}\n -> {violations:?}");
        for v in &violations {
            assert!(!v.to_string().is_empty());
        }
    }
}

#[test]
fn the_triggers_refuse_the_damage_in_the_first_place() {
    let db = sold_db();
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    for sql in [
        "UPDATE holds SET status = 'active', closed_at = NULL WHERE status = 'released'",
        "UPDATE holds SET status = 'paid', closed_at = expires_at WHERE status = 'active'",
        "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
         VALUES ('x', 1, 'paid-buyer', 1, 'active', 1, 2)",
        "INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
         SELECT 'o2', id, product_id, buyer, qty, created_at, created_at + 1 FROM holds WHERE status = 'active'",
        "UPDATE products SET stock_available = -1",
        "UPDATE holds SET status = 'lost'",
    ] {
        assert!(conn.execute_batch(sql).is_err(), "the schema let this through: {sql}");
    }
}
