//! Active holds, soonest deadline first, each with a live countdown (in sale time, so
//! warp shows the sale's minutes) coloured as it runs out. Scrolls through thousands:
//! only a window around the scroll position is read from the database.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Margin, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Cell, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget, Table, Widget,
};

use crate::tui::app::{App, SalePanel};
use crate::tui::format::{countdown, thousands};
use crate::tui::text::{fit, fit_middle};
use crate::tui::theme::Theme;
use crate::tui::ui::panel;

/// The style of a countdown with `left` of `ttl` to go.
pub fn countdown_style(t: &Theme, left: std::time::Duration, ttl: std::time::Duration) -> Style {
    let share = if ttl.is_zero() {
        0.0
    } else {
        left.as_secs_f64() / ttl.as_secs_f64()
    };
    if left.is_zero() {
        t.danger
    } else if share > 0.5 {
        t.ok
    } else if share > 0.2 {
        t.warn
    } else {
        t.danger
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let snap = &app.snapshot;
    let focused = app.sale.focus == SalePanel::Holds;
    let title = Line::from(vec![
        Span::styled(" Active holds ", t.title),
        Span::styled(thousands(snap.active_holds), t.value),
        Span::raw(" "),
    ]);
    let block =
        panel(t, title, focused).title_top(Line::styled(" soonest first ", t.dim).right_aligned());
    let ttl = snap
        .rules
        .as_ref()
        .map_or(std::time::Duration::from_secs(600), |r| r.hold_ttl);
    let start = app.sale.holds_scroll.saturating_sub(snap.holds_offset);
    let visible = usize::from(area.height.saturating_sub(3));
    // The buyer column takes what the fixed columns (and their gaps) leave.
    let buyer_width = usize::from(area.width.saturating_sub(2 + 22 + 4)).max(3);
    let rows: Vec<Row> = snap
        .holds
        .iter()
        .skip(start)
        .take(visible)
        .map(|h| {
            let left = app.time_left(h.expires_at);
            let sku = snap
                .product(h.product_id)
                .map_or_else(|| format!("#{}", h.product_id.0), |s| s.sku.clone());
            let clock = if left.is_zero() {
                "due".to_owned()
            } else {
                countdown(left)
            };
            Row::new(vec![
                Cell::from(fit_middle(&h.buyer, buyer_width)),
                Cell::from(fit(&sku, 9)),
                Cell::from(Line::from(h.qty.to_string()).right_aligned()),
                Cell::from(Line::styled(clock, countdown_style(t, left, ttl)).right_aligned()),
                Cell::from(Line::styled(h.extensions.to_string(), t.dim).right_aligned()),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let header = Row::new(["buyer", "item", "qty", "left", "ext"]).style(t.dim);
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(3),
            Constraint::Length(7),
            Constraint::Length(3),
        ],
    )
    .header(header)
    .column_spacing(1)
    .block(block);
    Widget::render(table, area, buf);
    if empty {
        let msg = if snap.active_holds == 0 {
            "no active holds"
        } else {
            "reading…"
        };
        let inner = area.inner(Margin::new(2, 2));
        Span::styled(msg, t.dim).render(inner, buf);
    }
    let total = usize::try_from(snap.active_holds).unwrap_or(0);
    if total > visible {
        let mut state =
            ScrollbarState::new(total.saturating_sub(visible)).position(app.sale.holds_scroll);
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .thumb_style(t.border_focus)
            .track_style(t.border)
            .render(area.inner(Margin::new(0, 1)), buf, &mut state);
    }
}
