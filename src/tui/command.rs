//! Work the console hands to the engine. Each command may wait: a hold taken while
//! thousands of bot buyers queue for the one writer waits its turn like any buyer. So
//! the runtime runs commands on a worker thread, in order, and the drawing never stalls;
//! the outcome comes back as an [`Action::Done`]. Tests run them inline.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::app::Action;
use crate::engine::{CounterSnapshot, Engine};
use crate::error::{Error, Result};
use crate::hold::{Hold, Order};
use crate::ids::HoldId;
use crate::lab::ui::{LabMove, LabView, Mode};
use crate::monitor::{self, MayReturn};
use crate::strategy::Strategy;
use crate::swarm::{self, SwarmConfig, SwarmHandle, SwarmReport};

pub enum Command {
    Reserve {
        sku: String,
        buyer: String,
    },
    Checkout(Hold),
    Release(Hold),
    Extend(Hold),
    Restock {
        sku: String,
        available: i64,
    },
    Reset,
    SetStrategy(Strategy),
    SetTtl(Duration),
    Launch {
        config: Box<SwarmConfig>,
        strategy: Strategy,
        /// Reset the sale first, so the run starts from full stock.
        fresh: bool,
    },
    /// Collects a finished swarm's report (read from the database).
    Join(Box<SwarmHandle>),
    /// A move in the lab: its statements run on the lab's own scratch database.
    Lab(Arc<Mutex<LabView>>, LabMove),
}

/// A swarm that started.
pub struct Launched {
    pub handle: SwarmHandle,
    pub sku: String,
    pub strategy: Strategy,
    pub counters_before: CounterSnapshot,
    pub fresh: bool,
}

/// What a command came to.
pub enum Outcome {
    Reserved {
        sku: String,
        result: Result<Hold>,
        /// For a sold-out answer: what may still come back.
        may_return: Option<MayReturn>,
    },
    Paid {
        hold: HoldId,
        result: Result<Order>,
    },
    Released {
        hold: HoldId,
        result: Result<()>,
    },
    Extended {
        hold: HoldId,
        result: Result<Hold>,
    },
    Restocked {
        sku: String,
        available: i64,
        result: Result<()>,
    },
    Reset(Result<()>),
    StrategySet(Strategy, Result<()>),
    TtlSet(Duration, Result<()>),
    Launched(Box<Result<Launched>>),
    Joined(Box<Result<SwarmReport>>),
    /// The lab made a move; the screen it shows now.
    Lab(Option<Mode>),
}

impl Command {
    /// Runs the command to its end (it may wait on the database). Without an engine (a
    /// read-only console) only the lab's moves run.
    pub fn run(self, engine: Option<&Engine>) -> Option<Action> {
        let command = match self {
            Command::Lab(view, m) => return Some(Action::Done(lab_move(&view, m))),
            other => other,
        };
        Some(command.run_on(engine?))
    }

    fn run_on(self, engine: &Engine) -> Action {
        Action::Done(match self {
            Command::Reserve { sku, buyer } => {
                let result = engine.reserve(&sku, &buyer, 1);
                let may_return = match &result {
                    Err(Error::SoldOut { .. }) => engine.product(&sku).ok().and_then(|p| {
                        let conn = engine.store().conn().ok()?;
                        monitor::may_return(&conn, p.id).ok()
                    }),
                    _ => None,
                };
                Outcome::Reserved {
                    sku,
                    result,
                    may_return,
                }
            }
            Command::Checkout(hold) => Outcome::Paid {
                hold: hold.id,
                result: engine.checkout(&hold),
            },
            Command::Release(hold) => Outcome::Released {
                hold: hold.id,
                result: engine.release(&hold),
            },
            Command::Extend(hold) => Outcome::Extended {
                hold: hold.id,
                result: engine.extend(hold.id, &hold.buyer),
            },
            Command::Restock { sku, available } => Outcome::Restocked {
                result: engine.restock(&sku, available),
                sku,
                available,
            },
            Command::Reset => Outcome::Reset(engine.reset()),
            Command::SetStrategy(s) => Outcome::StrategySet(s, engine.set_strategy(s)),
            Command::SetTtl(ttl) => Outcome::TtlSet(ttl, engine.set_hold_ttl(ttl)),
            Command::Launch {
                config,
                strategy,
                fresh,
            } => Outcome::Launched(Box::new(launch(engine, &config, strategy, fresh))),
            Command::Join(handle) => Outcome::Joined(Box::new(handle.join())),
            Command::Lab(view, m) => lab_move(&view, m),
        })
    }
}

fn lab_move(view: &Mutex<LabView>, m: LabMove) -> Outcome {
    let mut view = view.lock();
    view.apply(m);
    Outcome::Lab(view.mode())
}

fn launch(
    engine: &Engine,
    config: &SwarmConfig,
    strategy: Strategy,
    fresh: bool,
) -> Result<Launched> {
    if fresh {
        engine.reset()?;
    }
    engine.set_strategy(strategy)?;
    let counters_before = engine.counters();
    let handle = swarm::start(engine, config)?;
    Ok(Launched {
        handle,
        sku: config.sku.clone(),
        strategy,
        counters_before,
        fresh,
    })
}
