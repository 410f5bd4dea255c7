//! The Sale tab, the dashboard: the alarm (when the books do not balance), the focus
//! product's numbers large with its stock over time, every product's stock, the metrics
//! with their charts, the active holds counting down, and the order feed.
//!
//! The tab's state ([`SaleState`]), its keys ([`key`]), what they do ([`update`]) and
//! its drawing ([`render`], with one module per panel in [`crate::tui::panels`]).

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};

use crate::strategy::Strategy;
use crate::tui::app::{Action, App, Tone};
use crate::tui::command::{Command, Outcome};
use crate::tui::form::{Modal, NumberField, TTL_BOUNDS, WARP_BOUNDS};
use crate::tui::{format, keys, panels, run};

/// Which list of the Sale tab the arrow keys move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalePanel {
    Holds,
    Orders,
}

#[derive(Debug, Clone)]
pub struct SaleState {
    pub focus: SalePanel,
    /// First active hold shown (deadline order).
    pub holds_scroll: usize,
    /// First order shown (newest first).
    pub orders_scroll: usize,
    /// The product the big numbers, the chart and a new swarm are about.
    pub product: usize,
    /// The user chose the product (p, or a launch): stop following the activity.
    pub product_pinned: bool,
}

/// The Sale tab's keys.
pub fn key(key: KeyEvent) -> Option<Action> {
    if let Some(action) = keys::list_key(key) {
        return Some(action);
    }
    Some(match key.code {
        KeyCode::Left | KeyCode::Char('h') => Action::FocusPrev,
        KeyCode::Right | KeyCode::Char('l') => Action::FocusNext,
        KeyCode::Char('n') | KeyCode::Enter => Action::OpenSwarmForm,
        KeyCode::Char('x') => Action::StopSwarm,
        KeyCode::Char('s') => Action::NextStrategy,
        KeyCode::Char('S') => Action::PrevStrategy,
        KeyCode::Char('p') => Action::NextProduct,
        KeyCode::Char('P') => Action::PrevProduct,
        KeyCode::Char('r') => Action::OpenRestock,
        KeyCode::Char('R') => Action::AskReset,
        KeyCode::Char('t' | 'T') => Action::OpenTtl,
        KeyCode::Char('w' | 'W') => Action::OpenWarp,
        _ => return None,
    })
}

/// What the Sale tab's actions do.
pub fn update(app: &mut App, action: Action) {
    match action {
        Action::FocusNext | Action::FocusPrev => {
            app.sale.focus = match app.sale.focus {
                SalePanel::Holds => SalePanel::Orders,
                SalePanel::Orders => SalePanel::Holds,
            };
        }
        Action::NextProduct | Action::PrevProduct => {
            let n = app.snapshot.stock.len().max(1);
            let step = if matches!(action, Action::NextProduct) {
                1
            } else {
                n - 1
            };
            app.sale.product = (app.sale.product + step) % n;
            app.sale.product_pinned = true;
        }
        Action::OpenSwarmForm => run::open_swarm_form(app),
        Action::StopSwarm => {
            if app.swarm.is_some() {
                app.stop_swarm();
                app.say(
                    Tone::Info,
                    "Stopping the swarm: buyers finish their current step",
                );
            } else {
                app.say(Tone::Info, "No swarm is running (n launches one)");
            }
        }
        Action::NextStrategy | Action::PrevStrategy => {
            if !app.live() {
                return;
            }
            let now = app.strategy.unwrap_or(Strategy::Immediate);
            // While the sale is served, the strategies the API cannot sell with are
            // passed over.
            let all: Vec<_> = Strategy::ALL
                .into_iter()
                .filter(|s| *s == now || app.servable(*s))
                .collect();
            let i = all.iter().position(|s| *s == now).unwrap_or(0);
            let next = if matches!(action, Action::NextStrategy) {
                all[(i + 1) % all.len()]
            } else {
                all[(i + all.len() - 1) % all.len()]
            };
            app.queue(Command::SetStrategy(next));
        }
        Action::OpenRestock => {
            if !app.live() {
                return;
            }
            if let Some(p) = app.focus_product() {
                let value = u64::try_from(p.total.max(p.available)).unwrap_or(50);
                app.modal = Some(Modal::Restock {
                    sku: p.sku.clone(),
                    field: NumberField::new(value),
                });
            }
        }
        Action::AskReset => {
            if !app.live() {
                return;
            }
            if app.swarm.is_some() {
                app.say(
                    Tone::Warn,
                    "A swarm is running: stop it first (x), then reset",
                );
                return;
            }
            app.modal = Some(Modal::Reset);
        }
        Action::OpenTtl => {
            if !app.live() {
                return;
            }
            let now = app.ttl().map_or(600, |d| d.as_secs());
            app.modal = Some(Modal::Ttl(NumberField::bounded(
                now,
                TTL_BOUNDS.0,
                TTL_BOUNDS.1,
            )));
        }
        Action::OpenWarp => {
            if !app.live() {
                return;
            }
            let now = u64::from(app.clock.warp());
            app.modal = Some(Modal::Warp(NumberField::bounded(
                now,
                WARP_BOUNDS.0,
                WARP_BOUNDS.1,
            )));
        }
        _ => {}
    }
}

/// Says what the new warp means for a hold.
fn warp_set(app: &mut App, warp: u32) {
    let ttl = app.ttl().unwrap_or(Duration::from_secs(600));
    let real = Duration::from_millis(u64::try_from(app.clock.scaled(ttl)).unwrap_or(0));
    app.say(
        Tone::Info,
        format!(
            "Warp ×{warp}: a {} hold now lasts {} of real time (new holds)",
            format::ttl(ttl),
            format::countdown(real)
        ),
    );
}

/// What the engine said to a change made on this tab.
pub fn done(app: &mut App, outcome: Outcome) {
    match outcome {
        Outcome::Restocked {
            sku,
            available,
            result,
        } => match result {
            Ok(()) => app.say(
                Tone::Good,
                format!("{sku} restocked: {available} units available"),
            ),
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        Outcome::Reset(result) => match result {
            Ok(()) => {
                app.shop.mine.clear();
                app.shop.note = None;
                app.sale.holds_scroll = 0;
                app.sale.orders_scroll = 0;
                app.say(
                    Tone::Good,
                    "Sale reset: holds and orders deleted, every product back to its full stock",
                );
                app.refresh_soon();
            }
            Err(e) => app.say(Tone::Bad, format!("Reset failed: {e}")),
        },
        Outcome::StrategySet(strategy, result) => match result {
            Ok(()) => {
                app.strategy = Some(strategy);
                let tone = if strategy.is_safe() {
                    Tone::Info
                } else {
                    Tone::Bad
                };
                app.say(
                    tone,
                    format!("Strategy {}: {}", strategy.label(), strategy.summary()),
                );
            }
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        Outcome::WarpSet(warp, result) => match result {
            Ok(()) => warp_set(app, warp),
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        Outcome::TtlSet(ttl, result) => match result {
            Ok(()) => {
                if let Some(rules) = &mut app.snapshot.rules {
                    rules.hold_ttl = ttl;
                }
                app.say(
                    Tone::Info,
                    format!(
                        "Hold TTL {} for new holds (extensions may reach the sale's longest hold)",
                        format::ttl(ttl)
                    ),
                );
            }
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        _ => {}
    }
}

/// Until the user picks a product, the big numbers follow where the sale happens: the
/// product of the newest order, else of the hold that expires first.
pub fn follow_activity(app: &mut App) {
    let snap = &app.snapshot;
    let busy = snap
        .orders
        .first()
        .map(|o| o.product_id)
        .or_else(|| snap.holds.first().map(|h| h.product_id));
    if let Some(i) = busy.and_then(|id| snap.stock.iter().position(|s| s.product_id == id)) {
        app.sale.product = i;
    }
}

/// Where each panel of the Sale tab goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleAreas {
    /// How the audience joins a served sale: a row, or a panel with the QR code.
    pub join: Rect,
    pub join_qr: bool,
    pub alarm: Rect,
    pub hero: Rect,
    pub chart: Rect,
    pub stock: Rect,
    pub metrics: Rect,
    pub holds: Rect,
    pub orders: Rect,
}

/// Lays the tab out in `body`: fixed heights for what must always show, the rest to the
/// lists that scroll.
pub fn areas(app: &App, body: Rect) -> SaleAreas {
    let (join, join_qr, body) = join_area(app, body);
    let large = panels::hero::large(body);
    let oversold = app.snapshot.oversold().count();
    let alarm_rows = if oversold == 0 {
        0
    } else {
        u16::try_from(oversold).unwrap_or(1).min(3) + 2
    };
    let products = u16::try_from(app.snapshot.stock.len()).unwrap_or(3).max(1);
    let [alarm, hero, rest] = body.layout(&Layout::vertical([
        Constraint::Length(alarm_rows),
        Constraint::Length(if large { 9 } else { 6 }),
        Constraint::Fill(1),
    ]));
    let [left, right] = rest.layout(&Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Fill(1),
    ]));
    let (hero, chart, stock, metrics) = if large {
        // A projector: the numbers across the whole width, the chart large under the
        // metrics (which need about ten rows) instead of beside the numbers.
        let [stock, metrics, chart] = left.layout(&Layout::vertical([
            Constraint::Length(products.min(6) + 2),
            Constraint::Length(10),
            Constraint::Fill(1),
        ]));
        (hero, chart, stock, metrics)
    } else {
        // The big numbers take what they need (at least 3/5 of the width); the chart the
        // rest.
        let needed = panels::hero::width_needed(app, large);
        let [hero, chart] = hero.layout(&Layout::horizontal([
            Constraint::Min(needed.max(body.width * 3 / 5)),
            Constraint::Fill(1),
        ]));
        let [stock, metrics] = left.layout(&Layout::vertical([
            Constraint::Length(products.min(6) + 2),
            Constraint::Fill(1),
        ]));
        (hero, chart, stock, metrics)
    };
    let [holds, orders] = right.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Fill(1),
    ]));
    SaleAreas {
        join,
        join_qr,
        alarm,
        hero,
        chart,
        stock,
        metrics,
        holds,
        orders,
    }
}

/// Width the dashboard keeps beside the QR code: below it, the code gives way to a row.
const DASHBOARD_MIN_WIDTH: u16 = 100;

/// Where a served sale's join panel goes, and the body left for the dashboard: a column
/// on the right with the QR code where it fits, else one row on top.
fn join_area(app: &App, body: Rect) -> (Rect, bool, Rect) {
    let Some(served) = &app.served else {
        return (Rect::default(), false, body);
    };
    let (qr_w, qr_h) = served.qr_size();
    // The code, the URL and the web buyers' line inside a border.
    let (w, h) = (qr_w.max(32) + 2, qr_h + 4);
    if qr_w > 0 && body.width >= w + DASHBOARD_MIN_WIDTH && body.height >= h {
        let [rest, column] = body.layout(&Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(w),
        ]));
        let [join, _] = column.layout(&Layout::vertical([
            Constraint::Length(h),
            Constraint::Fill(1),
        ]));
        (join, true, rest)
    } else {
        let [join, rest] = body.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
        ]));
        (join, false, rest)
    }
}

pub fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let SaleAreas {
        join,
        join_qr,
        alarm,
        hero,
        chart,
        stock,
        metrics,
        holds,
        orders,
    } = areas(app, body);
    if let Some(served) = &app.served {
        if join_qr {
            panels::join::render_panel(app, served, join, buf);
        } else {
            panels::join::render_strip(app, served, join, buf);
        }
    }
    panels::alarm::render(app, alarm, buf);
    panels::hero::render(app, hero, buf);
    panels::chart::render(app, chart, buf);
    panels::stock::render(app, stock, buf);
    panels::metrics::render(app, metrics, buf);
    panels::holds::render(app, holds, buf);
    panels::orders::render(app, orders, buf);
}
