//! The collector: one thread that drains what the buyers send into the run's one
//! [`Metrics`] aggregate, and (for `--retry`) reads from the database whether units
//! may still come back; and the buyers' side of its channel, the [`Recorder`].

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::Progress;
use super::buyer::{Ending, micros_since, millis_since};
use crate::engine::{Engine, EngineEvent, ReturnReason};
use crate::ids::ProductId;
use crate::metrics::{Metrics, Sample};

/// How often the collector drains what the buyers sent.
pub(super) const POLL: Duration = Duration::from_millis(20);

/// What a buyer thread tells the collector.
pub(super) enum Msg {
    /// The run's start (sent once, by the coordinator, at the release).
    Released(Instant),
    Sample(Sample),
    /// A buyer finished: its first arrival number, whether it won a unit, how its visit
    /// ended and how many add-to-carts it tried.
    Done {
        seq: u64,
        won: bool,
        ending: Ending,
        tries: u64,
    },
}

/// What one buyer thread saw, kept on the thread and sent in batches: a request costs
/// the run no shared write (the bench's figures must not pay for being measured). A
/// batch goes once [`POLL`] has passed since the last one, before the thread waits, and
/// when the thread ends (on drop), so live figures lag by a poll or two at most.
pub(super) struct Recorder {
    tx: Sender<Vec<Msg>>,
    batch: Vec<Msg>,
    sent: Instant,
}

impl Recorder {
    pub(super) fn new(tx: Sender<Vec<Msg>>) -> Self {
        Recorder {
            tx,
            batch: Vec::with_capacity(64),
            sent: Instant::now(),
        }
    }

    pub(super) fn record(&mut self, msg: Msg) {
        self.batch.push(msg);
        if self.sent.elapsed() >= POLL {
            self.flush();
        }
    }

    pub(super) fn sample(&mut self, sample: Sample) {
        self.record(Msg::Sample(sample));
    }

    pub(super) fn flush(&mut self) {
        if !self.batch.is_empty() {
            let next = Vec::with_capacity(self.batch.len());
            let _ = self.tx.send(std::mem::replace(&mut self.batch, next));
        }
        self.sent = Instant::now();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Units that may still come to a refused buyer — available (enough for one
/// add-to-cart) or held by anyone, in any process — as of a read that began `read_at`
/// µs after the release.
#[derive(Debug, Default)]
pub(super) struct InPlay {
    pub units: AtomicI64,
    pub read_at: AtomicU64,
}

/// Buyers by how their visit ended, and their add-to-carts beyond the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Endings {
    pub paid: u64,
    pub abandoned: u64,
    pub cancelled: u64,
    pub pay_failed: u64,
    pub refunded: u64,
    pub lapsed: u64,
    pub turned_away: u64,
    /// Never got to the end: the run was stopped (or failed) first.
    pub stopped: u64,
}

impl Endings {
    pub(crate) fn count(&mut self, ending: Ending) {
        let slot = match ending {
            Ending::Paid => &mut self.paid,
            Ending::Abandoned => &mut self.abandoned,
            Ending::Cancelled => &mut self.cancelled,
            Ending::PayFailed => &mut self.pay_failed,
            Ending::Refunded => &mut self.refunded,
            Ending::Lapsed => &mut self.lapsed,
            Ending::TurnedAway => &mut self.turned_away,
            Ending::Stopped => &mut self.stopped,
        };
        *slot += 1;
    }

    pub fn total(&self) -> u64 {
        self.paid
            + self.abandoned
            + self.cancelled
            + self.pay_failed
            + self.refunded
            + self.lapsed
            + self.turned_away
            + self.stopped
    }
}

/// What the collector hands back at the end.
pub(super) struct Collected {
    /// Each buyer's (arrival, won), for the fairness figures.
    pub arrivals: Vec<(u64, bool)>,
    pub endings: Endings,
    /// Add-to-carts buyers tried again after a refusal (`--retry`).
    pub buyer_retries: u64,
}

pub(super) struct Collector<'a> {
    pub rx: Receiver<Vec<Msg>>,
    /// The engine's events, for expiry lag (`None`: not watched).
    pub events: Option<Receiver<EngineEvent>>,
    pub metrics: &'a Mutex<Metrics>,
    pub progress: &'a Progress,
    pub product: ProductId,
    /// Set for `--retry`: where to publish what the database says is in play.
    pub in_play: Option<(&'a Engine, &'a InPlay, i64)>,
}

impl Collector<'_> {
    /// Drains samples into the metrics until every buyer thread is gone.
    pub(super) fn run(self) -> Collected {
        let mut out = Collected {
            arrivals: Vec::new(),
            endings: Endings::default(),
            buyer_retries: 0,
        };
        let mut inbox = Vec::with_capacity(1024);
        let mut start = None;
        loop {
            // Polls instead of blocking in `recv`: a blocked receiver must be woken by
            // the sender (a system call on a buyer's thread for every sample); a polled
            // one costs the buyers nothing. 20 ms is finer than any progress bar or chart.
            std::thread::sleep(POLL);
            let open = loop {
                match self.rx.try_recv() {
                    Ok(batch) => inbox.extend(batch),
                    Err(crossbeam_channel::TryRecvError::Empty) => break true,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => break false,
                }
            };
            if let (Some(start), Some((engine, in_play, qty))) = (start, self.in_play) {
                read_in_play(engine, self.product, qty, in_play, start);
            }
            let mut m = self.metrics.lock();
            for msg in inbox.drain(..) {
                match msg {
                    Msg::Released(at) => start = Some(at),
                    Msg::Sample(s) => m.record(s),
                    Msg::Done {
                        seq,
                        won,
                        ending,
                        tries,
                    } => {
                        self.progress.buyers_done.fetch_add(1, Ordering::Relaxed);
                        out.endings.count(ending);
                        out.buyer_retries += tries.saturating_sub(1);
                        if seq != u64::MAX {
                            out.arrivals.push((seq, won));
                        }
                    }
                }
            }
            let at = start.map_or(0, millis_since);
            for event in self.events.iter().flat_map(Receiver::try_iter) {
                if let EngineEvent::Returned {
                    reason: ReturnReason::Expired,
                    holds,
                } = event
                {
                    for h in holds.into_iter().filter(|h| h.product_id == self.product) {
                        let lag = u64::try_from(h.closed_at - h.expires_at).unwrap_or(0);
                        m.record(Sample::Expired {
                            at,
                            qty: h.qty,
                            lag_ms: lag,
                        });
                    }
                }
            }
            drop(m);
            if !open {
                return out;
            }
        }
    }
}

/// One read of what is in play; on an error the old figure stays (buyers keep trying
/// a little longer, never give up too early).
fn read_in_play(engine: &Engine, product: ProductId, qty: i64, in_play: &InPlay, start: Instant) {
    let began = micros_since(start);
    let units = engine.units_in_play(product, qty);
    if let Ok(units) = units {
        in_play.units.store(units, Ordering::Release);
        in_play.read_at.store(began, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread's batch reaches the collector whatever the clock did: at the latest
    /// when its recorder is dropped (the thread ends).
    #[test]
    fn every_recorded_message_arrives_by_the_end() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut rec = Recorder::new(tx);
        for at in 0..1000 {
            rec.sample(Sample::Paid { at });
        }
        rec.record(Msg::Done {
            seq: 0,
            won: true,
            ending: Ending::Paid,
            tries: 1,
        });
        drop(rec);
        let got: Vec<Msg> = rx.iter().flatten().collect();
        assert_eq!(got.len(), 1001);
        assert!(matches!(got.last(), Some(Msg::Done { .. })));
    }
}
