//! The order feed, newest first: who bought what, when they added it to the cart and
//! when they paid, and how long they took.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use crate::tui::app::{App, SalePanel};
use crate::tui::format::{span, thousands_i, time_of_day};
use crate::tui::text::{fit, fit_middle};
use crate::tui::ui::panel;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let snap = &app.snapshot;
    let focused = app.sale.focus == SalePanel::Orders;
    let sold: i64 = snap.stock.iter().map(|s| s.sold).sum();
    let title = Line::from(vec![
        Span::styled(" Orders ", t.title),
        Span::styled(thousands_i(sold), t.value),
        Span::styled(" sold ", t.dim),
    ]);
    let block =
        panel(t, title, focused).title_top(Line::styled(" newest first ", t.dim).right_aligned());
    // The add-to-cart time only where there is room for it.
    let wide = area.width >= 58;
    let utc = app.options.utc;
    let visible = usize::from(area.height.saturating_sub(3));
    let fixed = if wide { 32 + 4 } else { 23 + 3 };
    let buyer_width = usize::from(area.width.saturating_sub(2 + fixed)).max(3);
    let rows: Vec<Row> = snap
        .orders
        .iter()
        .skip(app.sale.orders_scroll)
        .take(visible)
        .map(|o| {
            let sku = snap
                .product(o.product_id)
                .map_or_else(|| format!("#{}", o.product_id.0), |s| s.sku.clone());
            let mut cells = vec![
                Cell::from(fit_middle(&o.buyer, buyer_width)),
                Cell::from(fit(&sku, 9)),
            ];
            if wide {
                cells.push(Cell::from(Line::styled(time_of_day(o.held_at, utc), t.dim)));
            }
            cells.push(Cell::from(time_of_day(o.paid_at, utc)));
            cells.push(Cell::from(
                Line::styled(span(o.paid_at - o.held_at), t.dim).right_aligned(),
            ));
            Row::new(cells)
        })
        .collect();
    let empty = rows.is_empty();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec!["buyer", "item", "held at", "→ paid at", "took"],
            vec![
                Constraint::Fill(1),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(6),
            ],
        )
    } else {
        (
            vec!["buyer", "item", "paid at", "took"],
            vec![
                Constraint::Fill(1),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(6),
            ],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.dim))
        .column_spacing(1)
        .block(block);
    Widget::render(table, area, buf);
    if empty {
        Span::styled("no orders yet", t.dim).render(area.inner(Margin::new(2, 2)), buf);
    }
}
