//! The Sale tab, the dashboard: the alarm (when the books do not balance), the focus
//! product's numbers large with its stock over time, every product's stock, the metrics
//! with their charts, the active holds counting down, and the order feed.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};

use super::app::App;
use super::panels;

/// Where each panel of the Sale tab goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleAreas {
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
    let oversold = app.snapshot.oversold().count();
    let alarm_rows = if oversold == 0 {
        0
    } else {
        u16::try_from(oversold).unwrap_or(1).min(3) + 2
    };
    let products = u16::try_from(app.snapshot.stock.len()).unwrap_or(3).max(1);
    let [alarm, hero, rest] = body.layout(&Layout::vertical([
        Constraint::Length(alarm_rows),
        Constraint::Length(6),
        Constraint::Fill(1),
    ]));
    // The big numbers take what they need (at least 3/5 of the width); the chart the rest.
    let needed = panels::hero::width_needed(app);
    let [hero, chart] = hero.layout(&Layout::horizontal([
        Constraint::Min(needed.max(body.width * 3 / 5)),
        Constraint::Fill(1),
    ]));
    let [left, right] = rest.layout(&Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Fill(1),
    ]));
    let [stock, metrics] = left.layout(&Layout::vertical([
        Constraint::Length(products.min(6) + 2),
        Constraint::Fill(1),
    ]));
    let [holds, orders] = right.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Fill(1),
    ]));
    SaleAreas {
        alarm,
        hero,
        chart,
        stock,
        metrics,
        holds,
        orders,
    }
}

pub fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let SaleAreas {
        alarm,
        hero,
        chart,
        stock,
        metrics,
        holds,
        orders,
    } = areas(app, body);
    panels::alarm::render(app, alarm, buf);
    panels::hero::render(app, hero, buf);
    panels::chart::render(app, chart, buf);
    panels::stock::render(app, stock, buf);
    panels::metrics::render(app, metrics, buf);
    panels::holds::render(app, holds, buf);
    panels::orders::render(app, orders, buf);
}
