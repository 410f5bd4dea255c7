//! Small events out of the engine, for whoever watches (the console, the swarm's report).
//! Publishing costs one atomic load when nobody listens.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, unbounded};
use parking_lot::Mutex;

use crate::ids::ProductId;
use crate::model::{Hold, Order, Returned};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    Expired,
    Released,
}

#[derive(Debug, Clone)]
pub enum EngineEvent {
    Held(Hold),
    Paid(Order),
    /// Holds closed and their units back on sale, committed.
    Returned {
        reason: ReturnReason,
        holds: Vec<Returned>,
    },
    Refunded {
        product_id: ProductId,
        buyer: String,
        qty: i64,
    },
    /// Stock was set by hand (restock, reset): re-read it.
    StockChanged,
}

/// The engine's one-way channel to its watchers.
#[derive(Default)]
pub struct Bus {
    any: AtomicBool,
    /// Subscribers; a std-style lock is enough, it is taken only when someone listens.
    subscribers: Mutex<Vec<Sender<EngineEvent>>>,
}

impl Bus {
    pub fn subscribe(&self) -> Receiver<EngineEvent> {
        let (tx, rx) = unbounded();
        let mut subs = self.subscribers.lock();
        subs.push(tx);
        self.any.store(true, Ordering::Release);
        rx
    }

    /// Builds the event only when somebody listens.
    pub fn publish(&self, event: impl FnOnce() -> EngineEvent) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let event = event();
        let mut subs = self.subscribers.lock();
        subs.retain(|s| s.send(event.clone()).is_ok());
        if subs.is_empty() {
            self.any.store(false, Ordering::Release);
        }
    }
}
