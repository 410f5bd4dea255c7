//! The pieces of a running scenario's screen: session panels, the rows, the swimlane,
//! the narration. Each one renders from a [`Scene`], which step mode and scheduler mode
//! both produce, so the two modes look the same where they are the same.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use crate::lab::runner::{Change, Check, Lab, ProductAudit, Snapshot, StepRecord};
use crate::lab::scenario::Scenario;
use crate::lab::scheduler::{Announcement, Anomaly};
use crate::lab::session::{FailKind, Outcome, TxnState, plain_text};
use crate::tui::text::{fit, width as text_width};
use crate::tui::theme::Theme;

/// One line of the swimlane.
pub struct LaneEntry<'a> {
    /// The step number (step mode) or move number (scheduler mode), from 1.
    pub number: usize,
    /// What ran.
    pub record: &'a StepRecord,
}

/// Everything a running scenario's screen shows, whichever mode produced it.
pub struct Scene<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The live database (session states and variables).
    pub lab: &'a Lab,
    /// The statements run so far, in order.
    pub lane: Vec<LaneEntry<'a>>,
    /// Committed rows now.
    pub rows: &'a Snapshot,
    /// The statement run last.
    pub last: Option<&'a StepRecord>,
    /// Scheduler mode: each session's next statement (None when finished). Step mode: None.
    pub next: Option<Vec<Option<&'a str>>>,
    /// The text of the narration panel, first line first.
    pub story: Vec<Line<'a>>,
    /// The title of the narration panel.
    pub story_title: String,
}

/// The first words of a statement, for narrow places: "BEGIN IMM", "UPDATE".
fn verb(sql: &str) -> String {
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    if first == "BEGIN" {
        match words.next().map(str::to_ascii_uppercase).as_deref() {
            Some("IMMEDIATE") => return "IMMEDIATE".to_string(),
            Some("EXCLUSIVE") => return "EXCLUSIVE".to_string(),
            _ => {}
        }
    }
    first
}

/// A result in a few characters, for the swimlane.
fn short_result(outcome: &Outcome) -> String {
    match outcome {
        // One row: its first value (what the application read); otherwise a count.
        Outcome::Rows { rows, .. } => match (rows.len(), rows.first().and_then(|r| r.first())) {
            (1, Some(v)) => format!("={}", plain_text(v)),
            (n, _) => format!("{n} rows"),
        },
        Outcome::Done { changed, writes } => {
            if *writes {
                format!("✓{changed}")
            } else {
                "✓".to_string()
            }
        }
        Outcome::Failed { kind, .. } => match kind {
            FailKind::Busy => "BUSY".to_string(),
            FailKind::Constraint => "CONSTR".to_string(),
            FailKind::Other => "ERR".to_string(),
        },
        Outcome::Skipped { .. } => "skip".to_string(),
    }
}

/// The style of a result: bad for errors, warn for BUSY, dim for skipped.
fn result_style(theme: &Theme, outcome: &Outcome) -> ratatui::style::Style {
    match outcome {
        Outcome::Failed {
            kind: FailKind::Busy,
            ..
        } => theme.warn,
        Outcome::Failed { .. } => theme.danger,
        Outcome::Skipped { .. } => theme.dim,
        _ => theme.ok,
    }
}

/// A session's transaction state.
fn txn_style(theme: &Theme, state: TxnState) -> ratatui::style::Style {
    match state {
        TxnState::None => theme.dim,
        TxnState::Begun => theme.txn_begun,
        TxnState::Read => theme.txn_read,
        TxnState::Write => theme.txn_write,
    }
}

/// One panel per session, side by side.
pub fn sessions(scene: &Scene<'_>, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let n = scene.scenario.sessions.len().max(1);
    let n16 = u16::try_from(n).unwrap_or(u16::MAX);
    let width = area.width / n16;
    for (i, spec) in scene.scenario.sessions.iter().enumerate() {
        let i16 = u16::try_from(i).unwrap_or(u16::MAX);
        let x = area.x + width * i16;
        let w = if i + 1 == n {
            area.width.saturating_sub(width * i16)
        } else {
            width
        };
        let panel = Rect::new(x, area.y, w, area.height);
        session_panel(scene, theme, i, spec, panel, buf);
    }
}

fn session_panel(
    scene: &Scene<'_>,
    theme: &Theme,
    i: usize,
    spec: &crate::lab::scenario::SessionSpec,
    area: Rect,
    buf: &mut Buffer,
) {
    let Some(session) = scene.lab.sessions().get(i) else {
        return;
    };
    let key = if scene.next.is_some() {
        format!("[{}] ", i + 1)
    } else {
        String::new()
    };
    let acting = scene.last.is_some_and(|r| r.session == i);
    let title_style = if acting {
        theme.title.add_modifier(ratatui::style::Modifier::REVERSED)
    } else {
        theme.title
    };
    let title = Line::from(vec![
        Span::styled(format!(" {key}{} ", spec.name), title_style),
        Span::styled(format!("{} ", spec.label), theme.dim),
    ]);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let inner_width = usize::from(inner.width);

    let state = session.state();
    let mut state_line = vec![
        Span::styled(state.word().to_string(), txn_style(theme, state)),
        Span::styled(format!(" · {}", state.holds()), theme.dim),
    ];
    let sees_other = scene
        .last
        .and_then(|r| r.sees_other.get(i).copied())
        .unwrap_or(false);
    if sees_other && state == TxnState::Read {
        state_line.push(Span::styled(" · stale", theme.warn));
    }
    let mut lines = vec![Line::from(state_line)];

    let mine = scene.lane.iter().rev().find(|e| e.record.session == i);
    match mine {
        Some(e) => {
            let result = e.record.outcome.summary();
            lines.push(Line::from(vec![
                Span::styled("› ", theme.dim),
                Span::raw(fit(&e.record.sql, inner_width.saturating_sub(2))),
            ]));
            let mut result_spans = vec![Span::styled(
                fit(&result, inner_width),
                result_style(theme, &e.record.outcome),
            )];
            if let Outcome::Failed {
                kind: FailKind::Busy,
                would_wait,
                ..
            } = e.record.outcome
            {
                let how = if would_wait {
                    " (would wait)"
                } else {
                    " (at once)"
                };
                result_spans.push(Span::styled(how, theme.dim));
            }
            lines.push(Line::from(result_spans));
        }
        None => {
            lines.push(Line::styled("no statement yet", theme.dim));
            lines.push(Line::raw(""));
        }
    }
    match &scene.next {
        Some(next) => {
            let text = match next.get(i).copied().flatten() {
                Some(sql) => format!("next: {sql}"),
                None => "finished (r: start again)".to_string(),
            };
            lines.push(Line::styled(fit(&text, inner_width), theme.dim));
        }
        None => {
            // What the application read: its variables, except the ones the scenario gave
            // it and the row count, which goes last.
            let mut read: Vec<String> = session
                .vars()
                .iter()
                .filter(|(k, _)| !spec.vars.contains_key(*k) && *k != "changed")
                .map(|(k, v)| format!("{k}={}", plain_text(v)))
                .collect();
            if let Some(v) = session.vars().get("changed") {
                read.push(format!("changed={}", plain_text(v)));
            }
            let text = if read.is_empty() {
                String::new()
            } else {
                format!("app saw {}", read.join(" "))
            };
            lines.push(Line::styled(fit(&text, inner_width), theme.dim));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}

/// Column widths that fit `width`: natural widths, then the headers longer than their
/// values give up characters one at a time, the most generous first, down to their values
/// (at least 3 characters), so as few names as possible are cut.
fn column_widths(columns: &[String], rows: &[Vec<String>], width: usize) -> Vec<usize> {
    let values: Vec<usize> = (0..columns.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |v| text_width(v)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut widths: Vec<usize> = columns
        .iter()
        .zip(&values)
        .map(|(h, v)| text_width(h).max(*v))
        .collect();
    let floors: Vec<usize> = values.iter().map(|v| (*v).max(3)).collect();
    let gaps = columns.len().saturating_sub(1);
    while widths.iter().sum::<usize>() + gaps > width {
        let slack = widths
            .iter()
            .zip(&floors)
            .enumerate()
            .filter(|(_, (w, f))| w > f)
            .max_by_key(|(i, (w, f))| (**w - **f, usize::MAX - i));
        match slack {
            Some((i, _)) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

/// The committed rows, with what the last step changed highlighted, the uncommitted
/// changes of the session holding the write lock, and the audit equation.
pub fn tables(scene: &Scene<'_>, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let lines = table_lines(scene, theme, usize::from(area.width));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// How many rows `lines` take when wrapped at `width` (an estimate that errs high).
pub fn wrapped_height(lines: &[Line<'_>], width: usize) -> usize {
    // Word wrapping, as the panels draw it: counting characters would come up short.
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: true })
        .line_count(u16::try_from(width.max(1)).unwrap_or(u16::MAX))
}

/// The lines of [`tables`], for measuring before drawing.
pub fn table_lines<'a>(scene: &Scene<'a>, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let changes: &[Change] = scene.last.map_or(&[], |r| r.changes.as_slice());
    let mut lines: Vec<Line<'a>> = Vec::new();
    for table in &scene.rows.tables {
        let cells: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|r| r.iter().map(plain_text).collect())
            .collect();
        let widths = column_widths(&table.columns, &cells, width);
        lines.push(Line::from(vec![
            Span::styled(table.name.clone(), theme.title),
            Span::styled(" (committed)", theme.dim),
        ]));
        // Columns are separated by one space, with none after the last, so a table that
        // fits exactly does not wrap.
        let header: Vec<Span<'a>> = table
            .columns
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let gap = if i == 0 { "" } else { " " };
                Span::styled(format!("{gap}{:<w$}", fit(c, *w)), theme.dim)
            })
            .collect();
        lines.push(Line::from(header));
        for (row, text) in table.rows.iter().zip(&cells) {
            let change = changes
                .iter()
                .find(|c| c.table == table.name && row.first() == Some(&c.key));
            let spans: Vec<Span<'a>> = text
                .iter()
                .zip(&widths)
                .enumerate()
                .flat_map(|(col, (v, w))| {
                    let style = match change {
                        Some(c) if c.before.is_none() => theme.added,
                        Some(c) if c.touches(col) => theme.changed,
                        _ => ratatui::style::Style::new(),
                    };
                    let cell = Span::styled(format!("{:<w$}", fit(v, *w)), style);
                    let gap = Span::raw(if col == 0 { "" } else { " " });
                    [gap, cell]
                })
                .collect();
            lines.push(Line::from(spans));
        }
        if table.rows.is_empty() {
            lines.push(Line::styled("(no rows)", theme.dim));
        }
        for c in changes
            .iter()
            .filter(|c| c.table == table.name && c.after.is_none())
        {
            lines.push(Line::styled(
                fit(&format!("deleted: {}", c.describe(&table.columns)), width),
                theme.changed,
            ));
        }
    }
    if let Some((who, pending)) = scene.last.and_then(|r| r.pending.as_ref()) {
        let name = scene
            .scenario
            .sessions
            .get(*who)
            .map_or("?", |s| s.name.as_str());
        for c in pending {
            let columns = scene
                .rows
                .table(&c.table)
                .map(|t| t.columns.clone())
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled(format!("{name} uncommitted: "), theme.txn_write),
                Span::raw(c.describe(&columns)),
            ]));
        }
    }
    let audit: Vec<ProductAudit> = match scene.last {
        Some(r) => r.audit.clone(),
        None => scene.lab.audit(),
    };
    for a in &audit {
        let style = match a.oversold() {
            0 => theme.ok,
            n if n > 0 => theme.danger,
            _ => theme.warn,
        };
        let verdict = match a.oversold() {
            0 => "audit ok".to_string(),
            n if n > 0 => format!("OVERSOLD by {n}"),
            n => format!("{} unaccounted for", -n),
        };
        // The SKU only matters when there is more than one product.
        let sku = if audit.len() > 1 {
            format!("{} ", a.sku)
        } else {
            String::new()
        };
        lines.push(Line::styled(
            format!(
                "{verdict}: {sku}{} avail + {} held + {} paid = {} of {}",
                a.available,
                a.active,
                a.paid,
                a.available + a.active + a.paid,
                a.total
            ),
            style,
        ));
    }
    lines
}

/// The swimlane: one row per statement run, in its session's column.
pub fn swimlane(scene: &Scene<'_>, theme: &Theme, title: &str, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(Span::styled(format!(" {title} "), theme.title));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height < 1 {
        return;
    }
    let step_mode = scene.next.is_none();
    let n = scene.scenario.sessions.len().max(1);
    let number_width = 3;
    let col = (usize::from(inner.width).saturating_sub(number_width) / n).max(1);
    let mut header = vec![Span::styled(format!("{:<number_width$}", "#"), theme.dim)];
    for s in &scene.scenario.sessions {
        header.push(Span::styled(
            format!("{:<col$}", fit(&s.name, col.saturating_sub(1))),
            theme.title,
        ));
    }
    let mut lines = vec![Line::from(header)];
    let room = usize::from(inner.height).saturating_sub(1);
    let skip = scene.lane.len().saturating_sub(room);
    for entry in scene.lane.iter().skip(skip) {
        let r = entry.record;
        let mut spans = vec![Span::styled(
            format!("{:<number_width$}", entry.number),
            theme.dim,
        )];
        spans.push(Span::raw(" ".repeat(col * r.session)));
        let verb = verb(&r.sql);
        let result = short_result(&r.outcome);
        let room = col.saturating_sub(1);
        let verb_room = room.saturating_sub(text_width(&result) + 1);
        spans.push(Span::raw(format!("{} ", fit(&verb, verb_room))));
        // Expectations hold for the written order (step mode); in scheduler mode the
        // student's own order is legal and may differ.
        let missed = step_mode && matches!(r.check, Check::Missed(_));
        let style = if missed {
            theme.danger
        } else {
            result_style(theme, &r.outcome)
        };
        spans.push(Span::styled(result, style));
        if missed {
            spans.push(Span::styled(" ≠", theme.danger));
        } else if r.oversold().unwrap_or(0) > 0 && !r.changes.is_empty() {
            spans.push(Span::styled(" !", theme.danger));
        }
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines).render(inner, buf);
}

/// The narration panel.
pub fn story(scene: &Scene<'_>, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(Span::styled(
            format!(" {} ", scene.story_title),
            theme.title,
        ));
    Paragraph::new(scene.story.clone())
        .wrap(Wrap { trim: true })
        .block(block)
        .render(area, buf);
}

/// The lines announcing an anomaly in scheduler mode.
pub fn announcement_lines(a: &Announcement, theme: &Theme) -> Vec<Line<'static>> {
    let style = if a.kind.is_bug() {
        theme.danger
    } else {
        theme.warn
    };
    vec![
        Line::styled(a.headline.clone(), style),
        Line::raw(a.why.clone()),
        Line::from(vec![
            Span::styled(
                if a.kind == Anomaly::BusyWait {
                    "Not a bug: "
                } else {
                    "Prevented by: "
                },
                theme.title,
            ),
            Span::raw(a.prevented_by.clone()),
        ]),
    ]
}
