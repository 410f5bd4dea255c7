//! A running swarm's figures while it goes: what the progress bar and the console show.
//! They are read from the run's one [`Metrics`] aggregate and the engine's counters
//! since the run began — the same sources its report is made of, never counted twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::SwarmHandle;
use crate::engine::CounterSnapshot;
use crate::error::Rejection;
use crate::metrics::Percentiles;

/// The one live figure the run's `Metrics` do not hold, written by the collector.
#[derive(Debug, Default)]
pub struct Progress {
    /// Buyers whose visit has ended (the report's `buyer_outcomes`, counted so far).
    pub buyers_done: AtomicU64,
}

/// The run at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Live {
    pub buyers_done: u64,
    pub attempts: u64,
    pub held: u64,
    pub paid: u64,
    pub rejected: [u64; Rejection::ALL.len()],
    pub latency: Percentiles,
    /// The engine's counters since the run began.
    pub counters: CounterSnapshot,
    pub elapsed: Duration,
}

impl Live {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

impl SwarmHandle {
    /// The run's figures now. The metrics' lock is held only to copy a few numbers
    /// (the collector waits at most this long).
    pub fn live(&self) -> Live {
        let mut live = {
            let m = self.metrics.lock();
            Live {
                attempts: m.attempts,
                held: m.held,
                paid: m.paid,
                rejected: m.rejected,
                latency: m.latency_us(),
                ..Live::default()
            }
        };
        live.buyers_done = self.progress.buyers_done.load(Ordering::Relaxed);
        live.counters = self.engine.counters().since(self.counters_before);
        live.elapsed = self.started.elapsed();
        live
    }
}
