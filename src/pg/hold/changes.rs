//! A buyer's changes to a hold on PostgreSQL — pay, release, extend, pay-first's
//! settlement — and restock: each locks the rows it changes, hold first, then product.

use postgres::GenericClient;
use postgres::types::Type;

use super::{check_limit, close_and_give_back, expire_product, take_stock};
use crate::clock::Millis;
use crate::error::Error;
use crate::hold::{
    self, Checkout, ExtendRules, Hold, HoldKind, HoldRow, Order, ProductInfo, Returned,
};
use crate::ids::{HoldId, OrderId, ProductId};
use crate::sql::Result;

/// The hold, locked for this transaction (a checkout and the sweeper never both close it).
fn hold_row(c: &mut impl GenericClient, id: HoldId) -> Result<HoldRow> {
    let row = c
        .query_typed_opt(
            "SELECT product_id, buyer, qty, status, created_at, expires_at, extensions
             FROM holds WHERE id = $1 FOR UPDATE",
            &[(&id.to_string(), Type::TEXT)],
        )?
        .ok_or(Error::HoldNotFound { id })?;
    Ok(HoldRow {
        product_id: ProductId(row.get(0)),
        buyer: row.get(1),
        qty: row.get(2),
        status: row.get(3),
        created_at: row.get(4),
        expires_at: row.get(5),
        extensions: row.get(6),
    })
}

/// Pays a hold. Idempotent: paying a paid hold returns its one order.
pub fn checkout(
    c: &mut impl GenericClient,
    id: HoldId,
    buyer: &str,
    now: Millis,
) -> Result<Checkout> {
    let row = hold_row(c, id)?;
    if row.status == hold::PAID && row.buyer == buyer {
        return Ok(Checkout::AlreadyPaid(order_of(c, id)?));
    }
    if row.status == hold::ACTIVE && row.expires_at <= now && row.buyer == buyer {
        // Expire it here, exactly once, so its unit goes back on sale now.
        let rows = c.query(
            "UPDATE holds SET status = 'expired', closed_at = $2 WHERE id = $1 AND status = 'active'
             RETURNING id, product_id, qty, expires_at",
            &[&id.to_string(), &now],
        )?;
        if let Some(returned) = close_and_give_back(c, &rows, now)?.pop() {
            return Ok(Checkout::Expired(returned));
        }
    }
    if let Some(e) = hold::refuse(id, &row, buyer, now) {
        return Err(e.into());
    }
    let changed = c.execute_typed(
        "UPDATE holds SET status = 'paid', closed_at = $2
         WHERE id = $1 AND status = 'active' AND expires_at > $2",
        &[(&id.to_string(), Type::TEXT), (&now, Type::INT8)],
    )?;
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
    insert_order(c, &order)?;
    Ok(Checkout::Paid(order))
}

fn insert_order(c: &mut impl GenericClient, order: &Order) -> Result<()> {
    c.execute_typed(
        "INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            (&order.id.to_string(), Type::TEXT),
            (&order.hold_id.to_string(), Type::TEXT),
            (&order.product_id.0, Type::INT8),
            (&order.buyer, Type::TEXT),
            (&order.qty, Type::INT8),
            (&order.held_at, Type::INT8),
            (&order.paid_at, Type::INT8),
        ],
    )?;
    Ok(())
}

pub fn order_of(c: &mut impl GenericClient, hold: HoldId) -> Result<Order> {
    let r = c
        .query_opt(
            "SELECT id, product_id, buyer, qty, held_at, paid_at FROM orders WHERE hold_id = $1",
            &[&hold.to_string()],
        )?
        .ok_or(Error::HoldNotFound { id: hold })?;
    let id: String = r.get(0);
    Ok(Order {
        id: id.parse().map_err(|_| {
            Error::Usage(format!(
                "The database holds an order id that is not a UUID: {id}"
            ))
        })?,
        hold_id: hold,
        product_id: ProductId(r.get(1)),
        buyer: r.get(2),
        qty: r.get(3),
        held_at: r.get(4),
        paid_at: r.get(5),
    })
}

/// Cancels a hold and puts its units back.
pub fn release(
    c: &mut impl GenericClient,
    id: HoldId,
    buyer: &str,
    now: Millis,
) -> Result<Returned> {
    let row = hold_row(c, id)?;
    if let Some(e) = hold::refuse(id, &row, buyer, now) {
        return Err(e.into());
    }
    let rows = c.query(
        "UPDATE holds SET status = 'released', closed_at = $2
         WHERE id = $1 AND buyer = $3 AND status = 'active' AND expires_at > $2
         RETURNING id, product_id, qty, expires_at",
        &[&id.to_string(), &now, &buyer],
    )?;
    close_and_give_back(c, &rows, now)?
        .pop()
        .ok_or(Error::HoldExpired { id }.into())
}

/// Activity on a hold pushes its deadline out, within the sale's caps.
pub fn extend(
    c: &mut impl GenericClient,
    id: HoldId,
    buyer: &str,
    now: Millis,
    rules: ExtendRules,
) -> Result<Hold> {
    let row = hold_row(c, id)?;
    if let Some(e) = hold::refuse(id, &row, buyer, now) {
        return Err(e.into());
    }
    let new_expiry = hold::extended_expiry(id, &row, now, rules)?;
    let changed = c.execute(
        "UPDATE holds SET expires_at = $2, extensions = extensions + 1
         WHERE id = $1 AND status = 'active' AND expires_at > $3 AND extensions = $4",
        &[&id.to_string(), &new_expiry, &now, &row.extensions],
    )?;
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

/// Pay-first: the money is in; claim the stock now (one conditional update) or record
/// a refund.
pub fn pay_first(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    cart: &Hold,
    now: Millis,
) -> Result<std::result::Result<Order, Vec<Returned>>> {
    let mut returned = Vec::new();
    let mut took = take_stock(c, product.id, cart.qty)?;
    if !took {
        returned = expire_product(c, product.id, now)?;
        took = !returned.is_empty() && take_stock(c, product.id, cart.qty)?;
    }
    let within_limit = took && check_limit(c, product, &cart.buyer, cart.qty).is_ok();
    if !within_limit {
        if took {
            c.execute(
                "UPDATE products SET stock_available = stock_available + $2, version = version + 1
                 WHERE id = $1",
                &[&product.id.0, &cart.qty],
            )?;
        }
        c.execute(
            "INSERT INTO refunds (product_id, buyer, qty, at) VALUES ($1, $2, $3, $4)",
            &[&product.id.0, &cart.buyer, &cart.qty, &now],
        )?;
        return Ok(Err(returned));
    }
    c.execute(
        "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at, closed_at)
         VALUES ($1, $2, $3, $4, 'paid', $5, $6, $7)",
        &[
            &cart.id.to_string(),
            &product.id.0,
            &cart.buyer,
            &cart.qty,
            &cart.created_at,
            &cart.expires_at,
            &now,
        ],
    )?;
    let order = Order {
        id: OrderId::new(),
        hold_id: cart.id,
        product_id: product.id,
        buyer: cart.buyer.clone(),
        qty: cart.qty,
        held_at: cart.created_at,
        paid_at: now,
    };
    insert_order(c, &order)?;
    Ok(Ok(order))
}

/// Sets a product's available units, moving `stock_total` by the same amount (an
/// oversell is never folded into the total; only a reset clears it).
pub fn restock(c: &mut impl GenericClient, product: ProductId, available: i64) -> Result<()> {
    let r = c.query_one(
        "SELECT stock_total, stock_available FROM products WHERE id = $1 FOR UPDATE",
        &[&product.0],
    )?;
    let total = hold::restocked_total(r.get(0), r.get(1), available)?;
    c.execute(
        "UPDATE products SET stock_available = $2, stock_total = $3, version = version + 1
         WHERE id = $1",
        &[&product.0, &available, &total],
    )?;
    Ok(())
}
