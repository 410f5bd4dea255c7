//! The matrix as text: the table of verdicts, one witness per anomaly that happened,
//! and the legend.

use std::io::Write;

use super::{Cell, MAX_PREEMPTIONS, Matrix, Refusal, Verdict};
use crate::error::Error;

/// Prints the table, then one witness per anomaly that happened, then the legend.
///
/// # Errors
/// Writing fails.
pub fn print(matrix: &Matrix, cells: &[Cell], out: &mut impl Write) -> Result<(), Error> {
    let total: usize = cells.iter().map(|c| c.schedules).sum();
    writeln!(out, "{}", matrix.title)?;
    writeln!(
        out,
        "Each cell runs the anomaly's buyers with the strategy's SQL on real connections, in every \
         interleaving with up to {MAX_PREEMPTIONS} preemptions ({total} runs, each on a fresh copy of the shop's database: schema.sql and its migrations)."
    )?;
    writeln!(
        out,
        "ok = no interleaving produced it; FAILS = one did (shown below); ERROR = the cell could not run."
    )?;
    writeln!(out)?;
    let first = matrix
        .anomalies
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0)
        .max("anomaly".len());
    let widths: Vec<usize> = matrix
        .strategies
        .iter()
        .map(|s| s.name.name().len().max(5))
        .collect();
    // Rows are built as strings so the padding after the last column can be trimmed.
    let mut line = format!("{:first$}", "anomaly");
    for (s, w) in matrix.strategies.iter().zip(&widths) {
        line.push_str(&format!("  {:w$}", s.name));
    }
    writeln!(out, "{}", line.trim_end())?;
    for (ai, a) in matrix.anomalies.iter().enumerate() {
        let mut line = format!("{:first$}", a.name);
        for (si, w) in widths.iter().enumerate() {
            let word = match cells
                .iter()
                .find(|c| c.anomaly == ai && c.strategy == si)
                .map(|c| &c.verdict)
            {
                Some(Verdict::Prevented) => "ok",
                Some(Verdict::Happens(_)) => "FAILS",
                Some(Verdict::Broken(_)) | None => "ERROR",
            };
            line.push_str(&format!("  {word:w$}"));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    let mut shown_header = false;
    for c in cells {
        let (Verdict::Happens(text) | Verdict::Broken(text)) = &c.verdict else {
            continue;
        };
        if !shown_header {
            writeln!(
                out,
                "How it happened (A and B are the buyers; try the order in the lab's scheduler):"
            )?;
            shown_header = true;
        }
        let kind = if matches!(c.verdict, Verdict::Broken(_)) {
            "ERROR "
        } else {
            ""
        };
        writeln!(
            out,
            "  {kind}{} under {}: {text}",
            matrix.anomalies[c.anomaly].name, matrix.strategies[c.strategy].name
        )?;
    }
    let refusals: Vec<(&Cell, &Refusal)> = cells
        .iter()
        .filter_map(|c| c.refused.as_ref().map(|r| (c, r)))
        .collect();
    if !refusals.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Stopped by the shop's schema, not by the strategy's SQL (the database refused a statement the strategy let through):"
        )?;
        for (c, r) in refusals {
            writeln!(
                out,
                "  {} under {}: {}",
                matrix.anomalies[c.anomaly].name, matrix.strategies[c.strategy].name, r.message
            )?;
            writeln!(out, "    {}", r.witness)?;
        }
    }
    writeln!(out)?;
    writeln!(out, "Anomalies:")?;
    for a in &matrix.anomalies {
        writeln!(out, "  {:first$}  {}: {}", a.name, a.title, a.summary)?;
    }
    writeln!(out, "Strategies:")?;
    let sw = widths.iter().copied().max().unwrap_or(0);
    for s in &matrix.strategies {
        writeln!(out, "  {:sw$}  {}", s.name, s.summary)?;
    }
    Ok(())
}
