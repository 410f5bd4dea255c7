//! The console's dialogs and what their keys do: the swarm launcher (buyers, stock,
//! strategy, behaviour), restock, hold TTL, warp, the reset confirmations, and the help
//! overlay. Nothing that deletes orders happens on Enter: only `y` confirms a reset.

use super::app::Tone;
use super::app::{App, FormKey};
use super::command::Command;
use crate::hold::Stock;
use crate::strategy::Strategy;
use crate::swarm::Behaviour;

pub enum Modal {
    Help {
        scroll: u16,
    },
    Swarm(SwarmForm),
    /// The form asked for a fresh sale while the sale has holds or orders: reset first?
    ConfirmFresh(SwarmForm),
    Restock {
        sku: String,
        field: NumberField,
    },
    Reset,
    /// The hold TTL for new holds, in seconds.
    Ttl(NumberField),
    /// The clock's warp factor.
    Warp(NumberField),
}

/// Hold TTLs the dialog accepts, in seconds: a second up to a day.
pub const TTL_BOUNDS: (u64, u64) = (1, 86_400);
/// Warp factors the dialog accepts: a 10-minute hold lasts a second at ×600, 0.17 s at
/// ×3600; beyond that the sweeper's pace is the hold.
pub const WARP_BOUNDS: (u64, u64) = (1, 3_600);
const TTL_PRESETS: [u64; 8] = [10, 15, 20, 30, 60, 120, 300, 600];
const WARP_PRESETS: [u64; 5] = [1, 10, 60, 300, 600];

/// A whole number typed digit by digit, or stepped through presets with ←/→; never
/// above its maximum, and the presets stop at the ends instead of wrapping around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberField {
    pub value: u64,
    /// The next digit replaces the value instead of extending it (just focused).
    fresh: bool,
    /// The smallest value a submit accepts (typing passes through smaller ones).
    pub min: u64,
    pub max: u64,
}

impl NumberField {
    pub const MAX: u64 = 1_000_000;

    pub fn new(value: u64) -> Self {
        Self::bounded(value, 0, Self::MAX)
    }

    pub fn bounded(value: u64, min: u64, max: u64) -> Self {
        NumberField {
            value: value.clamp(min, max),
            fresh: true,
            min,
            max,
        }
    }

    /// Below its minimum, a value is not accepted yet.
    pub fn acceptable(&self) -> bool {
        self.value >= self.min
    }

    fn digit(&mut self, d: u8) {
        let base = if self.fresh { 0 } else { self.value };
        self.value = base
            .saturating_mul(10)
            .saturating_add(u64::from(d))
            .min(self.max);
        self.fresh = false;
    }

    fn backspace(&mut self) {
        self.value /= 10;
        self.fresh = false;
    }

    fn step(&mut self, presets: &[u64], up: bool) {
        self.value = if up {
            presets.iter().copied().find(|p| *p > self.value)
        } else {
            presets.iter().rev().copied().find(|p| *p < self.value)
        }
        .unwrap_or(self.value)
        .clamp(self.min, self.max);
        self.fresh = true;
    }
}

/// What the bots do once they hold a unit.
pub const BEHAVIOURS: [(&str, Behaviour); 3] = [
    (
        "everyone pays",
        Behaviour {
            pay: 1.0,
            abandon: 0.0,
            cancel: 0.0,
            pay_fail: 0.0,
        },
    ),
    (
        "1 in 5 walks away",
        Behaviour {
            pay: 0.8,
            abandon: 0.2,
            cancel: 0.0,
            pay_fail: 0.0,
        },
    ),
    (
        "mixed: 60 pay, 20 walk, 10 cancel, 10 declined",
        Behaviour {
            pay: 0.6,
            abandon: 0.2,
            cancel: 0.1,
            pay_fail: 0.1,
        },
    ),
];

const BUYER_PRESETS: [u64; 7] = [100, 500, 1000, 2000, 5000, 10_000, 50_000];
const STOCK_PRESETS: [u64; 6] = [1, 10, 20, 50, 100, 200];
/// Arrivals per second; 0 is a burst.
const RATE_PRESETS: [u64; 7] = [0, 10, 50, 100, 500, 1000, 5000];

#[derive(Debug, Clone, PartialEq)]
pub struct SwarmForm {
    /// The focused field (see [`SwarmForm::FIELDS`]).
    pub field: usize,
    pub product: usize,
    pub buyers: NumberField,
    pub stock: NumberField,
    pub strategy: Strategy,
    pub behaviour: usize,
    /// Buyers arriving per second (an open model); 0: all at once.
    pub rate: NumberField,
    /// Losers try again while held units may still come back: a human in the
    /// Storefront then races bots that do not give up either.
    pub retry: bool,
    /// Reset the sale before the run.
    pub fresh: bool,
    /// The user typed the stock: it no longer follows the product.
    pub stock_typed: bool,
}

impl SwarmForm {
    pub const FIELDS: [&'static str; 8] = [
        "Product",
        "Buyers",
        "Stock",
        "Strategy",
        "Behaviour",
        "Arrival",
        "Losers",
        "Start from",
    ];

    /// The form for `product` of the sale `stock`; it continues the sale as it is until
    /// the user asks for a fresh one.
    pub fn new(product: usize, strategy: Strategy, stock: &[Stock]) -> Self {
        let mut form = SwarmForm {
            field: 1,
            product,
            buyers: NumberField::new(5000),
            stock: NumberField::new(0),
            strategy,
            behaviour: 0,
            rate: NumberField::new(0),
            retry: false,
            fresh: false,
            stock_typed: false,
        };
        form.follow(stock);
        form
    }

    /// Until the user types a stock, it is what the chosen product has: its units
    /// available now when the sale goes on, its total after a reset. So changing the
    /// product never restocks it with another product's number.
    fn follow(&mut self, stock: &[Stock]) {
        if self.stock_typed {
            return;
        }
        if let Some(s) = stock.get(self.product) {
            let units = if self.fresh { s.total } else { s.available };
            self.stock = NumberField::new(u64::try_from(units).unwrap_or(0));
        }
    }

    pub fn behaviour(&self) -> (&'static str, Behaviour) {
        BEHAVIOURS[self.behaviour % BEHAVIOURS.len()]
    }

    fn change(&mut self, up: bool, stock: &[Stock]) {
        let cycle = |i: usize, n: usize| {
            if up { (i + 1) % n } else { (i + n - 1) % n }
        };
        match self.field {
            0 => {
                self.product = cycle(self.product, stock.len().max(1));
                self.follow(stock);
            }
            1 => self.buyers.step(&BUYER_PRESETS, up),
            2 => self.stock.step(&STOCK_PRESETS, up),
            3 => {
                let all = Strategy::ALL;
                let i = all.iter().position(|s| *s == self.strategy).unwrap_or(0);
                self.strategy = all[cycle(i, all.len())];
            }
            4 => self.behaviour = cycle(self.behaviour, BEHAVIOURS.len()),
            5 => self.rate.step(&RATE_PRESETS, up),
            6 => self.retry = !self.retry,
            _ => {
                self.fresh = !self.fresh;
                self.follow(stock);
            }
        }
    }

    fn number(&mut self) -> Option<&mut NumberField> {
        match self.field {
            1 => Some(&mut self.buyers),
            2 => Some(&mut self.stock),
            5 => Some(&mut self.rate),
            _ => None,
        }
    }
}

/// A key inside the open dialog.
pub fn on_key(app: &mut App, key: FormKey) {
    let Some(modal) = app.modal.take() else {
        return;
    };
    app.modal = match modal {
        Modal::Help { .. } => None,
        Modal::Swarm(form) => swarm_key(app, form, key),
        Modal::ConfirmFresh(form) => match key {
            FormKey::Yes => {
                super::run::launch(app, &form);
                None
            }
            FormKey::No => Some(Modal::Swarm(form)),
            // Enter does not delete orders: only y does.
            _ => Some(Modal::ConfirmFresh(form)),
        },
        Modal::Restock { sku, mut field } => {
            if number_key(&mut field, key, &STOCK_PRESETS) {
                app.queue(Command::Restock {
                    sku,
                    available: i64::try_from(field.value).unwrap_or(0),
                });
                None
            } else if key == FormKey::No {
                None
            } else {
                Some(Modal::Restock { sku, field })
            }
        }
        Modal::Reset => match key {
            FormKey::Yes => {
                app.queue(Command::Reset);
                None
            }
            FormKey::No => None,
            _ => Some(Modal::Reset),
        },
        Modal::Ttl(mut field) => match key {
            FormKey::No => None,
            _ if number_key(&mut field, key, &TTL_PRESETS) => {
                app.queue(Command::SetTtl(std::time::Duration::from_secs(field.value)));
                None
            }
            _ => Some(Modal::Ttl(field)),
        },
        Modal::Warp(mut field) => match key {
            FormKey::No => None,
            _ if number_key(&mut field, key, &WARP_PRESETS) => {
                app.queue(Command::SetWarp(u32::try_from(field.value).unwrap_or(1)));
                None
            }
            _ => Some(Modal::Warp(field)),
        },
    };
    if matches!(key, FormKey::Submit | FormKey::Yes)
        && let Some(Modal::Ttl(field) | Modal::Warp(field) | Modal::Restock { field, .. }) =
            &app.modal
        && !field.acceptable()
    {
        let min = field.min;
        app.say(Tone::Warn, format!("At least {min}: type a larger number"));
    }
}

/// Edits a number; true when the user submitted an acceptable value.
fn number_key(field: &mut NumberField, key: FormKey, presets: &[u64]) -> bool {
    match key {
        FormKey::Digit(d) => field.digit(d),
        FormKey::Backspace => field.backspace(),
        FormKey::Left | FormKey::Down => field.step(presets, false),
        FormKey::Right | FormKey::Up => field.step(presets, true),
        FormKey::Submit | FormKey::Yes => return field.acceptable(),
        FormKey::No => {}
    }
    false
}

fn swarm_key(app: &mut App, mut form: SwarmForm, key: FormKey) -> Option<Modal> {
    match key {
        FormKey::Up => {
            form.field = form
                .field
                .checked_sub(1)
                .unwrap_or(SwarmForm::FIELDS.len() - 1);
        }
        FormKey::Down => form.field = (form.field + 1) % SwarmForm::FIELDS.len(),
        FormKey::Left | FormKey::Right => form.change(key == FormKey::Right, &app.snapshot.stock),
        FormKey::Digit(d) => {
            if form.field == 2 {
                form.stock_typed = true;
            }
            if let Some(n) = form.number() {
                n.digit(d);
            }
        }
        FormKey::Backspace => {
            if let Some(n) = form.number() {
                n.backspace();
            }
        }
        FormKey::Submit | FormKey::Yes => {
            // A fresh sale deletes what was sold and held: that is asked, never assumed.
            let at_stake: i64 = app.snapshot.stock.iter().map(|s| s.held + s.sold).sum();
            if form.fresh && at_stake > 0 {
                return Some(Modal::ConfirmFresh(form));
            }
            super::run::launch(app, &form);
            return None;
        }
        FormKey::No => return None,
    }
    Some(Modal::Swarm(form))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_typed_or_stepped() {
        let mut n = NumberField::new(5000);
        n.digit(2);
        n.digit(5);
        assert_eq!(n.value, 25, "typing replaces the preset");
        n.backspace();
        assert_eq!(n.value, 2);
        n.step(&BUYER_PRESETS, true);
        assert_eq!(n.value, 100);
        n.step(&BUYER_PRESETS, false);
        assert_eq!(n.value, 100, "no preset below the first");
    }

    #[test]
    fn bounded_numbers_stop_at_their_ends_and_refuse_too_small() {
        let mut ttl = NumberField::bounded(600, TTL_BOUNDS.0, TTL_BOUNDS.1);
        for d in [9, 9, 9, 9, 9, 9, 9] {
            ttl.digit(d);
        }
        assert_eq!(ttl.value, TTL_BOUNDS.1, "typing past the top stops there");
        let mut zero = NumberField::bounded(20, 1, 3600);
        zero.digit(0);
        assert!(!zero.acceptable(), "0 s is typed but not accepted");
        let mut warp = NumberField::bounded(1, WARP_BOUNDS.0, WARP_BOUNDS.1);
        warp.step(&WARP_PRESETS, false);
        assert_eq!(warp.value, 1, "no wrap-around below ×1");
        warp.value = 600;
        warp.step(&WARP_PRESETS, true);
        assert_eq!(warp.value, 600, "no wrap-around above the last preset");
    }
}
