//! Figures over time for the charts: per-second rates and each product's stock, kept for
//! the last few minutes. Fed one reading at a time, on the watcher's clock (a manual
//! clock in tests), and folded into one-second buckets so a watcher that reads five
//! times a second still draws one bar per second.

use std::collections::VecDeque;

use crate::clock::Millis;
use crate::hold::Stock;
use crate::ids::ProductId;

/// Running totals at one moment; rates are their growth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub at: Millis,
    pub holds: u64,
    pub orders: u64,
    /// Add-to-cart attempts and rejections, when the watcher runs the buyers itself (a
    /// read-only watcher cannot see attempts that never reached the database).
    pub attempts: Option<u64>,
    pub rejections: Option<u64>,
}

/// What happened during one second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// The end of the second.
    pub at: Millis,
    pub holds: f64,
    pub orders: f64,
    pub attempts: Option<f64>,
    pub rejections: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockPoint {
    pub at: Millis,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
}

#[derive(Debug, Clone)]
pub struct History {
    /// Seconds kept.
    capacity: usize,
    last: Option<Totals>,
    /// The readings of about the last second, for a rate that moves before a whole
    /// second has closed (a demo run can be over in less).
    recent: VecDeque<Totals>,
    rates: VecDeque<Rates>,
    stock: Vec<(ProductId, VecDeque<StockPoint>)>,
}

impl Default for History {
    fn default() -> Self {
        History::new(600)
    }
}

impl History {
    pub fn new(seconds: usize) -> Self {
        History {
            capacity: seconds.max(1),
            last: None,
            recent: VecDeque::new(),
            rates: VecDeque::new(),
            stock: Vec::new(),
        }
    }

    /// Folds in one reading. A second is closed when at least a second has passed on the
    /// clock since the last closed one; readings in between only wait.
    pub fn record(&mut self, totals: Totals, stock: &[Stock]) {
        self.recent.push_back(totals);
        // Keep one reading at least a second old (the base of the rate), and no older.
        while self.recent.len() > 2 && totals.at - self.recent[1].at >= 1000 {
            self.recent.pop_front();
        }
        let Some(last) = self.last else {
            self.last = Some(totals);
            self.push_stock(totals.at, stock);
            return;
        };
        let elapsed = totals.at - last.at;
        if elapsed < 1000 {
            return;
        }
        push_capped(&mut self.rates, rates(&last, &totals), self.capacity);
        self.last = Some(totals);
        self.push_stock(totals.at, stock);
    }

    fn push_stock(&mut self, at: Millis, stock: &[Stock]) {
        for s in stock {
            let point = StockPoint {
                at,
                available: s.available,
                held: s.held,
                sold: s.sold,
            };
            let capacity = self.capacity;
            match self.stock.iter_mut().find(|(id, _)| *id == s.product_id) {
                Some((_, series)) => {
                    // Sold units only go down when the sale was reset: the chart starts
                    // again rather than keep the old run's peak.
                    if series.back().is_some_and(|last| point.sold < last.sold) {
                        series.clear();
                    }
                    push_capped(series, point, capacity);
                }
                None => self.stock.push((s.product_id, VecDeque::from([point]))),
            }
        }
    }

    /// Closed seconds, oldest first.
    pub fn rates(&self) -> &VecDeque<Rates> {
        &self.rates
    }

    /// The last closed second, if any.
    pub fn latest(&self) -> Option<&Rates> {
        self.rates.back()
    }

    /// Rates over about the last second of readings, up to the newest one: what the
    /// numbers beside the charts show.
    pub fn current(&self) -> Rates {
        match (self.recent.front(), self.recent.back()) {
            (Some(first), Some(last)) if last.at > first.at => rates(first, last),
            _ => Rates::default(),
        }
    }

    /// A product's stock over time, oldest first.
    pub fn stock(&self, product: ProductId) -> Option<&VecDeque<StockPoint>> {
        self.stock
            .iter()
            .find(|(id, _)| *id == product)
            .map(|(_, s)| s)
    }
}

/// Growth per second from `before` to `now`.
fn rates(before: &Totals, now: &Totals) -> Rates {
    let secs = (now.at - before.at).max(1) as f64 / 1000.0;
    let rate = |n: u64, b: u64| n.saturating_sub(b) as f64 / secs;
    let both = |n: Option<u64>, b: Option<u64>| n.map(|n| rate(n, b.unwrap_or(0)));
    Rates {
        at: now.at,
        holds: rate(now.holds, before.holds),
        orders: rate(now.orders, before.orders),
        attempts: both(now.attempts, before.attempts),
        rejections: both(now.rejections, before.rejections),
    }
}

fn push_capped<T>(queue: &mut VecDeque<T>, item: T, capacity: usize) {
    if queue.len() == capacity {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(at: Millis, holds: u64) -> Totals {
        Totals {
            at,
            holds,
            orders: holds / 2,
            attempts: Some(holds * 10),
            rejections: None,
        }
    }

    #[test]
    fn folds_readings_into_seconds() {
        let mut h = History::new(3);
        h.record(totals(0, 0), &[]);
        h.record(totals(200, 5), &[]);
        assert!(h.latest().is_none(), "a second has not passed yet");
        assert!(
            (h.current().holds - 25.0).abs() < 1e-9,
            "but the rate moves already"
        );
        h.record(totals(1000, 10), &[]);
        let r = h.latest().unwrap();
        assert!((r.holds - 10.0).abs() < 1e-9);
        assert!((r.orders - 5.0).abs() < 1e-9);
        assert_eq!(r.attempts, Some(100.0));
        assert_eq!(r.rejections, None);
        // A reset that lowers the totals reads as zero, not as a negative rate.
        h.record(totals(3000, 0), &[]);
        assert!(h.latest().unwrap().holds.abs() < 1e-9);
        for i in 0..5 {
            h.record(totals(4000 + i * 1000, 0), &[]);
        }
        assert_eq!(h.rates().len(), 3, "only the last seconds are kept");
    }
}
