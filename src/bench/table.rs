//! The bench table as text: one row per strategy under the `limit` row.

use std::io::Write;

use super::{BenchReport, BenchRow};

const HEADER: &str = "strategy       holds/s   x limit    p50 ms    p99 ms    max ms      sold  oversold  fairness  conflicts    busy  commits     paid  wal MiB   cpu us  cores";

/// Where each row's one writer thread spent the selling time: what says whether the
/// serial part of a strategy waited for the disk or for a core (issue 13).
fn writer_times(report: &BenchReport, out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter_map(|r| Some((r, r.writer_on_cpu?, r.writer_waiting_for_cpu?)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "writer = the one writer thread over the row's selling time: on a core / waiting for one / asleep (disk, or idle)."
    )?;
    let pct = |share: f64| format!("{:.0}%", share * 100.0);
    let shares = rows
        .iter()
        .map(|(r, on, waiting)| {
            let asleep = (1.0 - on - waiting).max(0.0);
            format!(
                "{} {} / {} / {}",
                r.strategy,
                pct(*on),
                pct(*waiting),
                pct(asleep)
            )
        })
        .collect::<Vec<_>>();
    for line in shares.chunks(3) {
        writeln!(out, "writer: {}", line.join(";  "))?;
    }
    Ok(())
}

/// Where each row's CPU time a hold went, and the rate every core busy would allow:
/// whether a row is bound by the CPU, and by whose part of it (issue 13).
fn cpu_split(report: &BenchReport, out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter_map(|r| Some((r, r.buyers_cpu_us_per_hold?)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let machine = super::machine_cores();
    writeln!(
        out,
        "cpu us a hold = buyer threads + writer + waker + the rest (checkpointer, syncer, collector); at most = {machine} cores over cpu us."
    )?;
    let parts = rows
        .iter()
        .map(|(r, buyers)| {
            let writer = r.writer_cpu_us_per_hold.unwrap_or(0.0);
            let waker = r.waker_cpu_us_per_hold.unwrap_or(0.0);
            let rest = (r.cpu_us_per_hold - buyers - writer - waker).max(0.0);
            format!(
                "{} {buyers:.1} + {writer:.1} + {waker:.1} + {rest:.1}, at most {:.0} holds/s ({:.1}x)",
                r.strategy,
                r.cpu_ceiling_holds_per_sec,
                r.cpu_ceiling_holds_per_sec / report.rows[0].holds_per_sec.max(1e-9),
            )
        })
        .collect::<Vec<_>>();
    for line in parts.chunks(2) {
        writeln!(out, "cpu: {}", line.join(";  "))?;
    }
    Ok(())
}

/// Where the rest of the machine went while each row sold: beside the row's own
/// cores, the kernel's and other processes' work, the hypervisor's steal, and idle. On
/// a virtual machine a CPU-bound row stays below its `at most` by these (issue 13).
fn machine_times(report: &BenchReport, out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r,
                r.machine_other_cores?,
                r.machine_steal_cores?,
                r.machine_idle_cores?,
            ))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "machine = the {} cores over the row's selling time: the row's own + the kernel's and other processes' + stolen by the hypervisor + idle.",
        super::machine_cores()
    )?;
    let parts = rows
        .iter()
        .map(|(r, other, steal, idle)| {
            format!(
                "{} {:.2} + {other:.2} + {steal:.2} + {idle:.2}",
                r.strategy, r.cores
            )
        })
        .collect::<Vec<_>>();
    for line in parts.chunks(3) {
        writeln!(out, "machine: {}", line.join(";  "))?;
    }
    Ok(())
}

/// One row, formatted like the table's (also the progress line as rows finish).
pub(super) fn line(r: &BenchRow) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "{:<11} {:>10.0} {:>8.2}x {:>9.2} {:>9.2} {:>9.2} {:>9} {:>9} {:>9.3} {:>10} {:>7} {:>8} {:>8} {:>8.1} {:>8.1} {:>6.2}{}",
        r.strategy,
        r.holds_per_sec,
        r.ratio_to_limit,
        ms(r.p50_us),
        ms(r.p99_us),
        ms(r.max_us),
        r.sold,
        r.oversold,
        r.fairness,
        r.conflicts,
        r.busy,
        r.commits,
        r.paid,
        r.wal_peak_bytes as f64 / (1024.0 * 1024.0),
        r.cpu_us_per_hold,
        r.cores,
        if r.complete { "" } else { "  (time limit)" },
    )
}

pub(super) fn write(report: &BenchReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "bench: {} units, {} buyers on {} threads per row, synchronous={}, a fresh database per row{}",
        report.holds,
        report.buyers,
        report.threads,
        report.synchronous,
        if report.watched {
            ", watched like the console every 200 ms"
        } else {
            ""
        }
    )?;
    writeln!(out, "{HEADER}")?;
    for row in &report.rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(
        out,
        "limit = the same reservation transaction on one connection, one transaction per hold, no threads."
    )?;
    writeln!(
        out,
        "latency = one request (pay-first: add-to-cart and payment); sold/oversold from the database."
    )?;
    writeln!(
        out,
        "holds/s = holds sold over the time from the release to the last buyer's last answer."
    )?;
    writeln!(
        out,
        "cpu us = this process's CPU time per hold, every thread's (the buyers' too); cores = that time over the row's."
    )?;
    writer_times(report, out)?;
    cpu_split(report, out)?;
    machine_times(report, out)?;
    if report.pay {
        writeln!(
            out,
            "every winner paid right after its add-to-cart (holds/s and latency are the add-to-cart's)."
        )?;
    }
    let bound = if report.wal_bound == 0 {
        "none: the writer checkpoints inside its commits".to_owned()
    } else {
        format!(
            "{} MiB, kept by the checkpointer thread",
            report.wal_bound / (1024 * 1024)
        )
    };
    if report.synchronous == "server" {
        writeln!(
            out,
            "on a database server: each row on the same database, emptied and loaded first; the server keeps its own WAL."
        )?;
    } else {
        writeln!(
            out,
            "WAL bound: {bound}; wal MiB = the largest WAL file it saw."
        )?;
    }
    let limit_rate = report.rows.first().map_or(0.0, |r| r.holds_per_sec);
    writeln!(
        out,
        "{}",
        super::time_limit::describe(
            report.time_limit_ms,
            report.time_limit_fixed,
            report.holds,
            limit_rate
        )
    )?;
    if limit_rate > 0.0 {
        let drift = (report.limit_at_end_holds_per_sec / limit_rate - 1.0) * 100.0;
        let note = if drift.abs() > 20.0 {
            "  -- the machine changed speed during the run: compare ratios with care"
        } else {
            ""
        };
        writeln!(
            out,
            "limit measured again at the end: {:.0} holds/s ({drift:+.0}%){note}",
            report.limit_at_end_holds_per_sec
        )?;
    }
    if let Some(rate) = report.gate_sold_out_per_sec {
        let touched = if report.gate_sold_out_touched_db == Some(true) {
            "TOUCHED THE DATABASE"
        } else {
            "none touched the database"
        };
        let rate = if rate >= 1e6 {
            format!("{:.1} million", rate / 1e6)
        } else {
            format!("{:.0} thousand", rate / 1e3)
        };
        writeln!(out, "gate, sold out: {rate} answers/s ({touched})")?;
    }
    if let Some(e) = &report.expiry {
        writeln!(out, "{}", e.line())?;
    }
    Ok(())
}
