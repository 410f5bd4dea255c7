//! The focus product's three numbers, large: sold, held and left, of its total. What a
//! room reads from the back.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::tui::app::App;
use crate::tui::format::thousands_i;
use crate::tui::ui::panel;
use crate::tui::widgets::BigNumber;

/// The three figures of the focus product, as drawn.
fn figures(p: &crate::hold::Stock) -> [(&'static str, i64); 3] {
    [("SOLD", p.sold), ("HELD", p.held), ("LEFT", p.available)]
}

/// Columns for each figure drawn large: the number, a margin, and room for the label.
fn column_width(n: i64, large: bool) -> u16 {
    let text = n.max(0).to_string();
    let w = if large {
        BigNumber::large_width(&text)
    } else {
        BigNumber::width(&text)
    };
    w.max(5) + 2
}

/// A projector-sized tab body (a 160×45 screen or larger): the headline numbers in the
/// 5-row font.
pub fn large(body: Rect) -> bool {
    body.width >= 160 && body.height >= 42
}

/// The width the big numbers need, borders included.
pub fn width_needed(app: &App, large: bool) -> u16 {
    app.focus_product().map_or(0, |p| {
        figures(p)
            .iter()
            .map(|(_, n)| column_width(*n, large))
            .sum::<u16>()
            + 2
            + 2
    })
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let Some(p) = app.focus_product() else {
        panel(t, " No products ", false).render(area, buf);
        return;
    };
    let oversold = p.oversold();
    let title = Line::from(vec![
        Span::raw(" "),
        Span::styled(p.sku.clone(), t.title),
        Span::styled(format!(" · {} ", p.name), t.dim),
    ]);
    let mut block = panel(t, title, false).title_top(
        Line::from(vec![
            Span::styled(" of ", t.dim),
            Span::styled(thousands_i(p.total), t.value),
            Span::styled(" ", t.dim),
        ])
        .right_aligned(),
    );
    if oversold > 0 {
        block = block.border_style(t.danger);
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let sold_style = if oversold > 0 { t.danger } else { t.sold };
    let styles: [Style; 3] = [sold_style, t.held, t.available];
    // Each column as wide as its number needs; the spare width spread around them.
    // The layout gives the panel room for the projector font only on a large screen.
    let large = inner.height >= 6;
    let widths = figures(p).map(|(_, n)| Constraint::Length(column_width(n, large)));
    let columns: [Rect; 3] =
        inner.layout(&Layout::horizontal(widths).flex(ratatui::layout::Flex::SpaceAround));
    for ((column, (label, n)), style) in columns.into_iter().zip(figures(p)).zip(styles) {
        let [label_row, number] = column.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
        ]));
        let label = Line::from(vec![
            Span::styled(" ", style),
            Span::styled(label, style.patch(t.value)),
        ]);
        label.render(label_row, buf);
        let text = n.max(0).to_string();
        let number = Rect {
            x: number.x + 1,
            width: number.width.saturating_sub(1),
            ..number
        };
        BigNumber::new(&text)
            .style(style)
            .large(large)
            .render(number, buf);
    }
}
