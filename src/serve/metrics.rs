//! `GET /metrics`: the server's one [`Metrics`] aggregate (and the engine's counters) in
//! the Prometheus text format, version 0.0.4.

use std::fmt::Write as _;

use crate::engine::{CounterSnapshot, ThreadTimes};
use crate::error::Rejection;
use crate::metrics::Metrics;

/// Upper bounds of the add-to-cart latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// What else the page shows beside the aggregate.
pub struct Gauges {
    /// Engine calls under way or waiting for a thread: the server's queue.
    pub queue_depth: usize,
    pub queue_bound: usize,
    pub counters: CounterSnapshot,
    /// The engine's writer thread so far (a file's engine, where the kernel keeps
    /// scheduler statistics): whether the serial part waits for a core or the disk.
    pub writer: Option<ThreadTimes>,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn reason(r: Rejection) -> &'static str {
    match r {
        Rejection::SoldOut => "sold_out",
        Rejection::Limit => "per_buyer_limit",
        Rejection::Conflict => "conflict",
        Rejection::Busy => "busy",
        Rejection::Timeout => "timeout",
        Rejection::Other => "other",
    }
}

pub fn render(m: &Metrics, g: &Gauges) -> String {
    let mut out = String::with_capacity(4096);
    let c = "counter";
    one(
        &mut out,
        "flashsale_add_to_cart_total",
        c,
        "Add-to-cart requests answered.",
        m.attempts,
    );
    one(&mut out, "flashsale_holds_total", c, "Holds taken.", m.held);
    one(
        &mut out,
        "flashsale_orders_total",
        c,
        "Orders made (holds paid).",
        m.paid,
    );
    one(
        &mut out,
        "flashsale_released_units_total",
        c,
        "Units back on sale after a cancel.",
        m.released,
    );
    one(
        &mut out,
        "flashsale_expired_units_total",
        c,
        "Units back on sale after a hold expired.",
        m.expired,
    );
    one(
        &mut out,
        "flashsale_refunds_total",
        c,
        "Pay-first payments refunded.",
        m.refunds,
    );
    family(
        &mut out,
        "flashsale_rejections_total",
        c,
        "Add-to-cart requests refused, by reason.",
    );
    for r in Rejection::ALL {
        let _ = writeln!(
            out,
            "flashsale_rejections_total{{reason=\"{}\"}} {}",
            reason(r),
            m.rejected(r)
        );
    }
    let name = "flashsale_add_to_cart_duration_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Add-to-cart time in the server, request to answer.",
    );
    for le in LATENCY_BUCKETS {
        let micros = (le * 1e6) as u64;
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"{le}\"}} {}",
            m.latency.count_between(0, micros)
        );
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", m.latency.len());
    let sum_us: f64 = m.latency.mean() * m.latency.len() as f64;
    let _ = writeln!(out, "{name}_sum {}", sum_us / 1e6);
    let _ = writeln!(out, "{name}_count {}", m.latency.len());
    let lag = m.expiry_lag_ms();
    let name = "flashsale_expiry_lag_seconds";
    family(
        &mut out,
        name,
        "summary",
        "From a hold's deadline to its units being back on sale.",
    );
    let _ = writeln!(out, "{name}{{quantile=\"0.5\"}} {}", lag.p50 as f64 / 1e3);
    let _ = writeln!(out, "{name}{{quantile=\"0.99\"}} {}", lag.p99 as f64 / 1e3);
    let _ = writeln!(out, "{name}{{quantile=\"1\"}} {}", lag.max as f64 / 1e3);
    let _ = writeln!(out, "{name}_count {}", m.expiry_lag.len());
    let _ = writeln!(
        out,
        "{name}_sum {}",
        m.expiry_lag.mean() * m.expiry_lag.len() as f64 / 1e3
    );
    let gauge = "gauge";
    one(
        &mut out,
        "flashsale_queue_depth",
        gauge,
        "Engine calls under way or waiting.",
        g.queue_depth,
    );
    one(
        &mut out,
        "flashsale_queue_bound",
        gauge,
        "Queue depth past which add-to-cart answers 429.",
        g.queue_bound,
    );
    let k = &g.counters;
    one(
        &mut out,
        "flashsale_engine_commits_total",
        c,
        "Write transactions committed.",
        k.commits,
    );
    one(
        &mut out,
        "flashsale_engine_rollbacks_total",
        c,
        "Write transactions rolled back.",
        k.rollbacks,
    );
    one(
        &mut out,
        "flashsale_engine_conflicts_total",
        c,
        "Optimistic version conflicts.",
        k.conflicts,
    );
    one(
        &mut out,
        "flashsale_engine_retries_total",
        c,
        "Optimistic retries.",
        k.retries,
    );
    one(
        &mut out,
        "flashsale_engine_busy_total",
        c,
        "SQLITE_BUSY answers.",
        k.busy,
    );
    if let Some(w) = g.writer {
        one(
            &mut out,
            "flashsale_writer_cpu_seconds_total",
            c,
            "Time the engine's writer thread spent on a core.",
            w.on_cpu.as_secs_f64(),
        );
        one(
            &mut out,
            "flashsale_writer_waiting_seconds_total",
            c,
            "Time the engine's writer thread was runnable, waiting for a core.",
            w.waiting_for_cpu.as_secs_f64(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Outcome, Sample};

    #[test]
    fn counts_and_cumulative_buckets() {
        let mut m = Metrics::default();
        for latency_us in [200, 800, 3_000] {
            m.record(Sample::Attempt {
                at: 0,
                latency_us,
                outcome: Outcome::Held,
            });
        }
        m.record(Sample::Attempt {
            at: 0,
            latency_us: 100,
            outcome: Outcome::Rejected(Rejection::SoldOut),
        });
        m.record(Sample::Expired {
            at: 0,
            qty: 1,
            lag_ms: 40,
        });
        let text = render(
            &m,
            &Gauges {
                queue_depth: 2,
                queue_bound: 9,
                counters: CounterSnapshot::default(),
                writer: Some(ThreadTimes {
                    on_cpu: std::time::Duration::from_millis(1500),
                    waiting_for_cpu: std::time::Duration::from_millis(250),
                }),
            },
        );
        for line in [
            "flashsale_add_to_cart_total 4",
            "flashsale_holds_total 3",
            "flashsale_rejections_total{reason=\"sold_out\"} 1",
            "flashsale_add_to_cart_duration_seconds_bucket{le=\"0.0005\"} 2",
            "flashsale_add_to_cart_duration_seconds_bucket{le=\"0.001\"} 3",
            "flashsale_add_to_cart_duration_seconds_bucket{le=\"+Inf\"} 4",
            "flashsale_expiry_lag_seconds_count 1",
            "flashsale_queue_depth 2",
            "flashsale_writer_cpu_seconds_total 1.5",
            "flashsale_writer_waiting_seconds_total 0.25",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
