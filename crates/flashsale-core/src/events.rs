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
        let mut event = Some(event());
        let mut subs = self.subscribers.lock();
        // The last subscriber gets the event itself: with one watcher (a server's
        // collector) publishing copies nothing, where a clone of a hold was three
        // allocations on the writer's thread for every add-to-cart.
        let last = subs.len().saturating_sub(1);
        let mut index = 0;
        subs.retain(|s| {
            let copy = if index == last {
                event.take()
            } else {
                event.clone()
            };
            index += 1;
            copy.is_some_and(|e| s.send(e).is_ok())
        });
        if subs.is_empty() {
            self.any.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_hears_each_event_and_gone_ones_are_dropped() {
        let bus = Bus::default();
        let (first, second, gone) = (bus.subscribe(), bus.subscribe(), bus.subscribe());
        drop(gone);
        bus.publish(|| EngineEvent::StockChanged);
        assert!(matches!(first.try_recv(), Ok(EngineEvent::StockChanged)));
        assert!(matches!(second.try_recv(), Ok(EngineEvent::StockChanged)));
        assert_eq!(
            bus.subscribers.lock().len(),
            2,
            "the dropped one is forgotten"
        );
        drop(first);
        bus.publish(|| EngineEvent::StockChanged);
        assert!(matches!(second.try_recv(), Ok(EngineEvent::StockChanged)));
        drop(second);
        bus.publish(|| EngineEvent::StockChanged);
        assert!(
            !bus.any.load(Ordering::Acquire),
            "nobody listens: nothing is built"
        );
        let mut built = false;
        bus.publish(|| {
            built = true;
            EngineEvent::StockChanged
        });
        assert!(!built);
    }
}
