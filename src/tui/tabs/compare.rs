//! The Compare tab: one row per swarm run of this session, the columns of `bench`, so
//! naive, immediate, gate and queue can be read side by side.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use crate::metrics::Percentiles;
use crate::strategy::Strategy;
use crate::swarm::SwarmReport;
use crate::tui::app::App;
use crate::tui::format::{micros, rate, span, thousands, thousands_i};
use crate::tui::ui::panel;

#[derive(Debug, Clone, Default)]
pub struct CompareState {
    /// Every finished swarm run of this session, oldest first.
    pub runs: Vec<RunRow>,
    pub selected: usize,
}

/// One finished run as the Compare tab shows it (the columns of `bench`), taken from the
/// run's report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub strategy: Strategy,
    pub buyers: u64,
    pub threads: usize,
    /// Units on sale when the run started.
    pub stock: i64,
    pub sold: i64,
    pub oversold: i64,
    pub fairness: f64,
    pub inversions: u64,
    pub attempts_per_sec: f64,
    pub holds_per_sec: f64,
    pub latency: Percentiles,
    pub conflicts: u64,
    pub busy: u64,
    pub elapsed_ms: u64,
    pub rejected_sold_out: u64,
    pub rejected_limit: u64,
    /// Conflict, busy, timeout and other rejections.
    pub rejected_other: u64,
}

impl RunRow {
    pub fn of(report: &SwarmReport, strategy: Strategy) -> RunRow {
        RunRow {
            strategy: report.strategy.parse().unwrap_or(strategy),
            buyers: report.buyers,
            threads: report.threads,
            stock: report.stock,
            sold: report.sold,
            oversold: report.oversold,
            fairness: report.fairness,
            inversions: report.inversions,
            attempts_per_sec: report.attempts_per_sec,
            holds_per_sec: report.holds_per_sec,
            latency: report.latency_us,
            conflicts: report.conflicts,
            busy: report.busy,
            elapsed_ms: report.elapsed_ms,
            rejected_sold_out: report.rejected_sold_out,
            rejected_limit: report.rejected_limit,
            rejected_other: report.rejected_conflict
                + report.rejected_busy
                + report.rejected_timeout
                + report.rejected_other,
        }
    }
}

pub fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let [table_area, detail] = body.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(6),
    ]));
    let runs = &app.compare.runs;
    let block = panel(t, " Runs of this session ", true)
        .title_top(Line::styled(" one row per swarm ", t.dim).right_aligned());
    if runs.is_empty() {
        let inner = block.inner(table_area).inner(Margin::new(1, 1));
        block.render(table_area, buf);
        Paragraph::new(vec![
            Line::styled("No runs yet.", t.value),
            Line::raw(""),
            Line::styled(
                "On the Sale tab press n, launch 5,000 buyers with naive and watch the alarm;",
                t.dim,
            ),
            Line::styled(
                "then run again with immediate, gate or queue. Every run lands here as a row.",
                t.dim,
            ),
        ])
        .wrap(Wrap { trim: true })
        .render(inner, buf);
        panel(t, " Run ", false).render(detail, buf);
        return;
    }
    let header = Row::new(
        [
            "#", "strategy", "buyers", "sold", "over", "fair", "holds/s", "p50", "p99", "confl",
            "busy",
        ]
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let line = Line::from(h);
            Cell::from(if i == 1 { line } else { line.right_aligned() })
        }),
    )
    .style(t.dim);
    let rows: Vec<Row> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let right = |s: String| Cell::from(Line::from(s).right_aligned());
            let strategy_style = if r.strategy.is_safe() {
                t.text
            } else {
                t.danger
            };
            let over_style = if r.oversold > 0 { t.danger } else { t.ok };
            Row::new(vec![
                right((i + 1).to_string()),
                Cell::from(Line::styled(r.strategy.name(), strategy_style)),
                right(thousands(r.buyers)),
                right(format!("{}/{}", thousands_i(r.sold), thousands_i(r.stock))),
                Cell::from(Line::styled(r.oversold.to_string(), over_style).right_aligned()),
                right(format!("{:.2}", r.fairness)),
                right(rate(r.holds_per_sec)),
                right(micros(r.latency.p50)),
                right(micros(r.latency.p99)),
                right(thousands(r.conflicts)),
                right(thousands(r.busy)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(2),
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    let mut state = TableState::default().with_selected(Some(app.compare.selected));
    StatefulWidget::render(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(t.selected)
            .block(block),
        table_area,
        buf,
        &mut state,
    );
    let Some(r) = runs.get(app.compare.selected) else {
        return;
    };
    let summary = r.strategy.summary();
    let block = panel(
        t,
        Line::from(vec![
            Span::styled(format!(" Run {} ", app.compare.selected + 1), t.title),
            Span::styled(format!("· {} ", r.strategy), t.dim),
        ]),
        false,
    );
    let inner = block.inner(detail).inner(Margin::new(1, 0));
    block.render(detail, buf);
    let verdict = if r.oversold > 0 {
        Line::styled(
            format!(
                "OVERSOLD by {}: the books do not balance (UNSAFE strategy)",
                r.oversold
            ),
            t.danger,
        )
    } else {
        Line::styled(
            format!(
                "sold {} of {} — exactly the stock, never more",
                r.sold, r.stock
            ),
            t.ok,
        )
    };
    Paragraph::new(vec![
        verdict,
        Line::styled(summary.to_owned(), t.dim),
        Line::styled(
            format!(
                "{} buyers on {} threads in {}: {} attempts/s · rejected sold out {}, limit {}, other {} · fairness {:.3}, {} inversions",
                thousands(r.buyers),
                r.threads,
                span(i64::try_from(r.elapsed_ms).unwrap_or(0)),
                rate(r.attempts_per_sec),
                thousands(r.rejected_sold_out),
                thousands(r.rejected_limit),
                thousands(r.rejected_other),
                r.fairness,
                thousands(r.inversions)
            ),
            t.dim,
        ),
    ])
    .wrap(Wrap { trim: true })
    .render(inner, buf);
}
