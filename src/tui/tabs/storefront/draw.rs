//! Drawing the Storefront: the products, the buyer's cart with its countdown, and what
//! the shop says.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::MyStatus;
use crate::hold::HoldKind;
use crate::tui::app::App;
use crate::tui::format::{countdown, span, thousands, thousands_i, time_of_day};
use crate::tui::panels::holds::countdown_style;
use crate::tui::run::RunState;
use crate::tui::text::fit;
use crate::tui::ui::{panel, tone_style};
use crate::tui::widgets::BigNumber;

pub fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let [top, note] = body.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(4),
    ]));
    let [products, cart] = top.layout(&Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Fill(1),
    ]));
    render_products(app, products, buf);
    render_cart(app, cart, buf);
    render_note(app, note, buf);
}

fn render_products(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let block =
        panel(t, " Products ", true).title_top(Line::styled(" ↑↓ choose ", t.dim).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    for (i, s) in app.snapshot.stock.iter().enumerate() {
        let y = inner.y + u16::try_from(i * 3).unwrap_or(u16::MAX);
        if y + 1 >= inner.bottom() {
            break;
        }
        let selected = i == app.shop.selected;
        let row = Rect::new(inner.x, y, inner.width, 2);
        if selected {
            buf.set_style(row, t.selected);
        }
        let price = app
            .snapshot
            .prices
            .iter()
            .find(|(id, _)| *id == s.product_id)
            .map(|(_, cents)| *cents);
        let mark = if selected { "▸ " } else { "  " };
        let mut first = vec![
            Span::styled(mark, t.key),
            Span::styled(
                fit(&s.name, usize::from(inner.width).saturating_sub(14)),
                t.value,
            ),
        ];
        if let Some(cents) = price {
            first.push(Span::styled(
                format!("  ${}.{:02}", cents / 100, cents % 100),
                t.dim,
            ));
        }
        Line::from(first).render(Rect::new(row.x, row.y, row.width, 1), buf);
        let stock = if s.available == 0 {
            Span::styled("SOLD OUT", t.danger)
        } else {
            Span::styled(
                format!(
                    "{} of {} left",
                    thousands_i(s.available),
                    thousands_i(s.total)
                ),
                t.available,
            )
        };
        let mut second = vec![
            Span::raw("  "),
            Span::styled(format!("{} · ", s.sku), t.dim),
            stock,
        ];
        if s.held > 0 {
            second.push(Span::styled(
                format!(" · {} held", thousands_i(s.held)),
                t.held,
            ));
        }
        Line::from(second).render(Rect::new(row.x, row.y + 1, row.width, 1), buf);
    }
}

fn render_cart(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let title = Line::from(vec![
        Span::styled(" Your cart ", t.title),
        Span::styled(format!("· buyer \"{}\" ", app.options.buyer), t.dim),
    ]);
    let block = panel(t, title, false);
    let inner = block.inner(area).inner(Margin::new(1, 0));
    block.render(area, buf);
    if app.read_only() {
        Paragraph::new(vec![
            Line::styled("Read-only monitor", t.warn),
            Line::styled(
                "This console watches a sale another process runs; buying is done there.",
                t.dim,
            ),
        ])
        .wrap(Wrap { trim: true })
        .render(inner, buf);
        return;
    }
    let Some(product) = app.shop_product() else {
        return;
    };
    let [current, history] = inner.layout(&Layout::vertical([
        Constraint::Length(7),
        Constraint::Fill(1),
    ]));
    match app.my_active_hold() {
        Some(mine) => {
            let left = app.time_left(mine.hold.expires_at);
            let ttl = app
                .snapshot
                .rules
                .as_ref()
                .map_or(std::time::Duration::from_secs(600), |r| r.hold_ttl);
            let style = countdown_style(t, left, ttl);
            let [name, clock, facts, keys] = current.layout(&Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(3),
                Constraint::Length(1),
                Constraint::Length(1),
            ]));
            Line::from(vec![
                // Pay-first holds nothing: the unit is only claimed at payment.
                Span::styled(
                    if mine.hold.kind == HoldKind::Cart {
                        "in your cart, not held (claimed when you pay): "
                    } else {
                        "held for you: "
                    },
                    t.dim,
                ),
                Span::styled(product.name.clone(), t.value),
            ])
            .render(name, buf);
            let text = countdown(left);
            BigNumber::new(&text).style(style).render(clock, buf);
            let max_ext = app.snapshot.rules.as_ref().map_or(0, |r| r.max_extensions);
            Line::from(vec![
                Span::styled("until ", t.dim),
                Span::raw(time_of_day(mine.hold.expires_at, app.options.utc)),
                Span::styled(
                    format!(" · extended {} of {max_ext}", mine.extensions),
                    t.dim,
                ),
            ])
            .render(facts, buf);
            Line::from(vec![
                Span::styled("p", t.key),
                Span::styled(" pay   ", t.dim),
                Span::styled("e", t.key),
                Span::styled(" extend   ", t.dim),
                Span::styled("c", t.key),
                Span::styled(" cancel", t.dim),
            ])
            .render(keys, buf);
        }
        None => {
            let bought = app
                .shop
                .mine
                .iter()
                .any(|m| m.status == MyStatus::Paid && m.hold.product_id == product.product_id);
            let mut lines = vec![
                Line::from(if bought {
                    vec![
                        Span::styled("✓ You bought ", t.ok),
                        Span::styled(product.name.clone(), t.value),
                    ]
                } else {
                    vec![
                        Span::styled("Nothing in your cart for ", t.dim),
                        Span::styled(product.name.clone(), t.value),
                    ]
                }),
                Line::raw(""),
            ];
            if bought {
                lines.push(Line::styled(
                    "Another one? a tries (the sale may limit each buyer)",
                    t.dim,
                ));
            } else if product.available > 0 {
                lines.push(Line::from(vec![
                    Span::styled("a", t.key),
                    Span::styled(" add to cart — beat the bots to it", t.dim),
                ]));
            } else {
                lines.push(Line::from(vec![
                    Span::styled("Sold out right now: ", t.danger),
                    Span::styled("a", t.key),
                    Span::styled(" tries anyway", t.dim),
                ]));
            }
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .render(current, buf);
        }
    }
    let mut lines = Vec::new();
    for mine in app.shop.mine.iter().rev() {
        let name = app
            .snapshot
            .product(mine.hold.product_id)
            .map_or_else(String::new, |s| s.sku.clone());
        let line = match mine.status {
            MyStatus::Active => continue,
            MyStatus::Paid => Line::from(vec![
                Span::styled("✓ paid     ", t.ok),
                Span::raw(name),
                Span::styled(
                    mine.paid_at
                        .map(|p| format!("  {} after add-to-cart", span(p - mine.hold.created_at)))
                        .unwrap_or_default(),
                    t.dim,
                ),
            ]),
            MyStatus::Expired => {
                Line::from(vec![Span::styled("✗ expired  ", t.danger), Span::raw(name)])
            }
            MyStatus::Released => {
                Line::from(vec![Span::styled("· removed  ", t.dim), Span::raw(name)])
            }
        };
        lines.push(line);
    }
    if !lines.is_empty() {
        lines.insert(0, Line::styled("Earlier", t.dim));
    }
    Paragraph::new(lines).render(history, buf);
}

fn render_note(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let block = panel(t, " Shop says ", false);
    let inner = block.inner(area).inner(Margin::new(1, 0));
    block.render(area, buf);
    let mut lines = Vec::new();
    match &app.shop.note {
        Some(note) => lines.push(Line::styled(note.text.clone(), tone_style(t, note.tone))),
        None => lines.push(Line::styled(
            "Pick a product and add it to your cart; a hold keeps it yours for a while.",
            t.dim,
        )),
    }
    let race = match &app.run {
        Some(run) if run.state != RunState::Finished => format!(
            "Racing run {} of {} bots ({}): {} done",
            run.number,
            thousands(run.buyers),
            run.strategy.name(),
            thousands(run.live.buyers_done)
        ),
        _ if app.read_only() => "This monitor runs no bots; the selling console does".into(),
        _ => "No bots are buying now: launch a swarm on the Sale tab (n) and race it".into(),
    };
    lines.push(Line::styled(race, t.dim));
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}
