//! Drawing: the frame around every tab (tab bar, header, footer of key hints), the
//! "terminal too small" screen, and the dispatch to each tab and dialog. Everything
//! here reads the [`App`] and changes nothing.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Margin, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use super::app::{App, RunState, Tab, Tone};
use super::tabs::{compare, lab, sale, storefront};
use super::theme::Theme;
use super::{dialog, format, text};

/// The smallest screen the console lays out; below it says so instead.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub use super::tabs::sale::{SaleAreas, areas as sale_areas_of};

/// The Sale tab's panels on a screen of this size (for the mouse).
pub fn sale_areas(app: &App, screen: Rect) -> SaleAreas {
    sale_areas_of(app, body_area(app, screen))
}

/// Where the tabs draw on a screen of this size.
pub fn body_area(app: &App, screen: Rect) -> Rect {
    let [_, _, body, _, _] = screen.layout(&frame_layout(app, screen.width));
    body
}

/// Tab bar, header, the tab, a status line while there is news, the key hints.
fn frame_layout(app: &App, width: u16) -> Layout {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(status_rows(app, width)),
        Constraint::Length(1),
    ])
}

/// A status sentence gets the rows it needs (two at most), so it is never cut mid-word.
fn status_rows(app: &App, width: u16) -> u16 {
    match &app.note {
        None => 0,
        Some(note) if text::width(&note.text) + 2 <= usize::from(width) => 1,
        Some(_) => 2,
    }
}

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    render_screen(app, area, frame.buffer_mut());
}

/// Draws the whole screen into a buffer.
pub fn render_screen(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        render_too_small(app.theme(), area, buf);
        return;
    }
    let [bar, header, body, status, footer] = area.layout(&frame_layout(app, area.width));
    render_tab_bar(app, bar, buf);
    render_header(app, header, buf);
    match app.tab {
        Tab::Sale => sale::render(app, body, buf),
        Tab::Storefront => storefront::render(app, body, buf),
        Tab::Lab => lab::render_lab(app, body, buf),
        Tab::Compare => compare::render(app, body, buf),
    }
    render_status(app, status, buf);
    render_footer(app, footer, buf);
    if let Some(modal) = &app.modal {
        dialog::render(app, modal, body, buf);
    }
}

/// A panel's frame: rounded, calm, its title bold; brighter when the arrows move it.
pub fn panel<'a>(theme: &Theme, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(title.into().style(theme.title))
}

pub fn tone_style(theme: &Theme, tone: Tone) -> Style {
    match tone {
        Tone::Info => theme.text,
        Tone::Good => theme.ok,
        Tone::Warn => theme.warn,
        Tone::Bad => theme.danger,
    }
}

fn render_too_small(theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let need = format!("need {MIN_WIDTH}×{MIN_HEIGHT}");
    let lines: Vec<Line> = if area.width < 24 {
        vec![
            Line::styled("too small", theme.warn),
            Line::raw(need),
            Line::styled("q quits", theme.dim),
        ]
    } else {
        vec![
            Line::styled("Terminal too small", theme.warn),
            Line::raw(format!("{}×{}, {need}", area.width, area.height)),
            Line::styled("enlarge it, or q to quit", theme.dim),
        ]
    };
    let height = u16::try_from(lines.len()).unwrap_or(3).min(area.height);
    let top = area.y + (area.height - height) / 2;
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(Rect::new(area.x, top, area.width, height), buf);
}

fn render_tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let mut spans = vec![Span::styled(" flashsale ", t.badge), Span::raw(" ")];
    for tab in <Tab as strum::IntoEnumIterator>::iter() {
        let style = if tab == app.tab { t.tab_active } else { t.tab };
        spans.push(Span::styled(format!("{}", tab.index() + 1), t.key));
        spans.push(Span::styled(format!(" {}", tab.title()), style));
        spans.push(Span::raw("  "));
    }
    Line::from(spans).render(area, buf);

    let mut right = Vec::new();
    let oversold: i64 = app
        .snapshot
        .oversold()
        .map(crate::hold::Stock::oversold)
        .sum();
    if oversold > 0 {
        right.push(Span::styled(format!(" ⚠ OVERSOLD +{oversold} "), t.alarm));
        right.push(Span::raw(" "));
    }
    if app.frozen.is_some() {
        right.push(Span::styled(" FROZEN · f resumes ", t.badge));
        right.push(Span::raw(" "));
    }
    if app.read_only() {
        right.push(Span::styled(" READ-ONLY ", t.badge));
        right.push(Span::raw(" "));
    }
    right.push(Span::styled("?", t.key));
    right.push(Span::styled(" help ", t.dim));
    Line::from(right)
        .alignment(Alignment::Right)
        .render(area, buf);
}

/// The header: sale, strategy, durability, TTL, clock with warp, database. Segments
/// that do not fit are left out, least important first.
fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let snap = &app.snapshot;
    let sale = snap
        .rules
        .as_ref()
        .map_or_else(|| "(no sale)".to_owned(), |r| r.name.clone());
    let strategy: Vec<Span> = match app.strategy {
        Some(s) if s.is_safe() => vec![
            Span::styled("strategy ", t.dim),
            Span::styled(s.name(), t.value),
        ],
        Some(s) => vec![
            Span::styled("strategy ", t.dim),
            Span::styled(format!("{} UNSAFE", s.name()), t.danger),
        ],
        None => vec![Span::styled("strategy: the seller's", t.dim)],
    };
    let sync: Vec<Span> = match app.source.engine() {
        Some(e) => vec![Span::styled("sync ", t.dim), Span::raw(e.durability())],
        // Durability is a setting of the writer's connections, not of the file.
        None => Vec::new(),
    };
    let ttl = snap
        .rules
        .as_ref()
        .map_or_else(|| "—".to_owned(), |r| format::ttl(r.hold_ttl));
    let clock = vec![
        Span::styled(format::time_of_day(app.now(), app.options.utc), t.value),
        Span::styled(
            format!(" ×{}", app.clock.warp()),
            if app.clock.warp() > 1 { t.warn } else { t.dim },
        ),
    ];
    // (priority, spans): the lowest priority goes first when space runs out.
    let mut segments: Vec<(u8, Vec<Span>)> = vec![
        (4, vec![Span::styled(sale, t.title)]),
        (5, strategy),
        (2, sync),
        (3, vec![Span::styled("TTL ", t.dim), Span::raw(ttl)]),
        (6, clock),
        (1, vec![Span::styled(app.options.db_label.clone(), t.dim)]),
    ];
    let sep = " · ";
    let width = |segs: &[(u8, Vec<Span>)]| -> usize {
        let inner: usize = segs
            .iter()
            .map(|(_, s)| s.iter().map(Span::width).sum::<usize>())
            .sum();
        1 + inner + 3 * segs.len().saturating_sub(1)
    };
    while width(&segments) > usize::from(area.width) && segments.len() > 1 {
        let lowest = segments
            .iter()
            .enumerate()
            .min_by_key(|(_, (p, _))| *p)
            .map_or(0, |(i, _)| i);
        segments.remove(lowest);
    }
    segments.retain(|(_, s)| !s.is_empty());
    let mut spans = vec![Span::raw(" ")];
    for (i, (_, seg)) in segments.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep, t.border));
        }
        spans.extend(seg);
    }
    if let Some(err) = &app.read_error {
        spans = vec![Span::styled(
            format!(" Cannot read the database: {err}"),
            t.danger,
        )];
    }
    Line::from(spans).render(area, buf);
}

fn render_status(app: &App, area: Rect, buf: &mut Buffer) {
    if let Some(note) = &app.note {
        let t = app.theme();
        Paragraph::new(Line::styled(note.text.clone(), tone_style(t, note.tone)))
            .wrap(Wrap { trim: true })
            .render(area.inner(Margin::new(1, 0)), buf);
    }
}

/// The key hints, most useful first, as many as fit; `? help` and `q quit` always.
fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let tail = [("?", "help"), ("q", "quit")];
    let hint_width = |(k, l): &(&str, &str)| text::width(k) + text::width(l) + 3;
    // Drawn as "? help q quit ": a key, a space, the label, a space.
    let tail_width: usize = tail
        .iter()
        .map(|(k, l)| text::width(k) + text::width(l) + 2)
        .sum();
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1 + tail_width;
    for hint in hints(app) {
        let w = hint_width(&hint);
        if used + w > usize::from(area.width) {
            break;
        }
        used += w;
        spans.push(Span::styled(hint.0, t.key));
        spans.push(Span::styled(format!(" {}  ", hint.1), t.dim));
    }
    Line::from(spans).render(area, buf);
    let mut right = Vec::new();
    for (key, label) in tail {
        right.push(Span::styled(key, t.key));
        right.push(Span::styled(format!(" {label} "), t.dim));
    }
    Line::from(right)
        .alignment(Alignment::Right)
        .render(area, buf);
}

/// The key hints of the current tab, most useful first.
fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    match app.tab {
        Tab::Sale if app.read_only() => vec![
            ("↑↓", "scroll"),
            ("←→", "holds/orders"),
            ("p", "product"),
            ("⇥", "tabs"),
        ],
        Tab::Sale => {
            let swarm = match app.run.as_ref().map(|r| r.state) {
                Some(RunState::Running) => ("x", "stop swarm"),
                _ => ("n", "swarm"),
            };
            vec![
                swarm,
                ("s", "strategy"),
                ("t", "TTL"),
                ("w", "warp"),
                ("r", "restock"),
                ("R", "reset"),
                ("f", "freeze"),
                ("p", "product"),
                ("↑↓", "scroll"),
            ]
        }
        Tab::Storefront => vec![
            ("↑↓", "product"),
            ("a", "add to cart"),
            ("p", "pay"),
            ("e", "extend"),
            ("c", "cancel"),
        ],
        Tab::Lab => {
            let mut hints = crate::lab::ui::LabView::hints_for(app.lab.mode);
            hints.push(("⇥", "tabs"));
            hints
        }
        Tab::Compare => vec![("↑↓", "select run"), ("e", "export"), ("⇥", "tabs")],
    }
}
