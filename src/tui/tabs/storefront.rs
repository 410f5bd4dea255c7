//! The Storefront tab: the user is a buyer racing the bots. Pick a product, add it to
//! the cart, watch your own hold count down (large), extend it, pay, or cancel; the shop
//! says plainly what happened.

//!
//! The tab's state ([`ShopState`], the buyer's own holds), its keys, what they do and
//! what the shop says back, and its drawing.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::clock::Millis;
use crate::error::Error;
use crate::hold::{Hold, HoldKind};
use crate::monitor;
use crate::tui::app::{Action, App, Note, Tone};
use crate::tui::command::{Command, Outcome};
use crate::tui::format::{countdown, span, thousands, thousands_i, time_of_day};
use crate::tui::keys;
use crate::tui::panels::holds::countdown_style;
use crate::tui::run::RunState;
use crate::tui::text::fit;
use crate::tui::ui::{panel, tone_style};
use crate::tui::widgets::BigNumber;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

/// A hold's status as the database writes it (`holds.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum MyStatus {
    Active,
    Paid,
    Expired,
    Released,
}

/// A hold the storefront's buyer took.
#[derive(Debug, Clone)]
pub struct MyHold {
    pub hold: Hold,
    pub status: MyStatus,
    pub extensions: i64,
    pub paid_at: Option<Millis>,
}

#[derive(Debug, Clone, Default)]
pub struct ShopState {
    pub selected: usize,
    /// Newest last.
    pub mine: Vec<MyHold>,
    /// What the shop last told the buyer.
    pub note: Option<Note>,
    /// A request is on its way to the engine.
    pub waiting: bool,
}

/// The Storefront's keys.
pub fn key(key: KeyEvent) -> Option<Action> {
    if let Some(action) = keys::list_key(key) {
        return Some(action);
    }
    Some(match key.code {
        KeyCode::Char('a') | KeyCode::Enter => Action::AddToCart,
        KeyCode::Char('e') => Action::Extend,
        KeyCode::Char('p') => Action::Pay,
        KeyCode::Char('c') | KeyCode::Delete | KeyCode::Backspace => Action::Cancel,
        _ => return None,
    })
}

/// What the Storefront's actions do.
pub fn update(app: &mut App, action: &Action) {
    match action {
        Action::AddToCart => add_to_cart(app),
        Action::Extend | Action::Pay | Action::Cancel => on_my_hold(app, action),
        _ => {}
    }
}

impl App {
    /// The storefront's selected product.
    pub fn shop_product(&self) -> Option<&crate::hold::Stock> {
        let n = self.snapshot.stock.len();
        (n > 0).then(|| &self.snapshot.stock[self.shop.selected.min(n - 1)])
    }

    /// The buyer's open hold on the selected product, if any.
    pub fn my_active_hold(&self) -> Option<&MyHold> {
        let product = self.shop_product()?.product_id;
        self.shop
            .mine
            .iter()
            .find(|m| m.status == MyStatus::Active && m.hold.product_id == product)
    }
}

fn add_to_cart(app: &mut App) {
    if !app.live() {
        return;
    }
    let Some(product) = app.shop_product() else {
        return;
    };
    let sku = product.sku.clone();
    app.shop.waiting = true;
    app.shop.note = Some(Note::new(Tone::Info, format!("Adding {sku} to your cart…")));
    let buyer = app.options.buyer.clone();
    app.queue(Command::Reserve { sku, buyer });
}

fn on_my_hold(app: &mut App, action: &Action) {
    if !app.live() {
        return;
    }
    let Some(mine) = app.my_active_hold().cloned() else {
        app.shop.note = Some(Note::new(
            Tone::Info,
            "Nothing in your cart for this product: a adds it",
        ));
        return;
    };
    let hold = mine.hold;
    match action {
        Action::Extend if hold.kind == HoldKind::Cart => {
            app.shop.note = Some(Note::new(
                Tone::Warn,
                "Pay-first has no hold to extend: the unit is only claimed when you pay",
            ));
        }
        Action::Extend => app.queue(Command::Extend(hold)),
        Action::Pay => app.queue(Command::Checkout(hold)),
        _ => app.queue(Command::Release(hold)),
    }
    app.shop.waiting = true;
}

/// Notices what happened to the buyer's own holds since the last reading.
pub fn follow_my_holds(app: &mut App, now: Millis) {
    let mut expired = Vec::new();
    for mine in &mut app.shop.mine {
        if mine.status != MyStatus::Active {
            continue;
        }
        match mine.hold.kind {
            HoldKind::Held => {
                if let Some(f) = app.snapshot.followed.iter().find(|f| f.id == mine.hold.id) {
                    mine.extensions = f.extensions;
                    mine.hold.expires_at = f.expires_at;
                    mine.status = f.status.parse().unwrap_or(MyStatus::Active);
                }
            }
            HoldKind::Cart if now >= mine.hold.expires_at => mine.status = MyStatus::Expired,
            HoldKind::Cart => {}
        }
        if mine.status == MyStatus::Expired {
            expired.push(mine.hold.product_id);
        }
    }
    for product in expired {
        let name = app.product_name(product);
        app.shop.note = Some(Note::new(
            Tone::Bad,
            format!("Your hold on {name} expired: the unit went back on sale. Add it again (a)"),
        ));
    }
}

/// What the engine said to the buyer.
pub fn done(app: &mut App, outcome: Outcome) {
    use crate::tui::format::countdown;
    match outcome {
        Outcome::Reserved {
            sku,
            result,
            may_return,
        } => {
            app.shop.waiting = false;
            let name = app
                .snapshot
                .stock
                .iter()
                .find(|s| s.sku == sku)
                .map_or(sku.clone(), |s| s.name.clone());
            let note = match result {
                Ok(hold) => {
                    let left = countdown(app.clock.sale_time_left(hold.expires_at));
                    let text = if hold.kind == HoldKind::Cart {
                        format!(
                            "{name} is in your cart (pay-first: the unit is claimed when you pay, within {left})"
                        )
                    } else {
                        format!("{name} is yours for {left}: pay (p) before the countdown ends")
                    };
                    app.shop.mine.push(MyHold {
                        hold,
                        status: MyStatus::Active,
                        extensions: 0,
                        paid_at: None,
                    });
                    if app.shop.mine.len() > 12 {
                        app.shop.mine.remove(0);
                    }
                    Note::new(Tone::Good, text)
                }
                Err(Error::SoldOut { .. }) => Note::new(Tone::Bad, sold_out_text(app, may_return)),
                Err(Error::LimitReached { held, limit, .. }) => Note::new(
                    Tone::Warn,
                    format!(
                        "Per-buyer limit: you already have {held} of at most {limit} {name} (in your cart or paid)"
                    ),
                ),
                Err(e) => Note::new(Tone::Bad, e.to_string()),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Paid { hold, result } => {
            app.shop.waiting = false;
            let note = match result {
                Ok(order) => {
                    if let Some(m) = app.shop.mine.iter_mut().find(|m| m.hold.id == hold) {
                        m.status = MyStatus::Paid;
                        m.paid_at = Some(order.paid_at);
                    }
                    let name = app.product_name(order.product_id);
                    Note::new(
                        Tone::Good,
                        format!(
                            "Paid: {name} is yours, {} after you added it to the cart",
                            crate::tui::format::span(order.paid_at - order.held_at)
                        ),
                    )
                }
                Err(e) => my_hold_failed(app, hold, &e),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Released { hold, result } => {
            app.shop.waiting = false;
            let note = match result {
                Ok(()) => {
                    if let Some(m) = app.shop.mine.iter_mut().find(|m| m.hold.id == hold) {
                        m.status = MyStatus::Released;
                    }
                    Note::new(
                        Tone::Info,
                        "Removed from your cart: the unit is back on sale for the others",
                    )
                }
                Err(e) => my_hold_failed(app, hold, &e),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Extended { hold, result } => {
            app.shop.waiting = false;
            let note = match result {
                Ok(extended) => {
                    let left = countdown(app.clock.sale_time_left(extended.expires_at));
                    if let Some(m) = app.shop.mine.iter_mut().find(|m| m.hold.id == hold) {
                        m.hold.expires_at = extended.expires_at;
                        m.extensions += 1;
                    }
                    Note::new(Tone::Good, format!("Extended: your hold now runs {left}"))
                }
                Err(Error::ExtendLimit { why, .. }) => {
                    Note::new(Tone::Warn, format!("Cannot extend again: {why}"))
                }
                Err(e) => my_hold_failed(app, hold, &e),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        _ => {}
    }
}

fn sold_out_text(app: &App, may_return: Option<monitor::MayReturn>) -> String {
    match may_return {
        Some(back) if back.holds > 0 => {
            let last = back.last.unwrap_or(app.clock.now());
            let within = crate::tui::format::countdown(app.clock.sale_time_left(last));
            let holds = if back.holds == 1 {
                "1 hold".to_owned()
            } else {
                format!("{} holds", crate::tui::format::thousands(back.holds))
            };
            format!("Sold out — {holds} may return within {within}")
        }
        _ => "Sold out — every unit is paid for; none can come back".into(),
    }
}

fn my_hold_failed(app: &mut App, hold: crate::ids::HoldId, e: &Error) -> Note {
    let mine = app.shop.mine.iter_mut().find(|m| m.hold.id == hold);
    match e {
        Error::HoldExpired { .. } => {
            if let Some(m) = mine {
                m.status = MyStatus::Expired;
            }
            Note::new(
                Tone::Bad,
                "Too late: your hold expired and the unit went back on sale. Add it again (a)",
            )
        }
        Error::Refunded { product } => {
            if let Some(m) = mine {
                m.status = MyStatus::Released;
            }
            Note::new(
                Tone::Bad,
                format!("Refunded: {product} sold out before your payment went through"),
            )
        }
        Error::HoldClosed { status, .. } => Note::new(
            Tone::Warn,
            format!("That hold is already {status}; nothing changed"),
        ),
        other => Note::new(Tone::Bad, other.to_string()),
    }
}

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
                lines.push(Line::styled("Sold out right now: a tries anyway", t.danger));
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
            thousands(run.done)
        ),
        _ if app.read_only() => "This monitor runs no bots; the selling console does".into(),
        _ => "No bots are buying now: launch a swarm on the Sale tab (n) and race it".into(),
    };
    lines.push(Line::styled(race, t.dim));
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}
