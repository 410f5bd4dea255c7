//! A number drawn three rows tall with heavy box-drawing strokes, readable from the back
//! of a room. Falls back to one bold line when the area is too small for it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

/// Each glyph is three cells wide and three rows tall.
fn glyph(c: char) -> Option<[&'static str; 3]> {
    Some(match c {
        '0' => ["┏━┓", "┃ ┃", "┗━┛"],
        '1' => ["╺┓ ", " ┃ ", "╺┻╸"],
        '2' => ["┏━┓", "┏━┛", "┗━╸"],
        '3' => ["┏━┓", " ━┫", "┗━┛"],
        '4' => ["╻ ╻", "┗━┫", "  ╹"],
        '5' => ["┏━╸", "┗━┓", "┗━┛"],
        '6' => ["┏━╸", "┣━┓", "┗━┛"],
        '7' => ["┏━┓", "  ┃", "  ╹"],
        '8' => ["┏━┓", "┣━┫", "┗━┛"],
        '9' => ["┏━┓", "┗━┫", "┗━┛"],
        ':' => [" ", "╏", "╏"],
        '+' => ["   ", "╺╋╸", "   "],
        '-' => ["   ", "╺━╸", "   "],
        ' ' => [" ", " ", " "],
        _ => return None,
    })
}

/// The projector font: 3×5 pixels a character, each pixel two columns of `█`, so a
/// figure reads from the back row of a room.
fn block_glyph(c: char) -> Option<[&'static str; 5]> {
    Some(match c {
        '0' => ["###", "# #", "# #", "# #", "###"],
        '1' => [" # ", "## ", " # ", " # ", "###"],
        '2' => ["###", "  #", "###", "#  ", "###"],
        '3' => ["###", "  #", " ##", "  #", "###"],
        '4' => ["# #", "# #", "###", "  #", "  #"],
        '5' => ["###", "#  ", "###", "  #", "###"],
        '6' => ["###", "#  ", "###", "# #", "###"],
        '7' => ["###", "  #", "  #", "  #", "  #"],
        '8' => ["###", "# #", "###", "# #", "###"],
        '9' => ["###", "# #", "###", "  #", "###"],
        ':' => [" ", "#", " ", "#", " "],
        '+' => ["   ", " # ", "###", " # ", "   "],
        '-' => ["   ", "   ", "###", "   ", "   "],
        ' ' => [" ", " ", " ", " ", " "],
        _ => return None,
    })
}

#[derive(Debug, Clone)]
pub struct BigNumber<'a> {
    text: &'a str,
    style: Style,
    /// The 5-row projector font instead of the 3-row one.
    large: bool,
}

impl<'a> BigNumber<'a> {
    pub fn new(text: &'a str) -> Self {
        BigNumber {
            text,
            style: Style::new(),
            large: false,
        }
    }

    /// The 5-row projector font (falls back to the 3-row one where it does not fit).
    pub fn large(mut self, large: bool) -> Self {
        self.large = large;
        self
    }

    /// Columns the projector font takes for `text`.
    pub fn large_width(text: &str) -> u16 {
        let mut w = 0usize;
        for (i, c) in text.chars().enumerate() {
            let g = block_glyph(c).map_or(1, |g| g[0].len() * 2);
            w += g + 2 * usize::from(i > 0);
        }
        u16::try_from(w).unwrap_or(u16::MAX)
    }

    fn fits_large(&self, area: Rect) -> bool {
        area.height >= 5
            && Self::large_width(self.text) <= area.width
            && self.text.chars().all(|c| block_glyph(c).is_some())
    }

    pub fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// Cells needed to draw `text` big (glyphs plus one column between them).
    pub fn width(text: &str) -> u16 {
        let mut w = 0usize;
        for (i, c) in text.chars().enumerate() {
            let g = glyph(c).map_or(1, |g| g[0].chars().count());
            w += g + usize::from(i > 0);
        }
        u16::try_from(w).unwrap_or(u16::MAX)
    }

    fn fits(&self, area: Rect) -> bool {
        area.height >= 3
            && Self::width(self.text) <= area.width
            && self.text.chars().all(|c| glyph(c).is_some())
    }
}

impl Widget for BigNumber<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        if self.large && self.fits_large(area) {
            let mut x = area.x;
            for c in self.text.chars() {
                let Some(rows) = block_glyph(c) else { continue };
                for (dy, row) in (0u16..).zip(rows) {
                    let pixels: String = row
                        .chars()
                        .map(|p| if p == '#' { "██" } else { "  " })
                        .collect();
                    buf.set_string(x, area.y + dy, pixels, self.style);
                }
                x += u16::try_from(rows[0].len() * 2 + 2).unwrap_or(0);
            }
            return;
        }
        if !self.fits(area) {
            buf.set_stringn(area.x, area.y, self.text, area.width.into(), self.style);
            return;
        }
        let mut x = area.x;
        for c in self.text.chars() {
            let Some(rows) = glyph(c) else { continue };
            let w = u16::try_from(rows[0].chars().count()).unwrap_or(0);
            for (dy, row) in (0u16..).zip(rows) {
                buf.set_string(x, area.y + dy, row, self.style);
            }
            x += w + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(text: &str, w: u16, h: u16) -> Vec<String> {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        BigNumber::new(text).render(area, &mut buf);
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_owned())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn draws_digits_three_rows_tall() {
        assert_eq!(BigNumber::width("50"), 7);
        assert_eq!(draw("50", 7, 3), ["┏━╸ ┏━┓", "┗━┓ ┃ ┃", "┗━┛ ┗━┛"]);
    }

    #[test]
    fn the_projector_font_is_five_rows_of_blocks() {
        assert_eq!(BigNumber::large_width("50"), 14);
        let area = Rect::new(0, 0, 14, 5);
        let mut buf = Buffer::empty(area);
        BigNumber::new("50").large(true).render(area, &mut buf);
        let row = |y| {
            (0..14)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
        };
        assert_eq!(row(0), "██████  ██████");
        assert_eq!(row(2), "██████  ██  ██");
        // Where it does not fit, the 3-row font.
        let small = draw("50", 7, 3);
        assert_eq!(small[0], "┏━╸ ┏━┓");
    }

    #[test]
    fn falls_back_to_one_line_when_cramped() {
        assert_eq!(draw("1234", 6, 3)[0], "1234  ");
        assert_eq!(draw("50", 7, 2)[0], "50     ");
    }
}
