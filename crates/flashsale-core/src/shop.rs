//! The application layer over any [`Store`]: the operations every front end calls —
//! reserve, pay, release, extend, restock, reset, sweep, set the strategy and the TTL —
//! with the rules, the clock, the gate and the events kept here, once, whatever the
//! store. The strategies a store does not take itself are built here from the ones it
//! does: `gate` is a permit from the [`Gate`] before an `immediate` hold, `queue` is a
//! writer thread of this process committing requests in groups
//! ([`Store::reserve_batch`]), `pay-first` keeps its carts in memory until the payment.
//!
//! A `Shop` is a cheap handle (an `Arc`); its threads (the queue's writer, the sweeper)
//! hold weak references and end when the last handle goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Mutex, RwLock};

mod catalog;
mod later;
mod strategies;
mod sweeper;
mod threads;

use crate::carts::{Carts, Claim};
use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::events::{Bus, EngineEvent, ReturnReason};
use crate::gate::Gate;
use crate::ids::{HoldId, ProductId};
use crate::metrics::{CounterSnapshot, Counters};
use crate::model::{
    self, Checkout, ExtendRules, Hold, HoldKind, HoldState, Order, Paid, ProductInfo, Returned,
    SaleRules, Stock,
};
use crate::store::{Settled, Store, Take};
use crate::strategy::Strategy;

pub use later::{Answered, Later};

/// How often a sold-out gate is checked against the store (see `gate_undercounts`).
const VERIFY_EVERY: Duration = Duration::from_millis(250);

/// Shop ids, for the per-thread product caches (an address could be reused by a later
/// shop).
static SHOP_IDS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
pub struct ShopConfig {
    pub clock: Clock,
    pub strategy: Strategy,
    /// Run the sweeper thread (tests with a manual clock sweep by hand).
    pub sweeper: bool,
    /// Holds expired per sweeper transaction.
    pub sweep_batch: i64,
    /// Add-to-carts per group commit of the queue strategy.
    pub max_batch: usize,
    /// A hold TTL for this shop only, instead of the sale's.
    pub hold_ttl: Option<Duration>,
}

impl Default for ShopConfig {
    fn default() -> Self {
        ShopConfig {
            clock: Clock::real(),
            strategy: Strategy::Immediate,
            sweeper: true,
            sweep_batch: 512,
            max_batch: 512,
            hold_ttl: None,
        }
    }
}

/// The application's operations on one sale.
#[derive(Clone)]
pub struct Shop {
    inner: Arc<Inner>,
}

struct Inner {
    /// This shop among the process's shops.
    id: u64,
    store: Arc<dyn Store>,
    gate: Box<dyn Gate>,
    clock: Clock,
    config: ShopConfig,
    strategy: AtomicU8,
    rules: RwLock<SaleRules>,
    products: RwLock<Vec<Arc<ProductInfo>>>,
    events: Bus,
    counters: Arc<Counters>,
    /// The store counts commits, busy answers, conflicts and retries itself.
    store_counts: bool,
    carts: Carts,
    queue: Mutex<Option<Sender<threads::Request>>>,
    sweeper: Mutex<Option<sweeper::SweeperHandle>>,
    /// Rounds of the background sweeper, and how many of them failed: a sweeper that
    /// spins on an error shows here (and in tests) without timing anything.
    sweeper_passes: AtomicU64,
    sweeper_failures: AtomicU64,
    /// The earliest deadline of an active hold this process knows of (`i64::MAX` if
    /// none): lets sold-out paths and the sweeper skip the store when nothing is due.
    next_deadline: AtomicI64,
    sweeps: AtomicBool,
    /// When each product's sold-out gate was last checked against the store.
    verified: Mutex<Vec<(ProductId, std::time::Instant)>>,
}

impl Shop {
    /// The shop of the sale in `store`, its gate rebuilt from the store's stock.
    pub fn open(store: Arc<dyn Store>, gate: Box<dyn Gate>, config: ShopConfig) -> Result<Shop> {
        let mut rules = store.rules()?;
        if let Some(ttl) = config.hold_ttl {
            rules.hold_ttl = ttl;
            rules.max_hold = rules.max_hold.max(ttl);
        }
        let products = store.products()?.into_iter().map(Arc::new).collect();
        let next = store.next_deadline()?.unwrap_or(i64::MAX);
        let (counters, store_counts) = match store.counters() {
            Some(counters) => (counters, true),
            None => (Arc::default(), false),
        };
        let shop = Shop {
            inner: Arc::new(Inner {
                id: SHOP_IDS.fetch_add(1, Ordering::Relaxed),
                clock: config.clock.clone(),
                strategy: AtomicU8::new(config.strategy.to_u8()),
                rules: RwLock::new(rules),
                products: RwLock::new(products),
                events: Bus::default(),
                counters,
                store_counts,
                carts: Carts::default(),
                queue: Mutex::new(None),
                sweeper: Mutex::new(None),
                sweeper_passes: AtomicU64::new(0),
                sweeper_failures: AtomicU64::new(0),
                next_deadline: AtomicI64::new(next),
                sweeps: AtomicBool::new(false),
                verified: Mutex::new(Vec::new()),
                store,
                gate,
                config,
            }),
        };
        let weak = Arc::downgrade(&shop.inner);
        shop.inner.store.on_returned(Arc::new(move |holds| {
            if let Some(inner) = weak.upgrade() {
                inner.returned(holds, ReturnReason::Expired);
            }
        }));
        shop.rebuild_gate()?;
        if shop.inner.config.sweeper {
            shop.start_sweeper();
        }
        Ok(shop)
    }

    pub fn describe(&self) -> String {
        self.inner.store.describe()
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn strategy(&self) -> Strategy {
        Strategy::from_u8(self.inner.strategy.load(Ordering::Acquire))
    }

    /// Switches the strategy for the next add-to-cart (switching to `gate` rebuilds the
    /// gate first: it may have missed what other strategies sold).
    pub fn set_strategy(&self, strategy: Strategy) -> Result<()> {
        if strategy == Strategy::Gate {
            self.rebuild_gate()?;
        }
        self.inner
            .strategy
            .store(strategy.to_u8(), Ordering::Release);
        Ok(())
    }

    pub fn rules(&self) -> SaleRules {
        self.inner.rules.read().clone()
    }

    /// The hold TTL as it passes on this shop's clock (warp applied).
    pub fn ttl_ms(&self) -> Millis {
        self.inner.ttl_ms()
    }

    pub fn set_hold_ttl(&self, ttl: Duration) -> Result<()> {
        self.inner
            .store
            .set_hold_ttl(crate::clock::duration_ms(ttl))?;
        let mut rules = self.inner.rules.write();
        rules.hold_ttl = ttl;
        rules.max_hold = rules.max_hold.max(ttl);
        Ok(())
    }

    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// Events from now on; dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub fn stock(&self) -> Result<Vec<Stock>> {
        self.inner.store.stock()
    }

    /// Add to cart: a hold on `qty` units of `sku` for `buyer`, by the strategy.
    pub fn reserve(&self, sku: &str, buyer: &str, qty: i64) -> Result<Hold> {
        let take = self.take(sku, buyer, qty)?;
        let result = match self.strategy() {
            Strategy::PayFirst => {
                crate::arrival::arrived();
                let cart = Hold {
                    id: HoldId::at(take.now),
                    product_id: take.product.id,
                    buyer: take.buyer,
                    qty,
                    created_at: take.now,
                    expires_at: model::deadline(take.now, take.ttl_ms)?,
                    kind: HoldKind::Cart,
                };
                self.inner.carts.issue(&cart, take.now);
                return Ok(cart);
            }
            Strategy::Queue if self.inner.store.groups() => {
                self.inner.direct(Strategy::Queue, &take)
            }
            Strategy::Queue => self.inner.queued(take),
            Strategy::Gate => self.inner.gated(&take),
            other => self.inner.direct(other, &take),
        };
        self.inner.after_reserve(&result);
        result
    }

    /// An add-to-cart's request, stamped now.
    fn take(&self, sku: &str, buyer: &str, qty: i64) -> Result<Take> {
        model::check_quantity(qty)?;
        Ok(Take {
            product: self.product_here(sku)?,
            buyer: buyer.to_owned(),
            qty,
            now: self.inner.clock.now(),
            ttl_ms: self.inner.ttl_ms(),
        })
    }

    /// Pays a hold, or settles a pay-first cart.
    pub fn checkout(&self, hold: &Hold) -> Result<Order> {
        match hold.kind {
            HoldKind::Cart => self.pay_cart(hold),
            HoldKind::Held => Ok(self.pay(hold.id, &hold.buyer)?.into_order()),
        }
    }

    /// Pays the hold `id` of `buyer`: a new order, or the one an earlier payment made.
    pub fn pay(&self, id: HoldId, buyer: &str) -> Result<Paid> {
        let now = self.inner.clock.now();
        match self.inner.store.checkout(id, buyer, now)? {
            Checkout::Paid(order) => {
                self.inner
                    .events
                    .publish(|| EngineEvent::Paid(order.clone()));
                self.inner.gate.forget(&[id]);
                Ok(Paid::New(order))
            }
            Checkout::AlreadyPaid(order) => Ok(Paid::Again(order)),
            Checkout::Expired(returned) => {
                self.inner.returned(vec![returned], ReturnReason::Expired);
                Err(Error::HoldExpired { id })
            }
        }
    }

    fn pay_cart(&self, cart: &Hold) -> Result<Order> {
        match self.inner.carts.claim(cart) {
            Claim::Issued => {}
            Claim::Forged => return Err(Error::NotYourHold { id: cart.id }),
            Claim::Unknown => {
                let order = self.inner.store.order_of(cart.id)?;
                return if order.buyer == cart.buyer {
                    Ok(order)
                } else {
                    Err(Error::NotYourHold { id: cart.id })
                };
            }
        }
        let now = self.inner.clock.now();
        if now >= cart.expires_at {
            return Err(Error::HoldExpired { id: cart.id });
        }
        let product = self.product_by_id(cart.product_id)?;
        let settled = self.inner.store.pay_first(&product, cart, now);
        let (settled, returned) = match settled {
            Ok(s) => s,
            Err(e) => {
                if e.is_fault() || matches!(e, Error::Busy) {
                    self.inner.carts.restore(cart);
                }
                return Err(e);
            }
        };
        self.inner.returned(returned, ReturnReason::Expired);
        match settled {
            Settled::Paid(order) => {
                self.inner
                    .events
                    .publish(|| EngineEvent::Paid(order.clone()));
                Ok(order)
            }
            Settled::Refunded => {
                self.inner.counters.refunds.fetch_add(1, Ordering::Relaxed);
                self.inner.events.publish(|| EngineEvent::Refunded {
                    product_id: cart.product_id,
                    buyer: cart.buyer.clone(),
                    qty: cart.qty,
                });
                Err(Error::Refunded {
                    product: product.name.clone(),
                })
            }
        }
    }

    /// Cancels a hold (or a pay-first cart) and puts its units back.
    pub fn release(&self, hold: &Hold) -> Result<()> {
        if hold.kind == HoldKind::Cart {
            self.inner.carts.cancel(hold);
            return Ok(());
        }
        self.release_id(hold.id, &hold.buyer)
    }

    pub fn release_id(&self, id: HoldId, buyer: &str) -> Result<()> {
        let returned = self
            .inner
            .store
            .release(id, buyer, self.inner.clock.now())?;
        self.inner.returned(vec![returned], ReturnReason::Released);
        Ok(())
    }

    /// Pushes the hold's deadline to now + TTL, within the sale's limits.
    pub fn extend(&self, id: HoldId, buyer: &str) -> Result<Hold> {
        let rules = self.rules();
        let extend = ExtendRules {
            ttl_ms: self.inner.ttl_ms(),
            max_extensions: rules.max_extensions,
            max_hold_ms: self.inner.clock.scaled(rules.max_hold),
        };
        self.inner
            .store
            .extend(id, buyer, self.inner.clock.now(), extend)
    }

    /// One buyer's hold.
    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState> {
        self.inner.store.hold(id, buyer)
    }

    /// Units of one run's buyers (their names share `prefix`), by status.
    pub fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>> {
        self.inner.store.units_by_status(product, prefix)
    }

    /// Units that may still come to a buyer refused `qty`.
    pub fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64> {
        self.inner.store.units_in_play(product, qty)
    }

    /// What could come back of a sold-out product.
    pub fn may_return(&self, product: ProductId) -> Result<model::MayReturn> {
        self.inner.store.may_return(product)
    }

    /// Expires every due hold now, in bounded batches, and returns how many.
    pub fn sweep(&self) -> Result<usize> {
        self.inner.sweep()
    }

    /// Starts the background sweeper of a shop opened without one (after subscribing
    /// to its events, say, so that none of its returns goes unseen). Idempotent.
    pub fn start_sweeper(&self) {
        let mut slot = self.inner.sweeper.lock();
        if slot.is_none() {
            *slot = sweeper::spawn(Arc::downgrade(&self.inner));
        }
    }

    /// `(rounds, failed rounds)` of the background sweeper so far.
    pub fn sweeper_stats(&self) -> (u64, u64) {
        (
            self.inner.sweeper_passes.load(Ordering::Relaxed),
            self.inner.sweeper_failures.load(Ordering::Relaxed),
        )
    }

    /// Sets a product's available units; the total moves by the same amount.
    pub fn restock(&self, sku: &str, available: i64) -> Result<()> {
        let product = self.product(sku)?;
        self.inner.store.restock(product.id, available)?;
        self.rebuild_gate()?;
        self.inner.events.publish(|| EngineEvent::StockChanged);
        Ok(())
    }

    /// Deletes every hold, order and refund and puts every product back to its total.
    pub fn reset(&self) -> Result<()> {
        self.inner.store.reset()?;
        self.rebuild_gate()?;
        self.inner.events.publish(|| EngineEvent::StockChanged);
        Ok(())
    }

    /// Rebuilds the gate from the store's stock (at start, and when switching to it).
    pub fn rebuild_gate(&self) -> Result<()> {
        self.inner.rebuild_gate()
    }

    pub fn gate_permits(&self, product: ProductId) -> i64 {
        self.inner.gate.permits(product).unwrap_or(0)
    }

    pub fn gate_name(&self) -> String {
        self.inner.gate.describe()
    }
}

impl Inner {
    fn ttl_ms(&self) -> Millis {
        self.clock.scaled(self.rules.read().hold_ttl)
    }

    fn rebuild_gate(&self) -> Result<()> {
        let available: Vec<_> = self
            .store
            .stock()?
            .iter()
            .map(|s| (s.product_id, s.available))
            .collect();
        self.gate.rebuild(&available)
    }

    /// Counts an add-to-cart's answer (unless the store counts), and remembers a hold.
    fn after_reserve(&self, result: &Result<Hold>) {
        if !self.store_counts {
            self.count(result);
        }
        if let Ok(hold) = result {
            self.held(hold);
        }
    }

    fn count(&self, result: &Result<Hold>) {
        match result {
            Err(Error::Busy) => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
            }
            Err(Error::Conflict { retries, .. }) => {
                self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .retries
                    .fetch_add(u64::from(*retries), Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// A strategy the store takes itself. Sold out while a hold this process knows of
    /// is due: swept first, and asked once more (a store need not expire holds inside
    /// every sold-out answer).
    fn direct(&self, strategy: Strategy, take: &Take) -> Result<Hold> {
        let taken = match self.store.reserve(strategy, take) {
            Err(Error::SoldOut { .. }) if self.due() && self.sweep()? > 0 => {
                self.store.reserve(strategy, take)?
            }
            taken => taken?,
        };
        self.returned(taken.returned, ReturnReason::Expired);
        Ok(taken.hold)
    }

    /// A hold was committed: remember its deadline (and wake the sweeper if it is the
    /// earliest), and tell whoever watches.
    fn held(&self, hold: &Hold) {
        let before = self
            .next_deadline
            .fetch_min(hold.expires_at, Ordering::AcqRel);
        if hold.expires_at < before
            && let Some(s) = self.sweeper.lock().as_ref()
        {
            s.wake();
        }
        self.events.publish(|| EngineEvent::Held(hold.clone()));
    }

    /// A hold this process knows of is due.
    fn due(&self) -> bool {
        self.next_deadline.load(Ordering::Acquire) <= self.clock.now()
    }

    /// Re-reads the earliest deadline (a hold of another process counts too).
    fn refresh_deadline(&self) -> Result<()> {
        let next = self.store.next_deadline()?.unwrap_or(i64::MAX);
        self.next_deadline.store(next, Ordering::Release);
        Ok(())
    }

    /// Units came back on sale (committed): the gate may hand them out again.
    fn returned(&self, holds: Vec<Returned>, reason: ReturnReason) {
        if holds.is_empty() {
            return;
        }
        let mut back: Vec<(ProductId, i64)> = Vec::new();
        for r in &holds {
            match back.iter_mut().find(|(p, _)| *p == r.product_id) {
                Some((_, qty)) => *qty += r.back(),
                None => back.push((r.product_id, r.back())),
            }
        }
        for (product, qty) in back {
            self.gate.release(product, qty);
        }
        let ids: Vec<_> = holds.iter().map(|r| r.hold_id).collect();
        self.gate.forget(&ids);
        self.events
            .publish(move || EngineEvent::Returned { reason, holds });
    }

    fn sweep(&self) -> Result<usize> {
        // One sweep at a time in this process (other processes skip what it locks).
        if self.sweeps.swap(true, Ordering::AcqRel) {
            return Ok(0);
        }
        let result = (|| {
            let mut total = 0;
            loop {
                let batch = self
                    .store
                    .expire_due(self.clock.now(), self.config.sweep_batch)?;
                let n = batch.len();
                total += n;
                self.returned(batch, ReturnReason::Expired);
                if i64::try_from(n).unwrap_or(i64::MAX) < self.config.sweep_batch {
                    break;
                }
            }
            self.refresh_deadline()?;
            Ok(total)
        })();
        self.sweeps.store(false, Ordering::Release);
        result
    }
}
