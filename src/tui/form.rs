//! The console's dialogs and what their keys do: the swarm launcher (buyers, stock,
//! strategy, behaviour), restock, the reset confirmation, and the help overlay.

use super::app::{App, FormKey};
use super::command::Command;
use crate::strategy::Strategy;
use crate::swarm::Behaviour;

pub enum Modal {
    Help { scroll: u16 },
    Swarm(SwarmForm),
    Restock { sku: String, field: NumberField },
    Reset,
}

/// A whole number typed digit by digit, or stepped through presets with ←/→.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberField {
    pub value: u64,
    /// The next digit replaces the value instead of extending it (just focused).
    fresh: bool,
}

impl NumberField {
    pub const MAX: u64 = 1_000_000;

    pub fn new(value: u64) -> Self {
        NumberField { value, fresh: true }
    }

    fn digit(&mut self, d: u8) {
        let base = if self.fresh { 0 } else { self.value };
        self.value = (base * 10 + u64::from(d)).min(Self::MAX);
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
        .unwrap_or(self.value);
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

#[derive(Debug, Clone, PartialEq)]
pub struct SwarmForm {
    /// The focused field (see [`SwarmForm::FIELDS`]).
    pub field: usize,
    pub product: usize,
    pub buyers: NumberField,
    pub stock: NumberField,
    pub strategy: Strategy,
    pub behaviour: usize,
    /// Reset the sale before the run.
    pub fresh: bool,
}

impl SwarmForm {
    pub const FIELDS: [&'static str; 6] = [
        "Product",
        "Buyers",
        "Stock",
        "Strategy",
        "Behaviour",
        "Start from",
    ];

    pub fn new(product: usize, strategy: Strategy, stock: i64) -> Self {
        SwarmForm {
            field: 1,
            product,
            buyers: NumberField::new(5000),
            stock: NumberField::new(u64::try_from(stock.clamp(1, 200)).unwrap_or(50)),
            strategy,
            behaviour: 0,
            fresh: true,
        }
    }

    pub fn behaviour(&self) -> (&'static str, Behaviour) {
        BEHAVIOURS[self.behaviour % BEHAVIOURS.len()]
    }

    fn change(&mut self, up: bool, products: usize) {
        let cycle = |i: usize, n: usize| {
            if up { (i + 1) % n } else { (i + n - 1) % n }
        };
        match self.field {
            0 => self.product = cycle(self.product, products.max(1)),
            1 => self.buyers.step(&BUYER_PRESETS, up),
            2 => self.stock.step(&STOCK_PRESETS, up),
            3 => {
                let all = Strategy::ALL;
                let i = all.iter().position(|s| *s == self.strategy).unwrap_or(0);
                self.strategy = all[cycle(i, all.len())];
            }
            4 => self.behaviour = cycle(self.behaviour, BEHAVIOURS.len()),
            _ => self.fresh = !self.fresh,
        }
    }

    fn number(&mut self) -> Option<&mut NumberField> {
        match self.field {
            1 => Some(&mut self.buyers),
            2 => Some(&mut self.stock),
            _ => None,
        }
    }
}

/// A key inside the open dialog.
pub fn on_key(app: &mut App, key: FormKey) {
    let products = app.snapshot.stock.len();
    let Some(modal) = app.modal.as_mut() else {
        return;
    };
    match modal {
        Modal::Help { .. } => {}
        Modal::Swarm(form) => match key {
            FormKey::Up => {
                form.field = form
                    .field
                    .checked_sub(1)
                    .unwrap_or(SwarmForm::FIELDS.len() - 1)
            }
            FormKey::Down => form.field = (form.field + 1) % SwarmForm::FIELDS.len(),
            FormKey::Left | FormKey::Right => form.change(key == FormKey::Right, products),
            FormKey::Digit(d) => {
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
                let form = form.clone();
                app.modal = None;
                super::run::launch(app, &form);
            }
            FormKey::No => app.modal = None,
        },
        Modal::Restock { sku, field } => match key {
            FormKey::Digit(d) => field.digit(d),
            FormKey::Backspace => field.backspace(),
            FormKey::Left | FormKey::Down => field.step(&STOCK_PRESETS, false),
            FormKey::Right | FormKey::Up => field.step(&STOCK_PRESETS, true),
            FormKey::Submit | FormKey::Yes => {
                let command = Command::Restock {
                    sku: sku.clone(),
                    available: i64::try_from(field.value).unwrap_or(0),
                };
                app.modal = None;
                app.queue(command);
            }
            FormKey::No => app.modal = None,
        },
        Modal::Reset => match key {
            FormKey::Yes | FormKey::Submit => {
                app.modal = None;
                app.queue(Command::Reset);
            }
            FormKey::No => app.modal = None,
            _ => {}
        },
    }
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
}
