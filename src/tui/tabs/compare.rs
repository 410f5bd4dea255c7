//! The Compare tab: one row per swarm run, the columns of `bench`, so naive, immediate,
//! gate and queue can be read side by side. Runs are kept in the database, so the table
//! outlives the session; `e` exports it for slides. Below it, the operator log: who
//! reset, restocked, or changed TTL, warp or strategy, and when.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

pub use crate::journal::RunRow;
use crate::tui::app::{Action, App, Tone};
use crate::tui::command::Command;
use crate::tui::format::{micros, rate, span, thousands, thousands_i, time_of_day};
use crate::tui::keys;
use crate::tui::text::fit;
use crate::tui::theme::Theme;
use crate::tui::ui::panel;

#[derive(Debug, Clone, Default)]
pub struct CompareState {
    /// Every finished swarm run kept in the database, oldest first (and this
    /// session's, once they end).
    pub runs: Vec<RunRow>,
    pub selected: usize,
    /// How many of `runs` came from or went to the database: a reading that counts
    /// more brings the list again (another console's runs).
    pub stored: u64,
}

/// The Compare tab's keys.
pub fn key(key: KeyEvent) -> Option<Action> {
    if let Some(action) = keys::list_key(key) {
        return Some(action);
    }
    match key.code {
        KeyCode::Char('e') => Some(Action::Export),
        _ => None,
    }
}

/// Writes the table to a Markdown file for slides (off the drawing thread).
pub fn export(app: &mut App) {
    if app.compare.runs.is_empty() {
        app.say(
            Tone::Info,
            "No runs to export yet: launch a swarm (n on the Sale tab)",
        );
        return;
    }
    let path = app.export_dir.join("flashsale-runs.md");
    app.queue(Command::Export {
        runs: app.compare.runs.clone(),
        path,
    });
}

/// What the export came to.
pub fn exported(app: &mut App, runs: usize, result: crate::Result<PathBuf>) {
    match result {
        Ok(path) => app.say(
            Tone::Good,
            format!(
                "Exported {runs} runs to {} (a Markdown table; `flashsale runs --csv` for a spreadsheet)",
                path.display()
            ),
        ),
        Err(e) => app.say(Tone::Bad, format!("The export failed: {e}")),
    }
}

/// Takes the runs a reading brought (only when the database has more than we know).
pub fn refreshed(app: &mut App, runs: Option<Vec<RunRow>>) {
    if let Some(runs) = runs {
        app.compare.stored = u64::try_from(runs.len()).unwrap_or(u64::MAX);
        app.compare.runs = runs;
        app.compare.selected = app
            .compare
            .selected
            .min(app.compare.runs.len().saturating_sub(1));
    }
}

pub fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let log_rows = u16::try_from(app.snapshot.log.len().clamp(1, 5)).unwrap_or(5) + 2;
    let about = app
        .compare
        .runs
        .get(app.compare.selected)
        .map(|r| about_run(t, r));
    // The selected run's box as tall as its wrapped text (inside its borders and
    // margins), as long as the table keeps a few rows: at 80x24 a fixed 6 cut it short.
    let about_rows = about.as_ref().map_or(6, |p| {
        let lines = u16::try_from(p.line_count(body.width.saturating_sub(4))).unwrap_or(u16::MAX);
        let most = body.height.saturating_sub(log_rows + TABLE_AT_LEAST).max(6);
        lines.saturating_add(2).clamp(6, most)
    });
    let [table_area, detail, log] = body.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(about_rows),
        Constraint::Length(log_rows),
    ]));
    render_log(app, log, buf);
    let runs = &app.compare.runs;
    let block = panel(t, " Runs ", true)
        .title_top(Line::styled(" kept in the database · e exports ", t.dim).right_aligned());
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
    // A projector-sized screen gets each run's settings too.
    let wide = table_area.width >= 150;
    let mut headers = vec![
        "#", "strategy", "buyers", "sold", "over", "fair", "holds/s", "p50", "p99", "confl", "busy",
    ];
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(10),
        Constraint::Length(if wide { 11 } else { 6 }),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    if wide {
        headers.extend(["product", "TTL", "warp", "started", "behaviour"]);
        widths.extend([
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Fill(1),
        ]);
    }
    let header = Row::new(headers.into_iter().enumerate().map(|(i, h)| {
        let line = Line::from(h);
        Cell::from(if i == 1 || i >= 11 {
            line
        } else {
            line.right_aligned()
        })
    }))
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
            // A run stopped early is marked: its buyers are those that came.
            let buyers = if r.stopped {
                format!("{}◼", thousands(r.buyers))
            } else {
                thousands(r.buyers)
            };
            let mut cells = vec![
                right((i + 1).to_string()),
                Cell::from(Line::styled(r.strategy.name(), strategy_style)),
                right(buyers),
                right(format!("{}/{}", thousands_i(r.sold), thousands_i(r.stock))),
                Cell::from(Line::styled(r.oversold.to_string(), over_style).right_aligned()),
                right(format!("{:.2}", r.fairness)),
                right(rate(r.holds_per_sec)),
                right(micros(r.latency.p50)),
                right(micros(r.latency.p99)),
                right(thousands(r.conflicts)),
                right(thousands(r.busy)),
            ];
            if wide {
                let ttl =
                    std::time::Duration::from_millis(u64::try_from(r.hold_ttl_ms).unwrap_or(0));
                cells.extend([
                    Cell::from(r.sku.clone()),
                    Cell::from(crate::tui::format::ttl(ttl)),
                    Cell::from(format!("×{}", r.warp)),
                    Cell::from(time_of_day(r.started_at, app.options.utc)),
                    Cell::from(r.behaviour.clone()),
                ]);
            }
            Row::new(cells)
        })
        .collect();
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
    if let Some(about) = about {
        about.render(inner, buf);
    }
}

/// The rows a table of runs keeps however long the selected run's text: its borders,
/// its header and a few runs.
const TABLE_AT_LEAST: u16 = 6;

/// What the selected run did, in words.
fn about_run(t: &Theme, r: &RunRow) -> Paragraph<'static> {
    let summary = r.strategy.summary();
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
                "{} on {} in {}: {} attempts/s · rejected sold out {}, limit {}, other {} · fairness {:.3} (of the first {} arrivals, the share that won) · {} inversions (a later arrival won, an earlier lost)",
                buyers_text(r),
                plural(r.threads as u64, "thread", "threads"),
                span(i64::try_from(r.elapsed_ms).unwrap_or(0)),
                rate(r.attempts_per_sec),
                thousands(r.rejected_sold_out),
                thousands(r.rejected_limit),
                thousands(r.rejected_other),
                r.fairness,
                thousands_i(r.stock),
                thousands(r.inversions)
            ),
            t.dim,
        ),
    ])
    .wrap(Wrap { trim: true })
}

/// "3,000 of 50,000 buyers (stopped)" for a run stopped early.
fn buyers_text(r: &RunRow) -> String {
    if r.stopped {
        format!(
            "{} of {} buyers (stopped)",
            thousands(r.buyers),
            thousands(r.buyers_planned)
        )
    } else {
        plural(r.buyers, "buyer", "buyers")
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The operator log, newest first.
fn render_log(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let block = panel(t, " Operator log ", false).title_top(
        Line::styled(" who changed the sale, kept in the database ", t.dim).right_aligned(),
    );
    let inner = block.inner(area).inner(Margin::new(1, 0));
    block.render(area, buf);
    if app.snapshot.log.is_empty() {
        Line::styled("Nothing changed by hand yet.", t.dim).render(inner, buf);
        return;
    }
    let lines: Vec<Line> = app
        .snapshot
        .log
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::styled(time_of_day(e.at, app.options.utc), t.dim),
                Span::styled(format!("  {:<10} ", fit(&e.who, 10)), t.dim),
                Span::raw(e.what.clone()),
            ])
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
