//! The stored runs as a presenter pastes them into slides: a Markdown table, CSV for a
//! spreadsheet, or JSON for a program. `flashsale runs` and the console's `e` share it.

use std::fmt::Write as _;

use super::RunRow;
use crate::error::Result;
use crate::tui::format::{micros, rate, thousands, thousands_i, ttl};

/// The ways runs are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum Format {
    Markdown,
    Csv,
    Json,
}

/// The columns, as headers.
const HEADERS: [&str; 20] = [
    "#",
    "started (UTC)",
    "product",
    "strategy",
    "buyers",
    "of planned",
    "stock",
    "sold",
    "oversold",
    "fairness",
    "inversions",
    "holds/s",
    "p50",
    "p99",
    "conflicts",
    "busy",
    "behaviour",
    "TTL",
    "warp",
    "seed",
];

fn started(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn hold_ttl(ms: i64) -> String {
    ttl(std::time::Duration::from_millis(
        u64::try_from(ms).unwrap_or(0),
    ))
}

/// One run's cells, readable (thousands separators, latencies with their unit).
fn cells(number: usize, r: &RunRow) -> Vec<String> {
    vec![
        number.to_string(),
        started(r.started_at),
        r.sku.clone(),
        r.strategy.name().to_owned(),
        thousands(r.buyers),
        if r.stopped {
            format!("{} (stopped)", thousands(r.buyers_planned))
        } else {
            thousands(r.buyers_planned)
        },
        thousands_i(r.stock),
        thousands_i(r.sold),
        thousands_i(r.oversold),
        format!("{:.3}", r.fairness),
        thousands(r.inversions),
        rate(r.holds_per_sec),
        micros(r.latency.p50),
        micros(r.latency.p99),
        thousands(r.conflicts),
        thousands(r.busy),
        r.behaviour.clone(),
        hold_ttl(r.hold_ttl_ms),
        format!("×{}", r.warp),
        r.seed.to_string(),
    ]
}

/// The runs in `format`, ready to write to a file or stdout.
pub fn write(runs: &[RunRow], format: Format) -> Result<String> {
    Ok(match format {
        Format::Markdown => markdown(runs),
        Format::Json => serde_json::to_string_pretty(runs)
            .map_err(|e| crate::Error::Io(std::io::Error::other(e)))?,
        Format::Csv => csv(runs)?,
    })
}

fn markdown(runs: &[RunRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let rule: Vec<&str> = HEADERS
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if (2..=3).contains(&i) || i == 16 {
                "---"
            } else {
                "---:"
            }
        })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for (i, r) in runs.iter().enumerate() {
        let row: Vec<String> = cells(i + 1, r)
            .into_iter()
            .map(|c| c.replace('|', "\\|"))
            .collect();
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// CSV keeps raw numbers (milliseconds, microseconds) for a spreadsheet to compute with.
fn csv(runs: &[RunRow]) -> Result<String> {
    let io = |e: csv::Error| crate::Error::Io(std::io::Error::other(e));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "started_at_ms",
        "sku",
        "strategy",
        "buyers",
        "buyers_planned",
        "stopped",
        "stock",
        "sold",
        "oversold",
        "fairness",
        "inversions",
        "holds_per_sec",
        "p50_us",
        "p99_us",
        "conflicts",
        "busy",
        "behaviour",
        "hold_ttl_ms",
        "warp",
        "seed",
        "elapsed_ms",
    ])
    .map_err(io)?;
    for r in runs {
        w.write_record([
            r.id.map_or_else(String::new, |id| id.to_string()),
            r.started_at.to_string(),
            r.sku.clone(),
            r.strategy.name().to_owned(),
            r.buyers.to_string(),
            r.buyers_planned.to_string(),
            r.stopped.to_string(),
            r.stock.to_string(),
            r.sold.to_string(),
            r.oversold.to_string(),
            format!("{:.4}", r.fairness),
            r.inversions.to_string(),
            format!("{:.1}", r.holds_per_sec),
            r.latency.p50.to_string(),
            r.latency.p99.to_string(),
            r.conflicts.to_string(),
            r.busy.to_string(),
            r.behaviour.clone(),
            r.hold_ttl_ms.to_string(),
            r.warp.to_string(),
            r.seed.to_string(),
            r.elapsed_ms.to_string(),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| crate::Error::Io(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
