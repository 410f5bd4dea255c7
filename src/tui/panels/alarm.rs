//! The oversell alarm: a red band across the screen the moment any product's books stop
//! balancing (`available + held + sold > total`), naming the product, the excess and the
//! equation, until the sale is reset.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::tui::app::App;
use crate::tui::format::thousands_i;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = app.theme();
    buf.set_style(area, t.alarm);
    let mut lines = Vec::new();
    let oversold: Vec<_> = app.snapshot.oversold().collect();
    let heading = match oversold.as_slice() {
        [one] => format!(
            " ⚠  OVERSOLD — {}: {} more units held or sold than exist",
            one.name,
            thousands_i(one.oversold())
        ),
        many => format!(
            " ⚠  OVERSOLD — {} products sold beyond their stock",
            many.len()
        ),
    };
    lines.push(Line::from(Span::styled(heading, t.alarm)));
    for s in oversold
        .iter()
        .take(usize::from(area.height.saturating_sub(2)).max(1))
    {
        lines.push(Line::from(Span::styled(
            format!(
                "    {}: available {} + held {} + sold {} = {} > total {}",
                s.sku,
                thousands_i(s.available),
                thousands_i(s.held),
                thousands_i(s.sold),
                thousands_i(s.available + s.held + s.sold),
                thousands_i(s.total)
            ),
            t.alarm,
        )));
    }
    // A monitor cannot reset: it says where the fix is made.
    let fix = if app.read_only() {
        "The console that sells can reset the sale."
    } else {
        "R resets the sale."
    };
    let why = match app.strategy {
        Some(s) if !s.is_safe() => format!(
            "    {}: buyers read one stock value and each wrote it back. {fix}",
            s.name()
        ),
        _ => format!("    The books do not balance: run `flashsale audit`. {fix}"),
    };
    lines.push(Line::from(Span::styled(why, t.alarm)));
    Paragraph::new(lines).render(area, buf);
}
