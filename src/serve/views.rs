//! The JSON shapes of the API (DESIGN.md, "Serving buyers over HTTP"): built from the
//! engine's types, so a field is named in one place.

use serde::Serialize;

use crate::clock::Millis;
use crate::hold::{Hold, Order, ProductInfo, Stock};
use crate::ids::{HoldId, OrderId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductView {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock_total: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
}

impl ProductView {
    pub fn new(stock: &Stock, info: Option<&ProductInfo>) -> Self {
        ProductView {
            sku: stock.sku.clone(),
            name: stock.name.clone(),
            price_cents: info.map_or(0, |p| p.price_cents),
            stock_total: stock.total,
            available: stock.available,
            held: stock.held,
            sold: stock.sold,
        }
    }
}

/// `{"hold": …}`, the body of every answer about one hold.
#[derive(Serialize)]
pub struct HoldBody<'a> {
    pub hold: &'a HoldView<'a>,
}

/// `{"order": …}`.
#[derive(Serialize)]
pub struct OrderBody<'a> {
    pub order: &'a OrderView,
}

/// Borrows its strings: it is made for one answer, and add-to-cart is the hot path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldView<'a> {
    pub id: HoldId,
    pub sku: &'a str,
    pub qty: i64,
    pub status: &'a str,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// Real milliseconds left when answered: phones count down from this, so a phone
    /// whose own clock is wrong still shows the right countdown.
    pub expires_in_ms: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<i64>,
}

impl<'a> HoldView<'a> {
    pub fn new(hold: &Hold, sku: &'a str, status: &'a str, now: Millis) -> Self {
        HoldView {
            id: hold.id,
            sku,
            qty: hold.qty,
            status,
            created_at: hold.created_at,
            expires_at: hold.expires_at,
            expires_in_ms: if status == crate::hold::ACTIVE {
                (hold.expires_at - now).max(0)
            } else {
                0
            },
            extensions: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderView {
    pub id: OrderId,
    pub hold_id: HoldId,
    pub sku: String,
    pub qty: i64,
    pub held_at: Millis,
    pub paid_at: Millis,
}

impl OrderView {
    pub fn new(order: &Order, sku: &str) -> Self {
        OrderView {
            id: order.id,
            hold_id: order.hold_id,
            sku: sku.to_owned(),
            qty: order.qty,
            held_at: order.held_at,
            paid_at: order.paid_at,
        }
    }
}
