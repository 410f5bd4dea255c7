//! The one aggregate of what happened: outcomes by reason, latency percentiles
//! (hdrhistogram), expiry lag, and per-second series for charts. Producers send
//! [`Sample`]s one way; whoever owns the `Metrics` folds them in. The swarm's report, the
//! console and `bench` all read this same aggregate — there is no second copy.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::Rejection;

/// What one add-to-cart attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Held,
    Rejected(Rejection),
}

/// One thing that happened, `at` milliseconds after the run started.
#[derive(Debug, Clone, Copy)]
pub enum Sample {
    Attempt {
        at: u64,
        latency_us: u64,
        outcome: Outcome,
    },
    Paid {
        at: u64,
    },
    PayFailed {
        at: u64,
    },
    Released {
        at: u64,
        qty: i64,
    },
    Expired {
        at: u64,
        qty: i64,
        lag_ms: u64,
    },
    Refunded {
        at: u64,
    },
}

/// Counts within one second of the run, for the charts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Second {
    pub attempts: u64,
    pub holds: u64,
    pub orders: u64,
    pub rejections: u64,
    pub returned: u64,
}

#[derive(Debug, Clone)]
pub struct Metrics {
    pub attempts: u64,
    pub held: u64,
    pub rejected: [u64; Rejection::ALL.len()],
    pub paid: u64,
    pub pay_failed: u64,
    pub released: u64,
    pub expired: u64,
    pub refunds: u64,
    /// Microseconds from intended arrival to answer.
    pub latency: Histogram<u64>,
    /// Milliseconds from a hold's deadline to its unit being back on sale.
    pub expiry_lag: Histogram<u64>,
    pub seconds: Vec<Second>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            attempts: 0,
            held: 0,
            rejected: [0; Rejection::ALL.len()],
            paid: 0,
            pay_failed: 0,
            released: 0,
            expired: 0,
            refunds: 0,
            latency: histogram(),
            expiry_lag: histogram(),
            seconds: Vec::new(),
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 3 significant figures up to an hour in µs; auto-resize covers anything longer.
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 sigfig is valid"))
    });
    h.auto(true);
    h
}

fn rejection_index(r: Rejection) -> usize {
    Rejection::ALL
        .iter()
        .position(|x| *x == r)
        .unwrap_or(Rejection::ALL.len() - 1)
}

/// p50, p95, p99 and max of a histogram.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub max: u64,
}

impl Metrics {
    pub fn record(&mut self, sample: Sample) {
        match sample {
            Sample::Attempt {
                at,
                latency_us,
                outcome,
            } => {
                self.attempts += 1;
                let _ = self.latency.record(latency_us.max(1));
                let s = self.second(at);
                s.attempts += 1;
                match outcome {
                    Outcome::Held => {
                        s.holds += 1;
                        self.held += 1;
                    }
                    Outcome::Rejected(r) => {
                        s.rejections += 1;
                        self.rejected[rejection_index(r)] += 1;
                    }
                }
            }
            Sample::Paid { at } => {
                self.paid += 1;
                self.second(at).orders += 1;
            }
            Sample::PayFailed { .. } => self.pay_failed += 1,
            Sample::Released { at, qty } => {
                self.released += u64::try_from(qty).unwrap_or(0);
                self.second(at).returned += u64::try_from(qty).unwrap_or(0);
            }
            Sample::Expired { at, qty, lag_ms } => {
                self.expired += u64::try_from(qty).unwrap_or(0);
                let _ = self.expiry_lag.record(lag_ms);
                self.second(at).returned += u64::try_from(qty).unwrap_or(0);
            }
            Sample::Refunded { .. } => self.refunds += 1,
        }
    }

    fn second(&mut self, at_ms: u64) -> &mut Second {
        let i = usize::try_from(at_ms / 1000)
            .unwrap_or(usize::MAX)
            .min(24 * 3600);
        if self.seconds.len() <= i {
            self.seconds.resize(i + 1, Second::default());
        }
        &mut self.seconds[i]
    }

    pub fn rejected(&self, r: Rejection) -> u64 {
        self.rejected[rejection_index(r)]
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    pub fn latency_us(&self) -> Percentiles {
        percentiles(&self.latency)
    }

    pub fn expiry_lag_ms(&self) -> Percentiles {
        percentiles(&self.expiry_lag)
    }

    pub fn merge(&mut self, other: &Metrics) {
        self.attempts += other.attempts;
        self.held += other.held;
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
        self.paid += other.paid;
        self.pay_failed += other.pay_failed;
        self.released += other.released;
        self.expired += other.expired;
        self.refunds += other.refunds;
        let _ = self.latency.add(&other.latency);
        let _ = self.expiry_lag.add(&other.expiry_lag);
        if self.seconds.len() < other.seconds.len() {
            self.seconds.resize(other.seconds.len(), Second::default());
        }
        for (a, b) in self.seconds.iter_mut().zip(&other.seconds) {
            a.attempts += b.attempts;
            a.holds += b.holds;
            a.orders += b.orders;
            a.rejections += b.rejections;
            a.returned += b.returned;
        }
    }
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: h.value_at_quantile(0.50),
        p95: h.value_at_quantile(0.95),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    }
}

/// Counters of what the strategies met along the way (the outcomes themselves are
/// counted by whoever calls the engine, from the typed results).
#[derive(Debug, Default)]
pub struct Counters {
    pub conflicts: AtomicU64,
    pub retries: AtomicU64,
    pub busy: AtomicU64,
    pub refunds: AtomicU64,
    pub rollbacks: AtomicU64,
    pub commits: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            conflicts: read(&self.conflicts),
            retries: read(&self.retries),
            busy: read(&self.busy),
            refunds: read(&self.refunds),
            rollbacks: read(&self.rollbacks),
            commits: read(&self.commits),
        }
    }
}

/// The counters at one moment; a run's own figures are the difference of two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    pub conflicts: u64,
    pub retries: u64,
    pub busy: u64,
    pub refunds: u64,
    pub rollbacks: u64,
    pub commits: u64,
}

impl CounterSnapshot {
    /// What happened since `before` (never negative: counters only grow).
    pub fn since(self, before: CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            conflicts: self.conflicts.saturating_sub(before.conflicts),
            retries: self.retries.saturating_sub(before.retries),
            busy: self.busy.saturating_sub(before.busy),
            refunds: self.refunds.saturating_sub(before.refunds),
            rollbacks: self.rollbacks.saturating_sub(before.rollbacks),
            commits: self.commits.saturating_sub(before.commits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_samples_by_reason_and_second() {
        let mut m = Metrics::default();
        for i in 0..100u64 {
            let outcome = if i < 10 {
                Outcome::Held
            } else {
                Outcome::Rejected(Rejection::SoldOut)
            };
            m.record(Sample::Attempt {
                at: i * 20,
                latency_us: i + 1,
                outcome,
            });
        }
        m.record(Sample::Paid { at: 2500 });
        assert_eq!(m.attempts, 100);
        assert_eq!(m.held, 10);
        assert_eq!(m.rejected(Rejection::SoldOut), 90);
        assert_eq!(m.seconds.len(), 3);
        assert_eq!(m.seconds[0].attempts, 50);
        assert_eq!(m.seconds[2].orders, 1);
        let p = m.latency_us();
        assert_eq!(p.max, 100);
        assert!((49..=51).contains(&p.p50), "{p:?}");
    }
}
