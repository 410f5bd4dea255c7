//! The sale's state changes as plain functions over a connection or transaction.
//!
//! Every function here that writes does so conditionally in SQL (`… WHERE status =
//! 'active' AND expires_at > ?`) and acts only when exactly one row changed: that is what
//! makes the sweeper, a second process and a retried checkout safe. The callers own the
//! transactions; each caller says why its transaction is `IMMEDIATE`.

mod expiry;
mod run;
mod state;
mod stock;

use rusqlite::{Connection, OptionalExtension, params};

use crate::sql::ids;

use crate::clock::Millis;
use crate::error::Error;
use crate::ids::{HoldId, OrderId, ProductId};
use crate::sql::Result;

pub use expiry::{LAZY_EXPIRY_MAX, expire_due, expire_product, give_back, next_deadline};
pub use flashsale_core::model::*;
pub use run::{units_by_status, units_in_play};
pub use state::hold_state;
pub use stock::{restock, stock};

pub fn product_by_sku(conn: &Connection, sku: &str) -> Result<Option<ProductInfo>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, sku, name, price_cents, max_per_buyer FROM products WHERE sku = ?1",
        )?
        .query_row([sku], product_info)
        .optional()?)
}

/// Maps `SELECT id, sku, name, price_cents, max_per_buyer` to a product.
fn product_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProductInfo> {
    Ok(ProductInfo {
        id: ids::product(r, 0)?,
        sku: r.get(1)?,
        name: r.get(2)?,
        price_cents: r.get(3)?,
        max_per_buyer: r.get(4)?,
    })
}

pub fn all_products(conn: &Connection) -> Result<Vec<ProductInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, sku, name, price_cents, max_per_buyer FROM products ORDER BY id",
    )?;
    let rows = stmt.query_map([], product_info)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `(stock_available, version)` of one product.
pub fn available(conn: &Connection, product: ProductId) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached("SELECT stock_available, version FROM products WHERE id = ?1")?
        .query_row([product.0], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Units this buyer has live (active or paid) for the product.
pub fn live_units(conn: &Connection, product: ProductId, buyer: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(qty), 0) FROM holds
             WHERE product_id = ?1 AND buyer = ?2 AND status IN ('active', 'paid')",
        )?
        .query_row(params![product.0, buyer], |r| r.get(0))?)
}

/// The per-buyer limit, checked before writing so the error carries the numbers (the
/// database's trigger is the backstop).
pub fn check_limit(conn: &Connection, product: &ProductInfo, buyer: &str, qty: i64) -> Result<()> {
    let held = live_units(conn, product.id, buyer)?;
    if held + qty > product.max_per_buyer {
        return Err(limit_reached(product, buyer, held, qty).into());
    }
    Ok(())
}

/// Inserts an active hold (the stock was already taken by the caller).
pub fn insert_hold(
    conn: &Connection,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<Hold> {
    let hold = Hold {
        id: HoldId::at(now),
        product_id: product.id,
        buyer: buyer.to_owned(),
        qty,
        created_at: now,
        expires_at: deadline(now, ttl_ms)?,
        kind: HoldKind::Held,
    };
    conn.prepare_cached(
        "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6)",
    )?
    .execute(params![
        hold.id.to_string(),
        hold.product_id.0,
        hold.buyer,
        hold.qty,
        hold.created_at,
        hold.expires_at
    ])
    .map_err(|e| trigger_error(e, product, buyer, qty))?;
    Ok(hold)
}

/// Maps the schema's per-buyer trigger to the typed error.
fn trigger_error(e: rusqlite::Error, product: &ProductInfo, buyer: &str, qty: i64) -> Error {
    if refused_by_limit(&e) {
        return limit_reached(product, buyer, product.max_per_buyer, qty);
    }
    crate::sql::sqlite_error(e)
}

/// The schema's per-buyer trigger refused a row (it names its rule first).
pub fn refused_by_limit(e: &rusqlite::Error) -> bool {
    e.to_string().contains("per_buyer_limit")
}

/// Takes `qty` units if they are there: the atomic conditional decrement. Returns
/// whether a row changed.
pub fn take_stock(conn: &Connection, product: ProductId, qty: i64) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE products SET stock_available = stock_available - ?1, version = version + 1
             WHERE id = ?2 AND stock_available >= ?1",
        )?
        .execute(params![qty, product.0])?;
    Ok(changed == 1)
}

/// Sets a product's available units to what a buyer computed from an earlier read: the
/// blind write of `naive`, which is how a lost update happens.
pub fn set_stock(conn: &Connection, product: ProductId, available: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE products SET stock_available = ?1, version = version + 1 WHERE id = ?2",
    )?
    .execute(params![available, product.0])?;
    Ok(())
}

/// `optimistic`'s compare-and-set: takes `qty` units only if the product is still at
/// `version` and has them. Returns the new `(stock_available, version)`, or `None` when
/// somebody changed the row first.
pub fn take_stock_at(
    conn: &Connection,
    product: ProductId,
    qty: i64,
    version: i64,
) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached(
            "UPDATE products SET stock_available = stock_available - ?1, version = version + 1
             WHERE id = ?2 AND version = ?3 AND stock_available >= ?1
             RETURNING stock_available, version",
        )?
        .query_row(params![qty, product.0, version], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Deletes every hold, order and refund and puts every product back to its total.
/// Orders point at holds: they go first. Stock is set from the total, which a naive run
/// leaves alone (its lost updates only corrupt `stock_available`).
pub fn reset(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM orders;
         DELETE FROM refunds;
         DELETE FROM holds;
         UPDATE products SET stock_available = stock_total, version = version + 1;",
    )?;
    Ok(())
}

/// Puts units back on sale (callers that close holds go through [`give_back`], which
/// never pushes the stock above its total).
pub fn return_stock(conn: &Connection, product: ProductId, qty: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE products SET stock_available = stock_available + ?1, version = version + 1 WHERE id = ?2",
    )?
    .execute(params![qty, product.0])?;
    Ok(())
}

/// The body of a safe reservation, inside a write transaction the caller opened with
/// `BEGIN IMMEDIATE` (it reads stock and then writes: a deferred transaction could be
/// refused the upgrade with SQLITE_BUSY, whatever the busy timeout).
pub fn reserve_locked(
    conn: &Connection,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<(Hold, Vec<Returned>)> {
    let (mut available, _) = available(conn, product.id)?;
    let mut returned = Vec::new();
    if available < qty {
        // Lazy expiry: holds past their deadline give their units back first.
        returned = expire_product(conn, product.id, now)?;
        available = self::available(conn, product.id)?.0;
        if available < qty {
            return Err(sold_out(product, available, qty).into());
        }
    }
    check_limit(conn, product, buyer, qty)?;
    if !take_stock(conn, product.id, qty)? {
        return Err(sold_out(product, available, qty).into());
    }
    let hold = insert_hold(conn, product, buyer, qty, now, ttl_ms)?;
    Ok((hold, returned))
}

fn hold_row(conn: &Connection, id: HoldId) -> Result<HoldRow> {
    conn.prepare_cached(
        "SELECT product_id, buyer, qty, status, created_at, expires_at, extensions FROM holds WHERE id = ?1",
    )?
    .query_row([id.to_string()], |r| {
        Ok(HoldRow {
            product_id: ids::product(r, 0)?,
            buyer: r.get(1)?,
            qty: r.get(2)?,
            status: r.get(3)?,
            created_at: r.get(4)?,
            expires_at: r.get(5)?,
            extensions: r.get(6)?,
        })
    })
    .optional()?
    .ok_or(Error::HoldNotFound { id }.into())
}

/// Pays a hold, inside a transaction the caller opened with `BEGIN IMMEDIATE` (it reads
/// the hold, then writes). Idempotent: paying a paid hold returns its one order.
pub fn checkout(conn: &Connection, id: HoldId, buyer: &str, now: Millis) -> Result<Checkout> {
    let row = hold_row(conn, id)?;
    if row.status == PAID && row.buyer == buyer {
        return Ok(Checkout::AlreadyPaid(order_of(conn, id)?));
    }
    if row.status == ACTIVE && row.expires_at <= now && row.buyer == buyer {
        // Expire it here, exactly once, so its unit goes back on sale now.
        let changed = conn
            .prepare_cached(
                "UPDATE holds SET status = 'expired', closed_at = ?2 WHERE id = ?1 AND status = 'active'",
            )?
            .execute(params![id.to_string(), now])?;
        if changed == 1 {
            let mut returned = [Returned {
                hold_id: id,
                product_id: row.product_id,
                qty: row.qty,
                short: 0,
                expires_at: row.expires_at,
                closed_at: now,
            }];
            give_back(conn, &mut returned)?;
            let [returned] = returned;
            return Ok(Checkout::Expired(returned));
        }
    }
    if let Some(e) = refuse(id, &row, buyer, now) {
        return Err(e.into());
    }
    let changed = conn
        .prepare_cached(
            "UPDATE holds SET status = 'paid', closed_at = ?2
             WHERE id = ?1 AND status = 'active' AND expires_at > ?2",
        )?
        .execute(params![id.to_string(), now])?;
    if changed != 1 {
        return Err(Error::HoldExpired { id }.into());
    }
    let order = Order {
        id: OrderId::new(),
        hold_id: id,
        product_id: row.product_id,
        buyer: row.buyer,
        qty: row.qty,
        held_at: row.created_at,
        paid_at: now,
    };
    insert_order(conn, &order)?;
    Ok(Checkout::Paid(order))
}

fn insert_order(conn: &Connection, order: &Order) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        order.id.to_string(),
        order.hold_id.to_string(),
        order.product_id.0,
        order.buyer,
        order.qty,
        order.held_at,
        order.paid_at
    ])?;
    Ok(())
}

pub fn order_of(conn: &Connection, hold: HoldId) -> Result<Order> {
    conn.prepare_cached(
        "SELECT id, hold_id, product_id, buyer, qty, held_at, paid_at FROM orders WHERE hold_id = ?1",
    )?
    .query_row([hold.to_string()], |r| {
        Ok(Order {
            id: ids::order(r, 0)?,
            hold_id: ids::hold(r, 1)?,
            product_id: ids::product(r, 2)?,
            buyer: r.get(3)?,
            qty: r.get(4)?,
            held_at: r.get(5)?,
            paid_at: r.get(6)?,
        })
    })
    .optional()?
    .ok_or(Error::HoldNotFound { id: hold }.into())
}

/// Cancels a hold and puts its units back, inside an `IMMEDIATE` transaction.
pub fn release(conn: &Connection, id: HoldId, buyer: &str, now: Millis) -> Result<Returned> {
    let row = hold_row(conn, id)?;
    if let Some(e) = refuse(id, &row, buyer, now) {
        return Err(e.into());
    }
    let changed = conn
        .prepare_cached(
            "UPDATE holds SET status = 'released', closed_at = ?2
             WHERE id = ?1 AND buyer = ?3 AND status = 'active' AND expires_at > ?2",
        )?
        .execute(params![id.to_string(), now, buyer])?;
    if changed != 1 {
        return Err(Error::HoldExpired { id }.into());
    }
    let mut returned = [Returned {
        hold_id: id,
        product_id: row.product_id,
        qty: row.qty,
        short: 0,
        expires_at: row.expires_at,
        closed_at: now,
    }];
    give_back(conn, &mut returned)?;
    let [returned] = returned;
    Ok(returned)
}

pub fn extend(
    conn: &Connection,
    id: HoldId,
    buyer: &str,
    now: Millis,
    rules: ExtendRules,
) -> Result<Hold> {
    let row = hold_row(conn, id)?;
    if let Some(e) = refuse(id, &row, buyer, now) {
        return Err(e.into());
    }
    let new_expiry = extended_expiry(id, &row, now, rules)?;
    let changed = conn
        .prepare_cached(
            "UPDATE holds SET expires_at = ?2, extensions = extensions + 1
             WHERE id = ?1 AND status = 'active' AND expires_at > ?3 AND extensions = ?4",
        )?
        .execute(params![id.to_string(), new_expiry, now, row.extensions])?;
    if changed != 1 {
        return Err(Error::HoldExpired { id }.into());
    }
    Ok(Hold {
        id,
        product_id: row.product_id,
        buyer: row.buyer,
        qty: row.qty,
        created_at: row.created_at,
        expires_at: new_expiry,
        kind: HoldKind::Held,
    })
}

/// Pay-first: the money is in; claim the stock now or record a refund. Inside an
/// `IMMEDIATE` transaction (it reads stock, then writes).
pub fn pay_first(
    conn: &Connection,
    product: &ProductInfo,
    cart: &Hold,
    now: Millis,
) -> Result<std::result::Result<Order, Vec<Returned>>> {
    let mut returned = Vec::new();
    let mut took = take_stock(conn, product.id, cart.qty)?;
    if !took {
        returned = expire_product(conn, product.id, now)?;
        took = take_stock(conn, product.id, cart.qty)?;
    }
    let within_limit = took && check_limit(conn, product, &cart.buyer, cart.qty).is_ok();
    if !within_limit {
        if took {
            return_stock(conn, product.id, cart.qty)?;
        }
        conn.prepare_cached(
            "INSERT INTO refunds (product_id, buyer, qty, at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![product.id.0, cart.buyer, cart.qty, now])?;
        return Ok(Err(returned));
    }
    conn.prepare_cached(
        "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at, closed_at)
         VALUES (?1, ?2, ?3, ?4, 'paid', ?5, ?6, ?7)",
    )?
    .execute(params![
        cart.id.to_string(),
        product.id.0,
        cart.buyer,
        cart.qty,
        cart.created_at,
        cart.expires_at,
        now
    ])?;
    let order = Order {
        id: OrderId::new(),
        hold_id: cart.id,
        product_id: product.id,
        buyer: cart.buyer.clone(),
        qty: cart.qty,
        held_at: cart.created_at,
        paid_at: now,
    };
    insert_order(conn, &order)?;
    Ok(Ok(order))
}
