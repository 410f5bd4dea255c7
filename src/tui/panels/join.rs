//! How the audience joins a sale this console serves (`tui --serve`): the URL, its QR
//! code where the screen has room for one, and what the web buyers have so far, so the
//! room sees itself race the swarm.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

use crate::monitor::WebBuyers;
use crate::tui::app::App;
use crate::tui::format::thousands;
use crate::tui::ui::panel;

/// The address the console serves on, and its QR code drawn once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub url: String,
    /// The QR code in Unicode half blocks, one string per row; empty if the URL does
    /// not fit in one (then the URL alone is shown).
    pub qr: Vec<String>,
}

impl Served {
    pub fn new(url: impl Into<String>) -> Served {
        let url = url.into();
        // Level L keeps a LAN URL at version 2 (25 modules): the smallest code a phone
        // reads across a room. A projector's screen has no dirt to correct for.
        let qr = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::L)
            .map(|code| {
                code.render::<Dense1x2>()
                    // Light modules drawn as blocks: the code reads right on a dark
                    // terminal, and the cells are coloured black on white where colour
                    // is on, so a light terminal shows it right too.
                    .dark_color(Dense1x2::Light)
                    .light_color(Dense1x2::Dark)
                    .build()
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Served { url, qr }
    }

    /// The QR code's size in cells.
    pub fn qr_size(&self) -> (u16, u16) {
        let width = self.qr.first().map_or(0, |l| l.chars().count());
        (
            u16::try_from(width).unwrap_or(u16::MAX),
            u16::try_from(self.qr.len()).unwrap_or(u16::MAX),
        )
    }
}

/// "web buyers: 3 holds, 1 order".
pub fn web_line(web: WebBuyers) -> String {
    let plural =
        |n: u64, one: &str| format!("{} {one}{}", thousands(n), if n == 1 { "" } else { "s" });
    format!(
        "web buyers: {}, {}",
        plural(web.holds, "hold"),
        plural(web.orders, "order")
    )
}

/// One row above the dashboard where there is no room for the code.
pub fn render_strip(app: &App, served: &Served, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    Line::from(vec![
        Span::styled(" Join at ", t.dim),
        Span::styled(served.url.as_str(), t.value),
        Span::styled("  ·  ", t.dim),
        Span::styled(web_line(app.snapshot.web), t.text),
    ])
    .render(area, buf);
}

/// The panel with the code, the URL under it and the web buyers' count.
pub fn render_panel(app: &App, served: &Served, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let block = panel(t, " Join the sale ", false);
    let inner = block.inner(area);
    block.render(area, buf);
    let qr_style = if t.color {
        Style::new().fg(Color::White).bg(Color::Black)
    } else {
        Style::new()
    };
    let mut lines: Vec<Line> = served
        .qr
        .iter()
        .map(|row| Line::styled(row.as_str(), qr_style).centered())
        .collect();
    lines.push(Line::styled(served.url.as_str(), t.value).centered());
    lines.push(Line::styled(web_line(app.snapshot.web), t.text).centered());
    Paragraph::new(lines).render(inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lan_url_makes_a_small_square_code() {
        let served = Served::new("http://192.168.100.200:65535/");
        let (w, h) = served.qr_size();
        // 25 modules and a quiet zone of 4 each side; two modules a row.
        assert_eq!((w, h), (33, 17));
        assert!(served.qr.iter().all(|r| r.chars().count() == 33));
    }

    #[test]
    fn the_web_line_counts_in_words() {
        assert_eq!(
            web_line(WebBuyers {
                holds: 3,
                orders: 1
            }),
            "web buyers: 3 holds, 1 order"
        );
        assert_eq!(
            web_line(WebBuyers::default()),
            "web buyers: 0 holds, 0 orders"
        );
    }
}
