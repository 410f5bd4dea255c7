//! Dialogs drawn over the current tab: help, the swarm launcher, restock, reset.

use ratatui::buffer::Buffer;
use ratatui::layout::{Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::app::App;
use super::form::{Modal, SwarmForm};
use super::format::{self, thousands};
use super::theme::Theme;
use super::ui::panel;

pub fn render(app: &App, modal: &Modal, area: Rect, buf: &mut Buffer) {
    match modal {
        Modal::Help { scroll } => super::help::render(app, *scroll, area, buf),
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
        Modal::Reset => confirm_reset(
            app,
            "Reset the sale?".to_owned(),
            (" Reset ", "reset", "keep everything"),
            area,
            buf,
        ),
        Modal::ConfirmFresh(form) => confirm_reset(
            app,
            format!(
                "Reset the sale, then launch {} buyers?",
                thousands(form.buyers.value)
            ),
            (
                " Start from a fresh sale ",
                "reset and launch",
                "back to the form",
            ),
            area,
            buf,
        ),
        Modal::Ttl(field) => {
            let t = app.theme();
            let secs = std::time::Duration::from_secs(field.value);
            let lines = vec![
                Line::styled("Hold TTL for new holds, in seconds", t.dim),
                Line::raw(""),
                Line::from(vec![
                    Span::raw("   "),
                    Span::styled(format!(" {} s ", thousands(field.value)), t.selected),
                    Span::styled(format!("  = {}", format::ttl(secs)), t.value),
                ]),
                Line::raw(""),
                Line::styled(
                    format!(
                        "{} s to {} s; holds already taken keep theirs. ←→ presets, digits type.",
                        thousands(field.min),
                        thousands(field.max)
                    ),
                    t.dim,
                ),
                keys_line(t, &[("Enter", "set"), ("Esc", "cancel")]),
            ];
            render_box(t, " Hold TTL ", &lines, 56, area, buf);
        }
        Modal::Warp(field) => {
            let t = app.theme();
            let ttl = app.ttl().unwrap_or(std::time::Duration::from_secs(600));
            let warp = field.value.max(1);
            let real = std::time::Duration::from_millis(
                u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX) / warp,
            );
            let lines = vec![
                Line::styled("Sale time runs this many times faster", t.dim),
                Line::raw(""),
                Line::from(vec![
                    Span::raw("   "),
                    Span::styled(format!(" ×{} ", thousands(field.value)), t.selected),
                    Span::styled(
                        format!(
                            "  a {} hold lasts {} of real time",
                            format::ttl(ttl),
                            format::span(i64::try_from(real.as_millis()).unwrap_or(0))
                        ),
                        t.value,
                    ),
                ]),
                Line::raw(""),
                Line::styled(
                    format!(
                        "×{} to ×{}; stored times stay real. ←→ presets, digits type.",
                        field.min,
                        thousands(field.max)
                    ),
                    t.dim,
                ),
                keys_line(t, &[("Enter", "set"), ("Esc", "cancel")]),
            ];
            render_box(t, " Warp ", &lines, 56, area, buf);
        }
    }
}

/// A reset asks for `y` and says what it deletes; `words` are the title, what `y` does
/// and what `n` does.
fn confirm_reset(
    app: &App,
    question: String,
    words: (&str, &str, &str),
    area: Rect,
    buf: &mut Buffer,
) {
    let t = app.theme();
    let (title, yes, no) = words;
    let mut lines = vec![Line::styled(question, t.value), Line::raw("")];
    lines.extend(at_stake(app));
    lines.push(Line::raw(""));
    lines.push(keys_line(t, &[("y", yes), ("n Esc", no)]));
    render_box(t, title, &lines, 56, area, buf);
}

/// What a reset would delete, in numbers.
fn at_stake(app: &App) -> Vec<Line<'static>> {
    let t = app.theme();
    let sold: i64 = app.snapshot.stock.iter().map(|s| s.sold).sum();
    let held: i64 = app.snapshot.stock.iter().map(|s| s.held).sum();
    let mut lines = Vec::new();
    if sold + held > 0 {
        lines.push(Line::styled(
            format!(
                "It deletes the orders of {} sold units and the holds of {} held units.",
                format::thousands_i(sold),
                format::thousands_i(held)
            ),
            t.danger,
        ));
    } else {
        lines.push(Line::styled(
            "Nothing is sold or held: nothing is lost.",
            t.text,
        ));
    }
    lines.push(Line::styled(
        "Every product goes back to its full stock.",
        t.text,
    ));
    lines
}

fn keys_line(t: &Theme, keys: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, label) in keys {
        spans.push(Span::styled((*key).to_owned(), t.key));
        spans.push(Span::styled(format!(" {label}   "), t.dim));
    }
    Line::from(spans)
}

/// A centred box sized to its lines as they wrap, so the keys at the bottom always show.
fn render_box(t: &Theme, title: &str, lines: &[Line], width: u16, area: Rect, buf: &mut Buffer) {
    // The text gets the width less the margins (see `inner` below).
    let rows = Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.saturating_sub(2).max(1));
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width + 4, height + 2);
    Clear.render(rect, buf);
    let block = panel(t, title.to_owned(), true);
    let inner = block.inner(rect).inner(Margin::new(2, 1));
    block.render(rect, buf);
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The arrival model, and how long arrivals last at that rate.
fn arrival_text(form: &SwarmForm) -> String {
    match form.rate.value {
        0 => "a burst: everyone at once".to_owned(),
        rate => {
            let ms = form.buyers.value.saturating_mul(1000) / rate;
            format!(
                "{}/s for {} (open model)",
                thousands(rate),
                format::span(i64::try_from(ms).unwrap_or(i64::MAX))
            )
        }
    }
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
            "{} {} available at the start",
            thousands(form.stock.value),
            if form.stock.value == 1 {
                "unit"
            } else {
                "units"
            }
        ),
        form.strategy.label(),
        form.behaviour().0.to_owned(),
        arrival_text(form),
        if form.retry {
            "retry while held units may come back".to_owned()
        } else {
            "walk away when sold out".to_owned()
        },
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
