//! The storage seam: the sale's state changes, each one whole, as a store makes them.
//!
//! The seam sits at the level of a state change (take a hold by a strategy, pay, release,
//! extend, expire what is due, restock, reset, read the sale), not row by row, so that
//! each store does it the way its engine does it best: PostgreSQL takes `immediate` as
//! `SELECT … FOR UPDATE` and sweeps with `SKIP LOCKED` from every process at once, while
//! SQLite funnels every write through its one writer. Every change is conditional in the
//! store (`… WHERE status = 'active' AND expires_at > now`), so a second process, a
//! sweeper or a retried request can never make it twice.
//!
//! The store decides; [`crate::shop::Shop`] above it keeps the rules, the clock, the gate
//! and the events, the same for every store.

use std::sync::Arc;

use crate::clock::Millis;
use crate::error::Result;
use crate::ids::{HoldId, ProductId};
use crate::metrics::Counters;
use crate::model::{
    Checkout, ExtendRules, Hold, HoldState, MayReturn, Order, ProductInfo, Returned, SaleRules,
    Stock,
};
use crate::strategy::Strategy;

/// One add-to-cart, as the store takes it.
#[derive(Debug, Clone)]
pub struct Take {
    pub product: Arc<ProductInfo>,
    pub buyer: String,
    pub qty: i64,
    /// The sale clock's now: the hold's `created_at`.
    pub now: Millis,
    /// The hold TTL on the sale clock (warp applied).
    pub ttl_ms: Millis,
}

/// A hold taken, and the holds a lazy expiry closed on the way (their units came back,
/// committed with it).
#[derive(Debug, Clone)]
pub struct Taken {
    pub hold: Hold,
    pub returned: Vec<Returned>,
}

impl Taken {
    /// A hold taken, with nothing returned on the way.
    pub fn held(hold: Hold) -> Self {
        Taken {
            hold,
            returned: Vec::new(),
        }
    }
}

/// What a pay-first payment came to in the store.
#[derive(Debug, Clone)]
pub enum Settled {
    Paid(Order),
    /// No stock left (or the buyer's limit): refunded and recorded as a refund.
    Refunded,
}

/// A group of add-to-carts committed together, in arrival order (the queue strategy's
/// group commit): each its own answer, and what lazy expiry returned for all of them.
#[derive(Debug)]
pub struct Batch {
    pub answers: Vec<Result<Hold>>,
    pub returned: Vec<Returned>,
}

/// Where a store reports units that came back on sale by its own doing, not as the
/// answer to a call (the SQLite writer's lazy expiry inside a group commit).
pub type ReturnSink = Arc<dyn Fn(Vec<Returned>) + Send + Sync>;

/// The answer to a reservation started with [`Store::start_reserve`]: called once, on
/// the store's own thread, so it must be quick and never block.
pub type Then = Box<dyn FnOnce(Result<Taken>) + Send>;

/// The sale as a store keeps it. Implemented by the SQLite file and by PostgreSQL.
pub trait Store: Send + Sync {
    /// The store commits `queue`'s add-to-carts in groups itself, through
    /// `reserve(Strategy::Queue, …)` (SQLite's one writer does, with the payments,
    /// releases and extensions beside them); otherwise the shop's writer thread groups
    /// them through [`Store::reserve_batch`].
    fn groups(&self) -> bool {
        false
    }

    /// The store's own counters of commits, rollbacks, busy answers, conflicts and
    /// retries, counted where they happen; the shop then counts none of these itself.
    fn counters(&self) -> Option<Arc<Counters>> {
        None
    }

    /// Where to report units that came back by the store's own doing (see
    /// [`ReturnSink`]); set once, by the shop that runs on the store.
    fn on_returned(&self, sink: ReturnSink) {
        let _ = sink;
    }

    /// Where the sale lives, for headers and reports (a URL never shows its password).
    fn describe(&self) -> String;

    /// The sale's rules as the database has them.
    fn rules(&self) -> Result<SaleRules>;
    /// Stores the hold TTL (a longer one lengthens the longest hold with it).
    fn set_hold_ttl(&self, ttl_ms: Millis) -> Result<()>;
    /// Every product, in id order.
    fn products(&self) -> Result<Vec<ProductInfo>>;
    /// Every product's stock with its held, sold and short units summed.
    fn stock(&self) -> Result<Vec<Stock>>;

    /// Takes a hold the way `strategy` does (`naive`, `immediate`, `optimistic` or
    /// `atomic`, and `queue` when the store [`groups`](Store::groups); the shop turns
    /// `gate`, `pay-first` and otherwise `queue` into these). Sold out,
    /// a buyer's limit or lost races are errors the caller counts.
    fn reserve(&self, strategy: Strategy, take: &Take) -> Result<Taken>;
    /// `queue`'s add-to-cart without waiting for it: `then` gets the answer. A store that
    /// [`groups`](Store::groups) answers later, from its writer, so an async server
    /// needs no thread per request in flight; otherwise this answers now.
    fn start_queued(&self, take: Take, then: Then) {
        then(self.reserve(Strategy::Queue, &take));
    }
    /// Takes many holds in one transaction, in order: the group commit.
    fn reserve_batch(&self, takes: &[Take]) -> Result<Batch>;
    /// Pay-first: the money is in; claims the stock of `product` now, or records a
    /// refund.
    fn pay_first(
        &self,
        product: &ProductInfo,
        cart: &Hold,
        now: Millis,
    ) -> Result<(Settled, Vec<Returned>)>;

    /// Pays a hold (idempotent: a paid hold gives its one order again).
    fn checkout(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Checkout>;
    /// Cancels a hold and puts its units back.
    fn release(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Returned>;
    /// Pushes a hold's deadline out, within the rules.
    fn extend(&self, id: HoldId, buyer: &str, now: Millis, rules: ExtendRules) -> Result<Hold>;
    /// The order a paid hold made.
    fn order_of(&self, hold: HoldId) -> Result<Order>;
    /// One buyer's hold as that buyer sees it.
    fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState>;

    /// Expires at most `limit` due holds, oldest deadline first, and puts their units
    /// back. Never waits for a hold another transaction is changing.
    fn expire_due(&self, now: Millis, limit: i64) -> Result<Vec<Returned>>;
    /// The earliest deadline among active holds (of every process).
    fn next_deadline(&self) -> Result<Option<Millis>>;

    /// Units of the holds of the buyers whose names start with `prefix` (one run's
    /// buyers share one), by status: `[("active", 3), ("paid", 40), …]`.
    fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>>;
    /// Units that may still come to a buyer refused `qty`: held by anyone (they may
    /// expire or be released), plus the available ones when they are enough.
    fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64>;

    /// What could come back of a sold-out product: its active holds.
    fn may_return(&self, product: ProductId) -> Result<MayReturn>;

    /// Sets a product's available units; the total moves by the same amount.
    fn restock(&self, product: ProductId, available: i64) -> Result<()>;
    /// Deletes every hold, order and refund and puts every product back to its total.
    fn reset(&self) -> Result<()>;
}
