//! The swarm's report. Sold, oversold and undersold are read from the database after the
//! run; rates and latencies come from the run's one [`Metrics`] aggregate.
//!
//! A report describes its own run: what this run's buyers got, and the oversell this
//! run added. Damage the database had before the run (an earlier naive run) is said
//! once, apart, and never fails this run.

use crate::units;
use std::time::Duration;

use serde::Serialize;

use super::SwarmConfig;
use super::collect::{Collected, Endings};
use crate::engine::{CounterSnapshot, Engine};
use crate::error::Rejection;
use crate::error::Result;
use crate::hold::Stock;
use crate::ids::ProductId;
use crate::metrics::{Metrics, Percentiles};
use crate::strategy::Strategy;

pub(super) struct Inputs<'a> {
    pub engine: &'a Engine,
    pub config: &'a SwarmConfig,
    pub product_id: ProductId,
    pub threads: usize,
    pub stock_at_start: i64,
    /// The product's books before the run.
    pub books_before: Option<Stock>,
    pub elapsed: Duration,
    pub metrics: &'a Metrics,
    /// The engine's counters over the run.
    pub counters: CounterSnapshot,
    pub collected: Collected,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Lag {
    pub p50: u64,
    pub p99: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SwarmReport {
    pub sku: String,
    pub product: String,
    pub strategy: String,
    pub safe: bool,
    pub synchronous: String,
    pub buyers: u64,
    pub threads: usize,
    pub stock: i64,
    /// Units of this run's buyers, from the database.
    pub sold: i64,
    pub held: i64,
    pub expired: i64,
    pub released: i64,
    pub attempts: u64,
    pub holds_taken: u64,
    pub rejected_sold_out: u64,
    pub rejected_limit: u64,
    pub rejected_conflict: u64,
    pub rejected_busy: u64,
    pub rejected_timeout: u64,
    pub rejected_other: u64,
    pub conflicts: u64,
    /// The engine's own retries (optimistic's compare-and-set after a conflict).
    pub retries: u64,
    /// Add-to-carts buyers tried again after a sold-out answer (`--retry`).
    pub buyer_retries: u64,
    /// How each buyer's visit ended; the counts add up to `buyers`.
    pub buyer_outcomes: Endings,
    pub busy: u64,
    pub refunds: u64,
    pub pay_failed: u64,
    /// Units this run held or sold beyond the stock: the product's oversell after the
    /// run less its oversell before (from the database).
    pub oversold: i64,
    /// Units this run lost: neither available, held nor sold.
    pub undersold: i64,
    /// The product's oversell before this run started (an earlier run's damage; only a
    /// reset clears it).
    pub oversold_before: i64,
    pub fairness: f64,
    pub inversions: u64,
    pub elapsed_ms: u64,
    pub attempts_per_sec: f64,
    pub holds_per_sec: f64,
    pub latency_us: Percentiles,
    pub expiry_lag_ms: Lag,
    pub peak_rss_mb: f64,
}

/// Fairness of a run: of the first `stock` arrivals, the share that won; and the pairs
/// where a later arrival won while an earlier one lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fairness {
    pub share: f64,
    pub inversions: u64,
}

impl Fairness {
    pub fn of(mut arrivals: Vec<(u64, bool)>, stock: i64) -> Fairness {
        arrivals.sort_unstable_by_key(|(seq, _)| *seq);
        let first = usize::try_from(stock.max(0))
            .unwrap_or(0)
            .min(arrivals.len());
        let share = if first == 0 {
            1.0
        } else {
            arrivals[..first].iter().filter(|(_, won)| *won).count() as f64 / first as f64
        };
        let mut losers_before = 0u64;
        let mut inversions = 0u64;
        for (_, won) in &arrivals {
            if *won {
                inversions += losers_before;
            } else {
                losers_before += 1;
            }
        }
        Fairness { share, inversions }
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(super) fn build(i: Inputs<'_>) -> Result<SwarmReport> {
    let by_status: std::collections::HashMap<String, i64> = i
        .engine
        .units_by_status(i.product_id, &i.config.buyer_prefix)?
        .into_iter()
        .collect();
    let units = |s: &str| by_status.get(s).copied().unwrap_or(0);
    let stock = i
        .engine
        .stock()?
        .into_iter()
        .find(|s| s.product_id == i.product_id);
    let (balance, product) = stock.map_or((0, String::new()), |s| (s.balance(), s.name.clone()));
    let balance_before = i.books_before.as_ref().map_or(0, Stock::balance);
    let strategy = i.engine.strategy();
    let run = i.counters;
    let measured = Measured {
        config: i.config,
        metrics: i.metrics,
        elapsed: i.elapsed,
        stock: i.stock_at_start,
        arrivals: i.collected.arrivals,
        balance: (balance_before, balance),
    };
    Ok(SwarmReport {
        product,
        strategy: strategy.name().to_owned(),
        safe: strategy.is_safe(),
        synchronous: i.engine.durability().to_owned(),
        threads: i.threads,
        sold: units("paid"),
        held: units("active"),
        expired: units("expired"),
        released: units("released"),
        conflicts: run.conflicts,
        retries: run.retries,
        buyer_retries: i.collected.buyer_retries,
        buyer_outcomes: Endings {
            // Buyers never taken from the counter (a stopped run) count as stopped.
            stopped: i.collected.endings.stopped
                + i.config.buyers.saturating_sub(i.collected.endings.total()),
            ..i.collected.endings
        },
        busy: run.busy,
        refunds: run.refunds,
        peak_rss_mb: peak_rss_mb(),
        ..measured.report()
    })
}

/// What every swarm (threads in process, bots over HTTP) measures the same way: the
/// figures of its one `Metrics` aggregate, its arrivals and its clock, and its
/// oversell from the books before and after. Each reports through this and fills in
/// the rest, so no figure is computed twice.
pub(super) struct Measured<'a> {
    pub config: &'a SwarmConfig,
    pub metrics: &'a Metrics,
    pub elapsed: Duration,
    /// Units available when the run started.
    pub stock: i64,
    /// Each buyer's (arrival, won).
    pub arrivals: Vec<(u64, bool)>,
    /// The product's books balance ([`Stock::balance`]) before and after the run.
    pub balance: (i64, i64),
}

impl Measured<'_> {
    pub(super) fn report(self) -> SwarmReport {
        let m = self.metrics;
        let config = self.config;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let fairness = Fairness::of(
            self.arrivals,
            self.stock
                .min(i64::try_from(config.buyers).unwrap_or(i64::MAX))
                / config.qty.max(1),
        );
        let lag = m.expiry_lag_ms();
        let (before, after) = self.balance;
        let change = after - before;
        SwarmReport {
            sku: config.sku.clone(),
            buyers: config.buyers,
            stock: self.stock,
            attempts: m.attempts,
            holds_taken: m.held,
            rejected_sold_out: m.rejected(Rejection::SoldOut),
            rejected_limit: m.rejected(Rejection::Limit),
            rejected_conflict: m.rejected(Rejection::Conflict),
            rejected_busy: m.rejected(Rejection::Busy),
            rejected_timeout: m.rejected(Rejection::Timeout),
            rejected_other: m.rejected(Rejection::Other),
            refunds: m.refunds,
            pay_failed: m.pay_failed,
            oversold: change.max(0),
            undersold: (-change).max(0),
            oversold_before: before.max(0),
            fairness: fairness.share,
            inversions: fairness.inversions,
            elapsed_ms: u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
            attempts_per_sec: m.attempts as f64 / secs,
            holds_per_sec: m.held as f64 / secs,
            latency_us: m.latency_us(),
            expiry_lag_ms: Lag {
                p50: lag.p50,
                p99: lag.p99,
            },
            ..SwarmReport::default()
        }
    }
}

impl SwarmReport {
    /// Pay-first takes no hold at add-to-cart: its winners are the orders.
    pub fn takes_stock_at_payment(&self) -> bool {
        self.strategy.starts_with(Strategy::PayFirst.name())
    }

    /// Units claimed per second of the run: holds, or for pay-first, orders.
    pub fn claimed_per_sec(&self) -> f64 {
        if self.takes_stock_at_payment() {
            self.sold as f64 / (self.elapsed_ms.max(1) as f64 / 1000.0)
        } else {
            self.holds_per_sec
        }
    }

    /// Add-to-carts refused, for every reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected_sold_out
            + self.rejected_limit
            + self.rejected_conflict
            + self.rejected_busy
            + self.rejected_timeout
            + self.rejected_other
    }

    pub fn write_text(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let strategy = if self.safe {
            self.strategy.clone()
        } else {
            format!("{} (UNSAFE)", self.strategy)
        };
        writeln!(
            out,
            "swarm: {} on {} for {} ({}), strategy {strategy}, synchronous={}",
            units::count(self.buyers, "buyer", "buyers"),
            units::count(self.threads as u64, "thread", "threads"),
            self.product,
            self.sku,
            self.synchronous
        )?;
        writeln!(
            out,
            "  stock {:>8}   sold {:>8}   held {:>6}   expired {:>6}   released {:>6}",
            self.stock, self.sold, self.held, self.expired, self.released
        )?;
        writeln!(
            out,
            "  rejected: sold out {}, per-buyer limit {}, conflict {}, busy {}, timeout {}, other {}",
            self.rejected_sold_out,
            self.rejected_limit,
            self.rejected_conflict,
            self.rejected_busy,
            self.rejected_timeout,
            self.rejected_other
        )?;
        writeln!(
            out,
            "  conflicts {}  engine retries {}  busy {}  refunds {}  payment failures {}",
            self.conflicts, self.retries, self.busy, self.refunds, self.pay_failed
        )?;
        let b = &self.buyer_outcomes;
        writeln!(
            out,
            "  buyers: paid {}, walked away {}, cancelled {}, payment declined {}, refunded {}, hold lapsed {}, turned away {}, stopped {}; {} retried add-to-carts",
            b.paid,
            b.abandoned,
            b.cancelled,
            b.pay_failed,
            b.refunded,
            b.lapsed,
            b.turned_away,
            b.stopped,
            self.buyer_retries
        )?;
        writeln!(
            out,
            "  fairness {:.3} (share of the first {} arrivals that won a unit)  inversions {} (pairs where a later arrival won and an earlier one lost)",
            self.fairness, self.stock, self.inversions
        )?;
        let won = if self.takes_stock_at_payment() {
            "orders"
        } else {
            "holds"
        };
        let per_sec = self.claimed_per_sec();
        writeln!(
            out,
            "  {} attempts in {}: {:.0} attempts/s, {per_sec:.0} {won}/s; latency p50 {}, p95 {}, p99 {}, max {}",
            self.attempts,
            units::micros(self.elapsed_ms.saturating_mul(1000)),
            self.attempts_per_sec,
            units::micros(self.latency_us.p50),
            units::micros(self.latency_us.p95),
            units::micros(self.latency_us.p99),
            units::micros(self.latency_us.max)
        )?;
        let lag = if self.expired > 0 {
            format!(
                "expiry lag p50 {} ms, p99 {} ms",
                self.expiry_lag_ms.p50, self.expiry_lag_ms.p99
            )
        } else {
            "no hold expired (no expiry lag)".to_owned()
        };
        writeln!(out, "  {lag}; peak memory {:.0} MiB", self.peak_rss_mb)?;
        if self.oversold > 0 {
            writeln!(
                out,
                "  OVERSOLD by {} units in this run: the books do not balance (run `flashsale audit`)",
                self.oversold
            )?;
        } else {
            writeln!(out, "  oversold 0, undersold {}", self.undersold)?;
        }
        if self.oversold_before > 0 {
            writeln!(
                out,
                "  note: the sale was already oversold by {} units before this run (an earlier run's damage; only a reset clears it)",
                self.oversold_before
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_fifo_is_fair() {
        let arrivals: Vec<_> = (0..10).map(|i| (i, i < 3)).collect();
        let f = Fairness::of(arrivals, 3);
        assert!((f.share - 1.0).abs() < f64::EPSILON);
        assert_eq!(f.inversions, 0);
    }

    #[test]
    fn late_winners_are_inversions() {
        // Arrivals 0..4; 0 and 1 lost, 2 and 3 won: each winner jumped two losers.
        let arrivals = vec![(3, true), (0, false), (2, true), (1, false)];
        let f = Fairness::of(arrivals, 2);
        assert!(f.share.abs() < f64::EPSILON);
        assert_eq!(f.inversions, 4);
    }
}
