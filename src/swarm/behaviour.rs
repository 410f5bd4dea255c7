//! What a bot buyer does once it holds a unit, drawn from its own seeded generator so a
//! run with the same `--seed` behaves the same whatever the thread schedule.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pay,
    /// Walks away: the hold expires and its unit goes to the next buyer.
    Abandon,
    /// Removes the item from the cart: the unit goes back at once.
    Cancel,
    /// The payment is declined; the buyer gives up and the hold is released.
    PayFail,
}

/// Weights of each action (normalised; they need not sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Behaviour {
    pub pay: f64,
    pub abandon: f64,
    pub cancel: f64,
    pub pay_fail: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            pay: 1.0,
            abandon: 0.0,
            cancel: 0.0,
            pay_fail: 0.0,
        }
    }
}

impl Behaviour {
    /// The weights as the command line gives them: with none, everybody pays; once one
    /// is given, the others are 0 (`--abandon 1` alone: every buyer walks away).
    pub fn from_flags(
        pay: Option<f64>,
        abandon: Option<f64>,
        cancel: Option<f64>,
        pay_fail: Option<f64>,
    ) -> Behaviour {
        if [pay, abandon, cancel, pay_fail].iter().all(Option::is_none) {
            return Behaviour::default();
        }
        Behaviour {
            pay: pay.unwrap_or(0.0),
            abandon: abandon.unwrap_or(0.0),
            cancel: cancel.unwrap_or(0.0),
            pay_fail: pay_fail.unwrap_or(0.0),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let all = [self.pay, self.abandon, self.cancel, self.pay_fail];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err("--pay, --abandon, --cancel and --pay-fail must be numbers >= 0".into());
        }
        if all.iter().sum::<f64>() <= 0.0 {
            return Err(
                "at least one of --pay, --abandon, --cancel, --pay-fail must be above 0".into(),
            );
        }
        Ok(())
    }

    pub fn pick(&self, rng: &mut SmallRng) -> Action {
        let total = self.pay + self.abandon + self.cancel + self.pay_fail;
        let mut roll = rng.random::<f64>() * total;
        for (weight, action) in [
            (self.abandon, Action::Abandon),
            (self.cancel, Action::Cancel),
            (self.pay_fail, Action::PayFail),
        ] {
            if roll < weight {
                return action;
            }
            roll -= weight;
        }
        Action::Pay
    }
}

/// The generator of buyer `index` in a run seeded with `seed`.
pub fn buyer_rng(seed: u64, index: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_choices() {
        let b = Behaviour {
            pay: 0.5,
            abandon: 0.3,
            cancel: 0.1,
            pay_fail: 0.1,
        };
        let picks = |seed| {
            (0..200)
                .map(|i| b.pick(&mut buyer_rng(seed, i)))
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(7), picks(7));
        assert_ne!(picks(7), picks(8));
        let abandons = picks(7).iter().filter(|a| **a == Action::Abandon).count();
        assert!((30..=90).contains(&abandons), "{abandons}");
    }

    #[test]
    fn one_flag_given_sets_the_others_to_zero() {
        let none = Behaviour::from_flags(None, None, None, None);
        assert_eq!(none, Behaviour::default());
        let walk = Behaviour::from_flags(None, Some(1.0), None, None);
        let picks: Vec<_> = (0..100).map(|i| walk.pick(&mut buyer_rng(1, i))).collect();
        assert!(picks.iter().all(|a| *a == Action::Abandon), "{picks:?}");
        let mix = Behaviour::from_flags(Some(6.0), Some(3.0), Some(1.0), None);
        assert!((mix.pay_fail).abs() < f64::EPSILON);
        assert!(
            Behaviour::from_flags(Some(-1.0), None, None, None)
                .validate()
                .is_err()
        );
        assert!(
            Behaviour::from_flags(None, Some(f64::NAN), None, None)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn all_zero_is_refused() {
        let b = Behaviour {
            pay: 0.0,
            ..Behaviour::default()
        };
        assert!(b.validate().is_err());
    }
}
