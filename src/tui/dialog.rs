//! Dialogs drawn over the current tab: help, the swarm launcher, restock, reset.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::app::App;
use super::form::{Modal, SwarmForm};
use super::format::thousands;
use super::theme::Theme;
use super::ui::panel;

pub fn render(app: &App, modal: &Modal, area: Rect, buf: &mut Buffer) {
    match modal {
        Modal::Help { scroll } => render_help(app, *scroll, area, buf),
        Modal::Swarm(form) => render_swarm(app, form, area, buf),
        Modal::Restock { sku, field } => {
            let t = app.theme();
            let lines = vec![
                Line::from(vec![
                    Span::styled("Set the units of ", t.dim),
                    Span::styled(sku.clone(), t.value),
                    Span::styled(" still on sale to", t.dim),
                ]),
                Line::raw(""),
                Line::from(vec![
                    Span::raw("   "),
                    Span::styled(format!(" {} ", thousands(field.value)), t.selected),
                    Span::styled("  ←→ presets · type digits", t.dim),
                ]),
                Line::raw(""),
                Line::styled("Holds and orders are kept; the total follows.", t.dim),
                keys_line(t, &[("Enter", "restock"), ("Esc", "cancel")]),
            ];
            render_box(t, " Restock ", &lines, 56, area, buf);
        }
        Modal::Reset => {
            let t = app.theme();
            let lines = vec![
                Line::styled("Reset the sale?", t.value),
                Line::raw(""),
                Line::styled(
                    "Every hold and order is deleted and every product goes back to its full stock.",
                    t.text,
                ),
                Line::raw(""),
                keys_line(t, &[("y", "reset"), ("n", "keep everything")]),
            ];
            render_box(t, " Reset ", &lines, 56, area, buf);
        }
    }
}

fn keys_line(t: &Theme, keys: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, label) in keys {
        spans.push(Span::styled((*key).to_owned(), t.key));
        spans.push(Span::styled(format!(" {label}   "), t.dim));
    }
    Line::from(spans)
}

/// A centred box sized to its lines.
fn render_box(t: &Theme, title: &str, lines: &[Line], width: u16, area: Rect, buf: &mut Buffer) {
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width + 4, height + 2);
    Clear.render(rect, buf);
    let block = panel(t, title.to_owned(), true);
    let inner = block.inner(rect).inner(Margin::new(2, 1));
    block.render(rect, buf);
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn render_swarm(app: &App, form: &SwarmForm, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let product = app
        .snapshot
        .stock
        .get(form.product)
        .map_or_else(String::new, |s| format!("{} · {}", s.sku, s.name));
    let values = [
        product,
        thousands(form.buyers.value),
        format!(
            "{} units available at the start",
            thousands(form.stock.value)
        ),
        form.strategy.label(),
        form.behaviour().0.to_owned(),
        if form.fresh {
            "a fresh sale (reset first)".to_owned()
        } else {
            "the sale as it is".to_owned()
        },
    ];
    let mut lines = Vec::new();
    for (i, (name, value)) in SwarmForm::FIELDS.iter().zip(values).enumerate() {
        let focused = i == form.field;
        let marker = if focused { "▸ " } else { "  " };
        let value_style = if i == 3 && !form.strategy.is_safe() {
            t.danger
        } else if focused {
            t.selected
        } else {
            t.value
        };
        lines.push(Line::from(vec![
            Span::styled(marker, t.key),
            Span::styled(format!("{name:<11}"), t.dim),
            Span::styled(if focused { "◂ " } else { "  " }, t.key),
            Span::styled(value, value_style),
            Span::styled(if focused { " ▸" } else { "" }, t.key),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(form.strategy.summary(), t.dim));
    if !form.strategy.is_safe() {
        lines.push(Line::styled(
            "naive oversells on purpose: watch for the red alarm",
            t.danger,
        ));
    } else {
        lines.push(Line::raw(""));
    }
    lines.push(keys_line(
        t,
        &[
            ("Enter", "launch"),
            ("↑↓", "field"),
            ("←→", "change"),
            ("Esc", "cancel"),
        ],
    ));
    render_box(t, " New swarm ", &lines, 62, area, buf);
}

/// Every key, by where it works.
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("Tab ⇧Tab", "next / previous tab"),
            ("1 2 3 4", "Sale Store Lab Compare"),
            ("?", "this help"),
            ("q Esc ^C", "quit (stops the swarm)"),
            ("↑↓ j k", "move up / down"),
            ("PgUp PgDn", "move by a page"),
            ("g G", "top / bottom (Home End)"),
            ("wheel", "scroll the list under it"),
        ],
    ),
    (
        "Sale",
        &[
            ("n Enter", "launch a swarm…"),
            ("x", "stop the swarm"),
            ("s S", "strategy (naive: UNSAFE)"),
            ("p P", "product in focus"),
            ("r", "restock that product"),
            ("R", "reset the sale"),
            ("t T", "hold TTL longer/shorter"),
            ("w W", "warp ×1 … ×600"),
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
        "Dialogs",
        &[
            ("↑↓ Tab", "field"),
            ("←→ + -", "change; digits type"),
            ("Enter y", "confirm"),
            ("Esc n", "cancel"),
        ],
    ),
];

fn render_help(app: &App, scroll: u16, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let rect = centered(area, 76, area.height);
    Clear.render(rect, buf);
    let section = |sections: &[(&str, &[(&str, &str)])]| -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        for (title, keys) in sections {
            if !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled((*title).to_owned(), t.title));
            for (key, what) in *keys {
                lines.push(Line::from(vec![
                    Span::styled(format!("{key:<10}"), t.key),
                    Span::styled((*what).to_owned(), t.text),
                ]));
            }
        }
        lines
    };
    // Left: what works everywhere, in dialogs and in the lab; right: the sale's tabs.
    let (everywhere, rest) = HELP.split_at(1.min(HELP.len()));
    let (tabs, dialogs) = rest.split_at(2.min(rest.len()));
    let mut left_sections: Vec<(&str, &[(&str, &str)])> = everywhere.to_vec();
    left_sections.extend_from_slice(dialogs);
    left_sections.push(("Lab", crate::lab::ui::key_hints()));
    let left_lines = section(&left_sections);
    let right_lines = section(tabs);
    let block = panel(t, " Help ", true).title_top(
        Line::from(vec![
            Span::styled(" ? ", t.key),
            Span::styled("or Esc closes ", t.dim),
        ])
        .right_aligned(),
    );
    let inner = block.inner(rect).inner(Margin::new(1, 0));
    let longest = left_lines.len().max(right_lines.len());
    let block = if longest > usize::from(inner.height) + usize::from(scroll) {
        block.title_bottom(
            Line::from(vec![
                Span::styled(" j ↓ ", t.key),
                Span::styled("more ", t.dim),
            ])
            .right_aligned(),
        )
    } else {
        block
    };
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
