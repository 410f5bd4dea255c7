//! Moving through lists: the focused list of the tab (holds or orders on the Sale tab,
//! products in the Storefront, runs in Compare), the help overlay, and the mouse wheel
//! over a panel.

use super::action::Action;
use super::app::{App, SalePanel, Tab};
use super::form::Modal;

/// Scroll, Top, Bottom and the wheel.
pub fn update(app: &mut App, action: &Action) {
    match *action {
        Action::Scroll(by) => {
            if let Some(Modal::Help { scroll }) = app.modal {
                help_scroll(app, i64::from(scroll) + i64::try_from(by).unwrap_or(0));
                return;
            }
            let position = app.position().saturating_add_signed(by);
            app.scroll_to(position);
        }
        Action::Top | Action::Bottom if matches!(app.modal, Some(Modal::Help { .. })) => {
            help_scroll(
                app,
                if matches!(action, Action::Top) {
                    0
                } else {
                    i64::MAX
                },
            );
        }
        Action::Top => app.scroll_to(0),
        Action::Bottom => app.scroll_to(usize::MAX),
        Action::ScrollAt { column, row, down } => scroll_at(app, column, row, down),
        _ => {}
    }
}

impl App {
    fn list_len(&self) -> usize {
        match self.tab {
            Tab::Sale => match self.sale.focus {
                SalePanel::Holds => usize::try_from(self.snapshot.active_holds).unwrap_or(0),
                SalePanel::Orders => self.snapshot.orders.len(),
            },
            Tab::Storefront => self.snapshot.stock.len(),
            Tab::Compare => self.compare.runs.len(),
            Tab::Lab => 0,
        }
    }

    fn scroll_to(&mut self, position: usize) {
        let last = self.list_len().saturating_sub(1);
        let position = position.min(last);
        match self.tab {
            Tab::Sale => match self.sale.focus {
                SalePanel::Holds => self.sale.holds_scroll = position,
                SalePanel::Orders => self.sale.orders_scroll = position,
            },
            Tab::Storefront => self.shop.selected = position,
            Tab::Compare => self.compare.selected = position,
            Tab::Lab => {}
        }
    }

    fn position(&self) -> usize {
        match self.tab {
            Tab::Sale => match self.sale.focus {
                SalePanel::Holds => self.sale.holds_scroll,
                SalePanel::Orders => self.sale.orders_scroll,
            },
            Tab::Storefront => self.shop.selected,
            Tab::Compare => self.compare.selected,
            Tab::Lab => 0,
        }
    }
}

/// Scrolls the help to `to`, within its lines.
fn help_scroll(app: &mut App, to: i64) {
    let body = super::ui::body_area(app, app.area).height;
    let max = super::help::max_scroll(app.theme(), body);
    app.modal = Some(Modal::Help {
        scroll: u16::try_from(to.clamp(0, i64::from(max))).unwrap_or(0),
    });
}

fn scroll_at(app: &mut App, column: u16, row: u16, down: bool) {
    let by = if down { 3 } else { -3 };
    if app.modal.is_some() {
        update(app, &Action::Scroll(by));
        return;
    }
    if app.tab == Tab::Sale {
        let areas = super::ui::sale_areas(app, app.area);
        let at = ratatui::layout::Position::new(column, row);
        if areas.holds.contains(at) {
            app.sale.focus = SalePanel::Holds;
        } else if areas.orders.contains(at) {
            app.sale.focus = SalePanel::Orders;
        } else {
            return;
        }
    }
    update(app, &Action::Scroll(by));
}
