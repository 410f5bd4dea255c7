//! Live state for `GET /api/events` and the metrics, fed by one collector thread.
//!
//! The collector drains the engine's events (a std thread: the engine's channel is
//! blocking), folds them into the server's one [`Metrics`] aggregate, forwards hold and
//! order events, and, while a client watches, re-reads the stock at most every
//! [`STOCK_EVERY`] while anything changed (and every second anyway, for changes another
//! process makes to the file).
//!
//! Every SSE client reads the latest stock from a `watch` (one value, overwritten) and
//! the hold/order feed from a bounded `broadcast`: a client that falls behind loses
//! feed events, is sent the latest stock instead, and never costs the server a backlog.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt as _};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use super::views::ProductView;
use crate::engine::{Engine, EngineEvent, ReturnReason};
use crate::metrics::{Metrics, Sample};

/// The most often the stock is re-read while the sale moves.
pub const STOCK_EVERY: Duration = Duration::from_millis(100);

/// Hold and order events a client may fall behind by before it skips to the stock.
const FEED_CAPACITY: usize = 256;

#[derive(Debug, Clone)]
pub struct Frame {
    pub id: u64,
    pub event: &'static str,
    pub data: String,
}

pub struct Live {
    stock: watch::Sender<Frame>,
    feed: broadcast::Sender<Frame>,
    next_id: AtomicU64,
}

impl Live {
    pub fn new() -> Self {
        let (stock, _) = watch::channel(Frame {
            id: 0,
            event: "stock",
            data: "[]".into(),
        });
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        Live {
            stock,
            feed,
            next_id: AtomicU64::new(1),
        }
    }

    fn frame(&self, event: &'static str, data: String) -> Frame {
        Frame {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            event,
            data,
        }
    }

    pub fn publish_stock(&self, products: &[ProductView]) {
        let data = serde_json::to_string(products).unwrap_or_else(|_| "[]".into());
        if self.stock.borrow().data == data {
            return;
        }
        let frame = self.frame("stock", data);
        self.stock.send_replace(frame);
    }

    /// Builds and sends a feed event, only when some client is watching (the sale
    /// runs at thousands of holds a second, mostly with nobody on the feed).
    fn publish(&self, event: &'static str, data: impl FnOnce() -> serde_json::Value) {
        if self.feed.receiver_count() == 0 {
            return;
        }
        let _ = self.feed.send(self.frame(event, data().to_string()));
    }
}

/// Runs the collector until `stop` is set.
pub fn spawn_collector(
    engine: Engine,
    live: Arc<Live>,
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let events = engine.subscribe();
    std::thread::Builder::new()
        .name("serve-events".into())
        .spawn(move || {
            let mut skus = Skus {
                engine: engine.clone(),
                known: std::collections::HashMap::new(),
            };
            let mut last_read: Option<Instant> = None;
            let mut dirty = true;
            while !stop.load(Ordering::Relaxed) {
                match events.recv_timeout(STOCK_EVERY) {
                    Ok(event) => {
                        dirty = true;
                        fold(&mut skus, &live, &metrics, started, event);
                        while let Ok(event) = events.try_recv() {
                            fold(&mut skus, &live, &metrics, started, event);
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                }
                // The stock read sums the live holds: not worth it with nobody watching
                // (a client that connects gets the last reading, then a fresh one).
                let watched = live.stock.receiver_count() > 0;
                let since = last_read.map_or(Duration::MAX, |t| t.elapsed());
                if watched && ((dirty && since >= STOCK_EVERY) || since >= Duration::from_secs(1)) {
                    if let Ok(products) = super::products(&engine) {
                        live.publish_stock(&products);
                    }
                    last_read = Some(Instant::now());
                    dirty = false;
                }
            }
        })
}

fn at_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// SKUs by product id for the feed, kept by the collector (a sale's catalogue does
/// not change while it runs; an unknown id reloads it once).
struct Skus {
    engine: Engine,
    known: std::collections::HashMap<crate::ids::ProductId, String>,
}

impl Skus {
    fn get(&mut self, id: crate::ids::ProductId) -> String {
        if !self.known.contains_key(&id) {
            self.known = self
                .engine
                .products()
                .iter()
                .map(|p| (p.id, p.sku.clone()))
                .collect();
        }
        self.known.get(&id).cloned().unwrap_or_default()
    }
}

/// One engine event into the metrics and, for holds and orders, the feed. Buyers and
/// hold ids stay out of the feed: everyone can read it.
fn fold(
    skus: &mut Skus,
    live: &Live,
    metrics: &Mutex<Metrics>,
    started: Instant,
    event: EngineEvent,
) {
    let at = at_ms(started);
    match event {
        EngineEvent::Held(hold) => live.publish("hold", || {
            json!({"sku": skus.get(hold.product_id), "qty": hold.qty,
                   "status": "active", "expires_at": hold.expires_at})
        }),
        EngineEvent::Paid(order) => {
            metrics.lock().record(Sample::Paid { at });
            live.publish("order", || {
                json!({"sku": skus.get(order.product_id), "qty": order.qty,
                       "paid_at": order.paid_at})
            });
        }
        EngineEvent::Returned { reason, holds } => {
            let mut m = metrics.lock();
            for h in &holds {
                m.record(match reason {
                    ReturnReason::Expired => Sample::Expired {
                        at,
                        qty: h.qty,
                        lag_ms: u64::try_from(h.closed_at - h.expires_at).unwrap_or(0),
                    },
                    ReturnReason::Released => Sample::Released { at, qty: h.qty },
                });
            }
            drop(m);
            let status = match reason {
                ReturnReason::Expired => "expired",
                ReturnReason::Released => "released",
            };
            for h in holds {
                live.publish(
                    "hold",
                    || json!({"sku": skus.get(h.product_id), "qty": h.qty, "status": status}),
                );
            }
        }
        EngineEvent::Refunded { .. } => metrics.lock().record(Sample::Refunded { at }),
        // Its news is the stock itself: the event marked it dirty, and the loop re-reads it.
        EngineEvent::StockChanged => {}
    }
}

fn to_event(frame: &Frame) -> Event {
    Event::default()
        .id(frame.id.to_string())
        .event(frame.event)
        .data(&frame.data)
}

/// The SSE stream of one client: the current stock first, then changes, until the
/// server shuts down (so a graceful drain is not held open by watchers).
pub fn stream(
    live: &Live,
    shutdown: watch::Receiver<bool>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let events = frames(live, shutdown).map(|frame| Ok(to_event(&frame)));
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The frames one client is sent, as they are ready for it.
fn frames(live: &Live, shutdown: watch::Receiver<bool>) -> impl Stream<Item = Frame> + use<> {
    let mut stock = live.stock.subscribe();
    stock.mark_changed();
    let feed = live.feed.subscribe();
    let state = (stock, feed, shutdown);
    futures_util::stream::unfold(state, |mut s| async move {
        let (stock, feed, shutdown) = &mut s;
        loop {
            if *shutdown.borrow() {
                return None;
            }
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                // The feed before the stock: a hold is published before the stock
                // read that counts it, so ids arrive in order.
                frame = feed.recv() => match frame {
                    Ok(frame) => return Some((frame, s)),
                    // Fell behind: drop the whole backlog (a new receiver starts at
                    // the tail) and send the latest stock next.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        *feed = feed.resubscribe();
                        stock.mark_changed();
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = stock.changed() => {
                    changed.ok()?;
                    let frame = stock.borrow_and_update().clone();
                    return Some((frame, s));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_client_that_falls_behind_gets_the_latest_stock_not_the_backlog() {
        let live = Live::new();
        live.publish_stock(&[]);
        let (_stop, shutdown) = watch::channel(false);
        let mut frames = Box::pin(frames(&live, shutdown));
        // The client reads nothing while 10,000 holds and a stock change go by.
        for i in 0..10_000 {
            live.publish("hold", || json!({"n": i}));
        }
        let latest = vec![ProductView {
            sku: "A".into(),
            name: "a".into(),
            price_cents: 1,
            stock_total: 1,
            available: 0,
            held: 1,
            sold: 0,
        }];
        live.publish_stock(&latest);
        let first = frames.next().await.unwrap();
        assert_eq!(first.event, "stock", "the backlog was skipped");
        assert!(
            first.data.contains("\"available\":0"),
            "the latest stock: {}",
            first.data
        );
        // Only what comes after is sent: a new hold, nothing of the 10,000.
        live.publish("hold", || json!({"n": "new"}));
        let next = frames.next().await.unwrap();
        assert_eq!(
            (next.event, next.data.as_str()),
            ("hold", "{\"n\":\"new\"}")
        );
        assert!(next.id > first.id);
    }

    #[tokio::test]
    async fn the_stream_ends_at_shutdown() {
        let live = Live::new();
        let (stop, shutdown) = watch::channel(false);
        let mut frames = Box::pin(frames(&live, shutdown));
        assert_eq!(frames.next().await.unwrap().event, "stock");
        stop.send(true).unwrap();
        assert!(frames.next().await.is_none());
    }
}
