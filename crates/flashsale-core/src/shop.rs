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
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::{Mutex, RwLock};

mod strategies;
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

/// How often the sweeper looks for due holds of other processes.
const POLL: Duration = Duration::from_millis(250);

/// How often a sold-out gate is checked against the store (see `gate_undercounts`).
const VERIFY_EVERY: Duration = Duration::from_millis(250);

/// The longest pause of the sweeper after failed sweeps.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

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
    store: Arc<dyn Store>,
    gate: Box<dyn Gate>,
    clock: Clock,
    config: ShopConfig,
    strategy: AtomicU8,
    rules: RwLock<SaleRules>,
    products: RwLock<Vec<Arc<ProductInfo>>>,
    events: Bus,
    counters: Counters,
    carts: Carts,
    queue: Mutex<Option<Sender<threads::Request>>>,
    sweeper: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
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
        let shop = Shop {
            inner: Arc::new(Inner {
                clock: config.clock.clone(),
                strategy: AtomicU8::new(config.strategy.to_u8()),
                rules: RwLock::new(rules),
                products: RwLock::new(products),
                events: Bus::default(),
                counters: Counters::default(),
                carts: Carts::default(),
                queue: Mutex::new(None),
                sweeper: Mutex::new(None),
                sweeps: AtomicBool::new(false),
                verified: Mutex::new(Vec::new()),
                store,
                gate,
                config,
            }),
        };
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

    pub fn products(&self) -> Vec<Arc<ProductInfo>> {
        self.inner.products.read().clone()
    }

    /// The product with this SKU (read again from the store when not known yet).
    pub fn product(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        if let Some(p) = self.inner.products.read().iter().find(|p| p.sku == sku) {
            return Ok(Arc::clone(p));
        }
        let fresh: Vec<_> = self
            .inner
            .store
            .products()?
            .into_iter()
            .map(Arc::new)
            .collect();
        let found = fresh.iter().find(|p| p.sku == sku).cloned();
        let known = fresh
            .iter()
            .map(|p| p.sku.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        *self.inner.products.write() = fresh.clone();
        found.ok_or_else(|| Error::UnknownSku {
            sku: sku.to_owned(),
            known,
        })
    }

    fn product_by_id(&self, id: ProductId) -> Result<Arc<ProductInfo>> {
        self.inner
            .products
            .read()
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| Error::Usage(format!("No product #{id} in this sale")))
    }

    /// Add to cart: a hold on `qty` units of `sku` for `buyer`, by the strategy.
    pub fn reserve(&self, sku: &str, buyer: &str, qty: i64) -> Result<Hold> {
        model::check_quantity(qty)?;
        let product = self.product(sku)?;
        let take = Take {
            product: (*product).clone(),
            buyer: buyer.to_owned(),
            qty,
            now: self.inner.clock.now(),
            ttl_ms: self.inner.ttl_ms(),
        };
        let result = match self.strategy() {
            Strategy::PayFirst => {
                let cart = Hold {
                    id: HoldId::at(take.now),
                    product_id: product.id,
                    buyer: take.buyer,
                    qty,
                    created_at: take.now,
                    expires_at: model::deadline(take.now, take.ttl_ms)?,
                    kind: HoldKind::Cart,
                };
                self.inner.carts.issue(&cart, take.now);
                return Ok(cart);
            }
            Strategy::Queue => self.inner.queued(take),
            Strategy::Gate => self.inner.gated(&take),
            other => self.inner.direct(other, &take),
        };
        self.inner.count(&result);
        if let Ok(hold) = &result {
            self.inner.held(hold);
        }
        result
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
        let settled = self.inner.store.pay_first(cart, now);
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

    /// Starts the sweeper thread (once).
    pub fn start_sweeper(&self) {
        let mut slot = self.inner.sweeper.lock();
        if slot.is_some() {
            return;
        }
        let (stop, stopped) = bounded(1);
        let weak = Arc::downgrade(&self.inner);
        let handle = std::thread::Builder::new()
            .name("flashsale-sweeper".into())
            .spawn(move || threads::sweeper(&weak, &stopped));
        match handle {
            Ok(handle) => *slot = Some((stop, handle)),
            Err(e) => tracing::error!("sweeper: could not start its thread: {e}"),
        }
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

impl Drop for Inner {
    fn drop(&mut self) {
        // The sweeper holds only a weak reference; wake it so it sees that and ends.
        if let Some((stop, _)) = self.sweeper.get_mut().take() {
            let _ = stop.try_send(());
        }
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

    /// A strategy the store takes itself.
    fn direct(&self, strategy: Strategy, take: &Take) -> Result<Hold> {
        let taken = self.store.reserve(strategy, take)?;
        self.returned(taken.returned, ReturnReason::Expired);
        Ok(taken.hold)
    }

    /// A hold was committed: tell the gate and whoever watches, and wake the sweeper.
    fn held(&self, hold: &Hold) {
        self.events.publish(|| EngineEvent::Held(hold.clone()));
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
                    return Ok(total);
                }
            }
        })();
        self.sweeps.store(false, Ordering::Release);
        result
    }
}
