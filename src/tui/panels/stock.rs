//! Every product's stock as a stacked bar (sold, held, left) with its numbers; the
//! focus product marked.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::tui::app::App;
use crate::tui::format::thousands_i;
use crate::tui::ui::panel;
use crate::tui::widgets::StockBar;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let legend = Line::from(vec![
        Span::styled(t.glyph_sold, t.sold),
        Span::styled("sold ", t.dim),
        Span::styled(t.glyph_held, t.held),
        Span::styled("held ", t.dim),
        Span::styled(t.glyph_available, t.available),
        Span::styled("left ", t.dim),
    ])
    .right_aligned();
    let block = panel(t, " Stock ", false).title_top(legend);
    let inner = block.inner(area);
    block.render(area, buf);
    let focus = app.focus_product().map(|p| p.product_id);
    for (i, s) in app.snapshot.stock.iter().enumerate() {
        let Ok(dy) = u16::try_from(i) else { break };
        if dy >= inner.height {
            break;
        }
        let row = Rect::new(inner.x, inner.y + dy, inner.width, 1);
        let numbers = format!(
            "{:>4}/{:<4}",
            thousands_i(s.available),
            thousands_i(s.total)
        );
        let [mark, sku, bar, _, figures] = row.layout(&Layout::horizontal([
            Constraint::Length(1),
            Constraint::Length(9),
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(u16::try_from(crate::tui::text::width(&numbers)).unwrap_or(9)),
        ]));
        let focused = focus == Some(s.product_id);
        if focused {
            Span::styled("▸", t.key).render(mark, buf);
        }
        let sku_style = if s.oversold() > 0 {
            t.danger
        } else if focused {
            t.value
        } else {
            t.text
        };
        Span::styled(crate::tui::text::fit(&s.sku, 8), sku_style).render(sku, buf);
        StockBar {
            available: s.available,
            held: s.held,
            sold: s.sold,
            total: s.total,
            theme: t,
        }
        .render(bar, buf);
        let style = if s.available == 0 { t.danger } else { t.text };
        Span::styled(numbers, style).render(figures, buf);
    }
}
