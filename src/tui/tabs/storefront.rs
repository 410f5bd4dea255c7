//! The Storefront tab: the user is a buyer racing the bots. Pick a product, add it to
//! the cart, watch your own hold count down (large), extend it, pay, or cancel; the shop
//! says plainly what happened.
//!
//! The tab's state ([`ShopState`], the buyer's own holds), its keys, what they do and
//! what the shop says back; its drawing in `draw.rs`.

mod draw;

pub use draw::render;

use crate::clock::Millis;
use crate::error::Error;
use crate::hold::{Hold, HoldKind};
use crate::monitor;
use crate::tui::app::{Action, App, Note, Tone};
use crate::tui::command::{Command, Outcome};
use crate::tui::keys;
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
