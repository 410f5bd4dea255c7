//! The help overlay: every key, by where it works, in two columns that scroll together
//! when the screen is short (80×24 shows most; `j`, PgDn and `G` reach the rest, and
//! never scroll past the last line).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::app::App;
use super::dialog::centered;
use super::theme::Theme;
use super::ui::panel;

type Section = (&'static str, &'static [(&'static str, &'static str)]);

/// Left: what works everywhere, in dialogs and in the lab.
const LEFT: &[Section] = &[
    (
        "Everywhere",
        &[
            ("Tab ⇧Tab", "next / previous tab"),
            ("1 2 3 4", "Sale Store Lab Compare"),
            ("?", "this help"),
            ("q ^C", "quit (stops a swarm)"),
            ("Esc", "close a dialog · go back"),
            ("↑↓ j k", "move up / down"),
            ("PgUp PgDn", "move by a page"),
            ("g G", "top / bottom (Home End)"),
            ("wheel", "scroll the list under it"),
        ],
    ),
    (
        "Dialogs",
        &[
            ("↑↓ Tab", "field"),
            ("←→ + -", "change; digits type"),
            ("Enter", "confirm"),
            ("y", "confirm a reset (only y)"),
            ("Esc n", "cancel"),
        ],
    ),
];

/// Right: the sale's tabs.
const RIGHT: &[Section] = &[
    (
        "Sale",
        &[
            ("n Enter", "launch a swarm…"),
            ("x", "stop the swarm"),
            ("s S", "strategy (naive: UNSAFE)"),
            ("p P", "product in focus"),
            ("r", "restock that product"),
            ("R", "reset the sale (asks)"),
            ("t", "hold TTL (type seconds)"),
            ("w", "warp (type ×N)"),
            ("f", "freeze the display"),
            ("← → h l", "holds / orders list"),
        ],
    ),
    (
        "Storefront",
        &[
            ("↑↓", "choose a product"),
            ("a Enter", "add to cart (a hold)"),
            ("p", "pay"),
            ("e", "extend the hold"),
            ("c Del", "cancel (unit goes back)"),
        ],
    ),
    (
        "Compare",
        &[("↑↓", "select a run"), ("e", "export the table (file)")],
    ),
];

fn lines(t: &Theme, sections: &[Section]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (title, keys) in sections {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*title, t.title));
        for (key, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("{key:<10}"), t.key),
                Span::styled(*what, t.text),
            ]));
        }
    }
    lines
}

fn columns(t: &Theme) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let mut left = LEFT.to_vec();
    left.push(("Lab", crate::lab::ui::key_hints()));
    (lines(t, &left), lines(t, RIGHT))
}

/// The furthest the help scrolls in a tab body `body_height` rows high: its last line
/// at the bottom, never blank space.
pub fn max_scroll(t: &Theme, body_height: u16) -> u16 {
    let (left, right) = columns(t);
    let longest = left.len().max(right.len());
    let visible = usize::from(body_height.saturating_sub(2));
    u16::try_from(longest.saturating_sub(visible)).unwrap_or(u16::MAX)
}

pub fn render(app: &App, scroll: u16, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let rect = centered(area, 76, area.height);
    Clear.render(rect, buf);
    let (left_lines, right_lines) = columns(t);
    let max = max_scroll(t, rect.height);
    let scroll = scroll.min(max);
    let mut block = panel(t, " Help ", true).title_top(
        Line::from(vec![
            Span::styled(" ? ", t.key),
            Span::styled("or Esc closes ", t.dim),
        ])
        .right_aligned(),
    );
    if scroll < max {
        block = block.title_bottom(
            Line::from(vec![
                Span::styled(" j ↓ G ", t.key),
                Span::styled("more ", t.dim),
            ])
            .right_aligned(),
        );
    } else if scroll > 0 {
        block = block.title_bottom(
            Line::from(vec![
                Span::styled(" k ↑ g ", t.key),
                Span::styled("back ", t.dim),
            ])
            .right_aligned(),
        );
    }
    let inner = block.inner(rect).inner(Margin::new(1, 0));
    block.render(rect, buf);
    let [left, right] =
        inner.layout(&Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).spacing(2));
    Paragraph::new(left_lines)
        .scroll((scroll, 0))
        .render(left, buf);
    Paragraph::new(right_lines)
        .scroll((scroll, 0))
        .render(right, buf);
}
