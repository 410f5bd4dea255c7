//! The sale's state changes on PostgreSQL, as plain functions over a transaction (or,
//! for `naive`, a connection in autocommit), mirroring [`crate::hold`] on SQLite.
//!
//! PostgreSQL runs READ COMMITTED by default, where a plain read does not lock: every
//! reservation that reads stock and then writes it locks the product row first (`FOR
//! UPDATE`) or writes it with a condition (`… WHERE stock_available >= $2`, `… WHERE
//! version = $3`), so two buyers never both take the last unit. Every change to a hold
//! is conditional on `status = 'active'` and acts only when exactly one row changed, as
//! on SQLite. Locks are taken in one order — hold rows, then product rows by id — and
//! the sweeper skips hold rows another transaction has locked, so sweepers, buyers and
//! processes never wait for each other in a circle.

use postgres::GenericClient;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};

use crate::clock::Millis;
use crate::error::Error;
use crate::hold::{self, Hold, HoldKind, ProductInfo, Returned, Stock};
use crate::ids::{HoldId, ProductId};
use crate::sql::Result;

// The hot statements are sent typed: parse, bind and execute in one round trip, where
// an untyped one is prepared first (two): a hold's transaction was twice pgbench's.
const INT8: Type = Type::INT8;
const TEXT: Type = Type::TEXT;

/// The most holds one lazy expiry (inside a reservation) closes, as on SQLite.
pub use crate::hold::LAZY_EXPIRY_MAX;

mod batch;
mod changes;
mod one_call;

pub use batch::reserve_batch;
pub use changes::{checkout, extend, order_of, pay_first, release, restock};
pub use one_call::{OneCall, reserve_in_one_call, reserve_locked};

pub fn all_products(c: &mut impl GenericClient) -> Result<Vec<ProductInfo>> {
    let rows = c.query(
        "SELECT id, sku, name, price_cents, max_per_buyer FROM products ORDER BY id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| ProductInfo {
            id: ProductId(r.get(0)),
            sku: r.get(1),
            name: r.get(2),
            price_cents: r.get(3),
            max_per_buyer: r.get(4),
        })
        .collect())
}

/// Stock of every product, with held, sold and short summed from the holds (one read).
pub fn stock(c: &mut impl GenericClient) -> Result<Vec<Stock>> {
    let rows = c.query(
        "SELECT p.id, p.sku, p.name, p.stock_total, p.stock_available, p.version,
                coalesce((SELECT sum(qty) FROM holds h WHERE h.product_id = p.id
                          AND h.status IN ('active', 'paid') AND h.status = 'active'), 0)::BIGINT,
                coalesce((SELECT sum(qty) FROM holds h WHERE h.product_id = p.id
                          AND h.status IN ('active', 'paid') AND h.status = 'paid'), 0)::BIGINT,
                coalesce((SELECT sum(short) FROM holds h WHERE h.product_id = p.id
                          AND h.short > 0), 0)::BIGINT
         FROM products p ORDER BY p.id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Stock {
            product_id: ProductId(r.get(0)),
            sku: r.get(1),
            name: r.get(2),
            total: r.get(3),
            available: r.get(4),
            version: r.get(5),
            held: r.get(6),
            sold: r.get(7),
            short: r.get(8),
        })
        .collect())
}

/// `(stock_available, version)` of one product, without a lock.
pub fn available(c: &mut impl GenericClient, product: ProductId) -> Result<(i64, i64)> {
    let r = c.query_typed_one(
        "SELECT stock_available, version FROM products WHERE id = $1",
        &[(&product.0, INT8)],
    )?;
    Ok((r.get(0), r.get(1)))
}

fn live_units(c: &mut impl GenericClient, product: ProductId, buyer: &str) -> Result<i64> {
    Ok(c.query_typed_one(
        "SELECT coalesce(sum(qty), 0)::BIGINT FROM holds
         WHERE product_id = $1 AND buyer = $2 AND status IN ('active', 'paid')",
        &[(&product.0, INT8), (&buyer, TEXT)],
    )?
    .get(0))
}

/// The per-buyer limit, checked before writing so the error carries the numbers (the
/// schema's trigger is the backstop).
fn check_limit(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
) -> Result<()> {
    let held = live_units(c, product.id, buyer)?;
    if held + qty > product.max_per_buyer {
        return Err(hold::limit_reached(product, buyer, held, qty).into());
    }
    Ok(())
}

/// The active hold a reservation inserts: a time-ordered id, the deadline from the TTL.
fn new_hold(
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<Hold> {
    Ok(Hold {
        id: HoldId::at(now),
        product_id: product.id,
        buyer: buyer.to_owned(),
        qty,
        created_at: now,
        expires_at: hold::deadline(now, ttl_ms)?,
        kind: HoldKind::Held,
    })
}

/// Inserts an active hold (the stock was already taken by the caller).
fn insert_hold(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<Hold> {
    let hold = new_hold(product, buyer, qty, now, ttl_ms)?;
    write_hold(
        c,
        "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, 'active', $5, $6)",
        &hold,
        product,
    )?;
    Ok(hold)
}

/// Runs `sql`, an insert of `hold` with its columns as `$1`…`$6` (id, product, buyer,
/// qty, created, expires); a refusal of the per-buyer trigger becomes `LimitReached`.
fn write_hold(
    c: &mut impl GenericClient,
    sql: &str,
    hold: &Hold,
    product: &ProductInfo,
) -> Result<u64> {
    with_hold_row(hold, product, |row| c.execute_typed(sql, row))
}

/// `run` given a hold row's columns as typed parameters `$1`…`$6` (id, product, buyer,
/// qty, created, expires), with a refusal of the per-buyer trigger as `LimitReached`.
fn with_hold_row<T>(
    hold: &Hold,
    product: &ProductInfo,
    run: impl FnOnce(&[(&(dyn ToSql + Sync), Type)]) -> std::result::Result<T, postgres::Error>,
) -> Result<T> {
    run(&[
        (&hold.id.to_string(), TEXT),
        (&product.id.0, INT8),
        (&hold.buyer, TEXT),
        (&hold.qty, INT8),
        (&hold.created_at, INT8),
        (&hold.expires_at, INT8),
    ])
    .map_err(|e| trigger_error(e, product, &hold.buyer, hold.qty).into())
}

/// Maps the schema's per-buyer trigger to the typed error.
fn trigger_error(e: postgres::Error, product: &ProductInfo, buyer: &str, qty: i64) -> Error {
    let limit = e
        .as_db_error()
        .is_some_and(|d| d.message().contains("per_buyer_limit"));
    if limit {
        return hold::limit_reached(product, buyer, product.max_per_buyer, qty);
    }
    classify(e)
}

/// PostgreSQL's word for "try again": a deadlock or a serialization failure ends the
/// transaction, and the caller may retry it whole.
pub fn classify(e: postgres::Error) -> Error {
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            Error::Busy
        }
        Some(c) if *c == SqlState::DISK_FULL => Error::DiskFull,
        _ => Error::Server { why: e.to_string() },
    }
}

/// Takes `qty` units if they are there, in one statement: the row is locked and the
/// condition re-checked on the newest version (READ COMMITTED's update rule), so two
/// such updates never both succeed on the last unit.
fn take_stock(c: &mut impl GenericClient, product: ProductId, qty: i64) -> Result<bool> {
    let changed = c.execute_typed(
        "UPDATE products SET stock_available = stock_available - $2, version = version + 1
         WHERE id = $1 AND stock_available >= $2",
        &[(&product.0, INT8), (&qty, INT8)],
    )?;
    Ok(changed == 1)
}

/// `atomic`: one conditional `UPDATE` takes the units or changes nothing; no read first.
/// The statements inside the caller's transaction, expiring the product's due holds when
/// the stock is short ([`reserve_in_one_call`] is the usual way).
pub fn reserve_atomic(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<(Hold, Vec<Returned>)> {
    let mut returned = Vec::new();
    if !take_stock(c, product.id, qty)? {
        returned = expire_product(c, product.id, now)?;
        if returned.is_empty() || !take_stock(c, product.id, qty)? {
            let (available, _) = available(c, product.id)?;
            return Err(hold::sold_out(product, available, qty).into());
        }
    }
    check_limit(c, product, buyer, qty)?;
    let hold = insert_hold(c, product, buyer, qty, now, ttl_ms)?;
    Ok((hold, returned))
}

/// What one optimistic compare-and-set came to.
pub enum Cas {
    Won(Hold),
    /// Somebody changed the row first: its committed `(stock, version)` now.
    Lost((i64, i64)),
}

/// `optimistic`: one compare-and-set against the `(stock, version)` the buyer read. No
/// lock is taken before the write; the `version` condition makes a stale write change
/// nothing, and the caller retries with what this returns.
pub fn reserve_cas(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    seen: (i64, i64),
    now: Millis,
    ttl_ms: Millis,
) -> Result<Cas> {
    let (available, version) = seen;
    if available < qty {
        return Err(hold::sold_out(product, available, qty).into());
    }
    let changed = c.execute_typed(
        "UPDATE products SET stock_available = stock_available - $2, version = version + 1
         WHERE id = $1 AND version = $3 AND stock_available >= $2",
        &[(&product.id.0, INT8), (&qty, INT8), (&version, INT8)],
    )?;
    if changed != 1 {
        return Ok(Cas::Lost(self::available(c, product.id)?));
    }
    check_limit(c, product, buyer, qty)?;
    Ok(Cas::Won(insert_hold(c, product, buyer, qty, now, ttl_ms)?))
}

/// UNSAFE on purpose: autocommit, a read, a pause, a blind write. Between the read and
/// the write another buyer reads the same stock, and both write `stock - qty`: READ
/// COMMITTED's lost update, exactly as on SQLite.
pub fn reserve_naive(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
    race_window: std::time::Duration,
) -> Result<Hold> {
    let (available, _) = available(c, product.id)?;
    if available < qty {
        return Err(hold::sold_out(product, available, qty).into());
    }
    if !race_window.is_zero() {
        std::thread::sleep(race_window);
    }
    c.execute(
        "UPDATE products SET stock_available = $2, version = version + 1 WHERE id = $1",
        &[&product.id.0, &(available - qty)],
    )?;
    insert_hold(c, product, buyer, qty, now, ttl_ms)
}

/// Expires the oldest due holds of one product (lazy expiry inside a reservation),
/// skipping holds another transaction has locked (a sweeper or a checkout has them).
pub fn expire_product(
    c: &mut impl GenericClient,
    product: ProductId,
    now: Millis,
) -> Result<Vec<Returned>> {
    let rows = c.query(
        "WITH due AS (SELECT id FROM holds
                      WHERE status = 'active' AND product_id = $2 AND expires_at <= $1
                      ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         UPDATE holds h SET status = 'expired', closed_at = $1 FROM due
         WHERE h.id = due.id AND h.status = 'active'
         RETURNING h.id, h.product_id, h.qty, h.expires_at",
        &[&now, &product.0, &LAZY_EXPIRY_MAX],
    )?;
    close_and_give_back(c, &rows, now)
}

/// The sweeper's step: expires at most `limit` due holds, oldest deadline first. `FOR
/// UPDATE SKIP LOCKED` lets every process sweep at once: each claims holds no other
/// sweeper (and no checkout in flight) has, and none waits for another.
pub fn expire_due(c: &mut impl GenericClient, now: Millis, limit: i64) -> Result<Vec<Returned>> {
    let rows = c.query(
        "WITH due AS (SELECT id FROM holds WHERE status = 'active' AND expires_at <= $1
                      ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE holds h SET status = 'expired', closed_at = $1 FROM due
         WHERE h.id = due.id AND h.status = 'active'
         RETURNING h.id, h.product_id, h.qty, h.expires_at",
        &[&now, &limit],
    )?;
    close_and_give_back(c, &rows, now)
}

fn close_and_give_back(
    c: &mut impl GenericClient,
    rows: &[postgres::Row],
    now: Millis,
) -> Result<Vec<Returned>> {
    let mut returned = rows
        .iter()
        .map(|r| {
            Ok(Returned {
                hold_id: hold_id(r.get(0))?,
                product_id: ProductId(r.get(1)),
                qty: r.get(2),
                short: 0,
                expires_at: r.get(3),
                closed_at: now,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    give_back(c, &mut returned)?;
    Ok(returned)
}

fn hold_id(text: String) -> Result<HoldId> {
    text.parse().map_err(|_| {
        Error::Usage(format!(
            "The database holds a hold id that is not a UUID: {text}"
        ))
        .into()
    })
}

/// Puts the units of holds just closed back on sale, as far as the stock has room; what
/// does not fit (an oversold sale) is the hold's `short`, as on SQLite. Products are
/// locked in id order, so two transactions giving back to the same products never wait
/// for each other in a circle.
fn give_back(c: &mut impl GenericClient, returned: &mut [Returned]) -> Result<()> {
    let mut products: Vec<ProductId> = returned.iter().map(|r| r.product_id).collect();
    products.sort_unstable_by_key(|p| p.0);
    products.dedup();
    for product in products {
        let mut room: i64 = c
            .query_one(
                "SELECT stock_total - stock_available FROM products WHERE id = $1 FOR UPDATE",
                &[&product.0],
            )?
            .get(0);
        let mut back = 0;
        for r in returned.iter_mut().filter(|r| r.product_id == product) {
            let fits = r.qty.min(room.max(0));
            room -= fits;
            back += fits;
            r.short = r.qty - fits;
            if r.short > 0 {
                c.execute(
                    "UPDATE holds SET short = $2 WHERE id = $1",
                    &[&r.hold_id.to_string(), &r.short],
                )?;
            }
        }
        if back > 0 {
            c.execute(
                "UPDATE products SET stock_available = stock_available + $2, version = version + 1
                 WHERE id = $1",
                &[&product.0, &back],
            )?;
        }
    }
    Ok(())
}

/// The earliest deadline among active holds, if any.
pub fn next_deadline(c: &mut impl GenericClient) -> Result<Option<Millis>> {
    Ok(c.query_one(
        "SELECT min(expires_at) FROM holds WHERE status = 'active'",
        &[],
    )?
    .get(0))
}
