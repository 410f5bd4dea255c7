//! One product's stock as a stacked bar: sold, then held, then still available, each a
//! share of the cells. When the books do not balance (an oversell) the three add up to
//! more than the total, and the bar is scaled to their sum so nothing is hidden.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy)]
pub struct StockBar<'t> {
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub total: i64,
    pub theme: &'t Theme,
}

impl StockBar<'_> {
    /// Cells for sold, held and available out of `width`.
    pub fn split(&self, width: u16) -> (u16, u16, u16) {
        let (a, h, s) = (self.available.max(0), self.held.max(0), self.sold.max(0));
        let scale = self.total.max(a + h + s).max(1);
        let cells = |n: i64| -> i64 {
            let c = (n * i64::from(width) + scale / 2) / scale;
            // Anything above zero shows at least one cell.
            if n > 0 { c.max(1) } else { c }
        };
        let mut parts = [cells(s), cells(h), cells(a)];
        // Rounding up the small ones can overflow the width: take the excess from the
        // largest part.
        while parts.iter().sum::<i64>() > i64::from(width) {
            let Some(largest) = parts.iter_mut().max() else {
                break;
            };
            if *largest <= 1 {
                break;
            }
            *largest -= 1;
        }
        let [sold, held, available] = parts.map(|p| u16::try_from(p).unwrap_or(0));
        (sold, held, available)
    }
}

impl Widget for StockBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let (sold, held, available) = self.split(area.width);
        let t = self.theme;
        let mut x = area.x;
        for (n, glyph, style) in [
            (sold, t.glyph_sold, t.sold),
            (held, t.glyph_held, t.held),
            (available, t.glyph_available, t.available),
        ] {
            for _ in 0..n {
                buf.set_string(x, area.y, glyph, style);
                x += 1;
            }
        }
        // What is left is stock nobody can buy any more (sold out): a thin track.
        while x < area.right() {
            buf.set_string(x, area.y, "·", t.border);
            x += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::THEME;

    #[test]
    fn shares_add_up() {
        let bar = |available, held, sold, total| StockBar {
            available,
            held,
            sold,
            total,
            theme: &THEME,
        };
        assert_eq!(bar(50, 0, 0, 50).split(20), (0, 0, 20));
        assert_eq!(bar(0, 10, 40, 50).split(20), (16, 4, 0));
        assert_eq!(
            bar(1, 0, 199, 200).split(20),
            (19, 0, 1),
            "a last unit still shows"
        );
        // Oversold: 60 units on the books for a total of 50 fill the bar, none hidden.
        assert_eq!(bar(10, 10, 40, 50).split(30), (20, 5, 5));
    }
}
