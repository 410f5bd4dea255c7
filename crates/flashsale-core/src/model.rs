//! The model of a sale — products, holds, orders, stock — and the rules that judge a
//! change before any store makes it. Every store (SQLite, PostgreSQL) reads its rows into
//! these types and asks these functions, so the two cannot disagree on what is allowed.

use std::time::Duration;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::ids::{HoldId, OrderId, ProductId};

/// The facts about a product that never change during a sale, cached by the engine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProductInfo {
    pub id: ProductId,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub max_per_buyer: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    /// A hold row in the database, locking stock to the buyer until `expires_at`.
    Held,
    /// Pay-first: only a cart entry; stock is claimed when the payment arrives.
    Cart,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hold {
    pub id: HoldId,
    pub product_id: ProductId,
    pub buyer: String,
    pub qty: i64,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub kind: HoldKind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    pub id: OrderId,
    pub hold_id: HoldId,
    pub product_id: ProductId,
    pub buyer: String,
    pub qty: i64,
    pub held_at: Millis,
    pub paid_at: Millis,
}

/// A hold that was closed and whose units went back on sale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Returned {
    pub hold_id: HoldId,
    pub product_id: ProductId,
    pub qty: i64,
    /// Of `qty`, the units that could not go back: the stock was already full, because
    /// an oversell had promised more units than exist. Usually 0.
    pub short: i64,
    pub expires_at: Millis,
    pub closed_at: Millis,
}

impl Returned {
    /// Units really back on sale.
    pub fn back(&self) -> i64 {
        self.qty - self.short
    }
}

pub const ACTIVE: &str = "active";
pub const PAID: &str = "paid";
pub const EXPIRED: &str = "expired";
pub const RELEASED: &str = "released";

/// A product's stock as the database has it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stock {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub total: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// Units of closed holds that could not go back because the stock was already full:
    /// units an oversell promised that never existed (`holds.short`).
    pub short: i64,
    pub version: i64,
}

impl Stock {
    /// `available + held + sold + short - total`: above zero, units held or sold beyond
    /// the stock (the naive strategy's lost updates); below zero, units lost.
    pub fn balance(&self) -> i64 {
        self.available + self.held + self.sold + self.short - self.total
    }

    /// Units sold or held beyond the stock: the naive strategy's lost updates. Expiring
    /// their holds later does not hide them (see `short`).
    pub fn oversold(&self) -> i64 {
        self.balance().max(0)
    }

    /// Units neither available, held nor sold: lost by a drifting cache or a crash.
    pub fn undersold(&self) -> i64 {
        (-self.balance()).max(0)
    }
}

/// The most units a product may have, and the most a restock may set: far beyond any
/// sale, and far from where `i64` sums over many holds could overflow.
pub const MAX_STOCK: i64 = 1_000_000_000;

/// A hold as its own buyer sees it, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HoldState {
    pub hold: Hold,
    /// `active`, `paid`, `expired` or `released` (an active hold past its deadline is
    /// still `active` here until the sweeper or a checkout closes it).
    pub status: String,
    pub extensions: i64,
}

/// A hold as read before changing it: what [`refuse`] and [`extended_expiry`] judge, in
/// either store.
pub struct HoldRow {
    pub product_id: ProductId,
    pub buyer: String,
    pub qty: i64,
    pub status: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub extensions: i64,
}

/// Why an open-looking hold cannot be changed by this buyer now.
pub fn refuse(id: HoldId, row: &HoldRow, buyer: &str, now: Millis) -> Option<Error> {
    if row.buyer != buyer {
        return Some(Error::NotYourHold { id });
    }
    if row.status == EXPIRED || (row.status == ACTIVE && row.expires_at <= now) {
        return Some(Error::HoldExpired { id });
    }
    if row.status != ACTIVE {
        return Some(Error::HoldClosed {
            id,
            status: row.status.clone(),
        });
    }
    None
}

/// What a checkout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout {
    Paid(Order),
    /// The hold was paid before (a retried checkout): the same order again.
    AlreadyPaid(Order),
    /// The hold had expired unnoticed; this call expired it and returned its units.
    Expired(Returned),
}

/// Rules for extending a hold: activity pushes the deadline to `now + ttl`, at most
/// `max_extensions` times and never past `created_at + max_hold`.
#[derive(Debug, Clone, Copy)]
pub struct ExtendRules {
    pub ttl_ms: Millis,
    pub max_extensions: i64,
    pub max_hold_ms: Millis,
}

/// The deadline an extension of `row` gives now, or why it may not be extended.
pub fn extended_expiry(
    id: HoldId,
    row: &HoldRow,
    now: Millis,
    rules: ExtendRules,
) -> Result<Millis> {
    if row.extensions >= rules.max_extensions {
        return Err(Error::ExtendLimit {
            id,
            why: format!("it was extended {} times, the most allowed", row.extensions),
        });
    }
    let cap = row.created_at.saturating_add(rules.max_hold_ms);
    let new_expiry = now.saturating_add(rules.ttl_ms).min(cap);
    if new_expiry <= row.expires_at {
        return Err(Error::ExtendLimit {
            id,
            why: "it already runs to the longest a hold may last".into(),
        });
    }
    Ok(new_expiry)
}

pub fn check_quantity(qty: i64) -> Result<()> {
    if qty < 1 {
        return Err(Error::BadQuantity { requested: qty });
    }
    Ok(())
}

/// The per-buyer limit's refusal, with the numbers (`held` live units already).
pub fn limit_reached(product: &ProductInfo, buyer: &str, held: i64, qty: i64) -> Error {
    Error::LimitReached {
        product: product.name.clone(),
        buyer: buyer.to_owned(),
        held,
        limit: product.max_per_buyer,
        requested: qty,
    }
}

pub fn sold_out(product: &ProductInfo, available: i64, requested: i64) -> Error {
    Error::SoldOut {
        product: product.name.clone(),
        available,
        requested,
    }
}

/// `now + ttl` (at least 1 ms), refused rather than wrapped when a TTL is absurdly long.
pub fn deadline(now: Millis, ttl_ms: Millis) -> Result<Millis> {
    now.checked_add(ttl_ms.max(1)).ok_or_else(|| {
        Error::Usage(format!(
            "A hold TTL of {ttl_ms} ms runs past the end of time; use a TTL of at most a year"
        ))
    })
}

/// The total after setting the available units from `current` to `available`: moved by
/// the same amount, checked. (Unchecked, SQLite turns an INTEGER that overflows into a
/// REAL, and every later read of the column fails — "Invalid column type Real" — until
/// the file is replaced.)
pub fn restocked_total(total: i64, current: i64, available: i64) -> Result<i64> {
    if !(0..=MAX_STOCK).contains(&available) {
        return Err(Error::Usage(format!(
            "A restock sets between 0 and {MAX_STOCK} units (asked: {available})"
        )));
    }
    available
        .checked_sub(current)
        .and_then(|delta| total.checked_add(delta))
        .filter(|t| *t <= MAX_STOCK.saturating_mul(2))
        .ok_or_else(|| {
            Error::Usage(format!(
                "Restocking to {available} units would take the total past {} units",
                MAX_STOCK.saturating_mul(2)
            ))
        })
}

/// What a payment did: a new order, or the one an earlier payment of the hold made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paid {
    New(Order),
    Again(Order),
}

impl Paid {
    pub fn into_order(self) -> Order {
        match self {
            Paid::New(order) | Paid::Again(order) => order,
        }
    }
}

/// The rules of the sale in the database, as the engine uses them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SaleRules {
    pub name: String,
    pub hold_ttl: Duration,
    pub max_extensions: i64,
    pub max_hold: Duration,
}

/// Units of a product that are held and may come back: how many holds, and when the
/// first and the last of them run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MayReturn {
    pub holds: u64,
    pub units: i64,
    pub first: Option<Millis>,
    pub last: Option<Millis>,
}
