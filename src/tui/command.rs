//! Work the console hands to the engine. Each command may wait: a hold taken while
//! thousands of bot buyers queue for the one writer waits its turn like any buyer. So
//! the runtime runs commands on a worker thread, in order, and the drawing never stalls;
//! the outcome comes back as an [`Action::Done`]. Tests run them inline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::app::Action;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hold::{Hold, Order};
use crate::ids::HoldId;
use crate::journal::RunRow;
use crate::lab::ui::{LabMove, LabView, Mode};
use crate::monitor::MayReturn;
use crate::strategy::Strategy;
use crate::swarm::{self, SwarmConfig, SwarmHandle};

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
    SetWarp(u32),
    /// Says in the database what this console runs (for monitors elsewhere).
    PublishRunning,
    Launch {
        config: Box<SwarmConfig>,
        strategy: Strategy,
        /// Reset the sale first, so the run starts from full stock.
        fresh: bool,
        /// The run's settings, for its row in the journal.
        template: Box<RunRow>,
    },
    /// Collects a finished swarm's report (read from the database) and keeps the run in
    /// the journal.
    Join {
        handle: Box<SwarmHandle>,
        template: Box<RunRow>,
    },
    /// Writes the runs to a file.
    Export {
        runs: Vec<RunRow>,
        path: PathBuf,
    },
    /// A move in the lab: its statements run on the lab's own scratch database.
    Lab(Arc<Mutex<LabView>>, LabMove),
}

/// A swarm that started.
pub struct Launched {
    pub handle: SwarmHandle,
    pub sku: String,
    pub strategy: Strategy,
    pub fresh: bool,
    pub template: Box<RunRow>,
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
    Joined(Box<Result<RunRow>>),
    WarpSet(u32, Result<()>),
    Exported(usize, Result<PathBuf>),
    /// Nothing to tell (the running settings were published).
    Quiet,
    /// The lab made a move; the screen it shows now.
    Lab(Option<Mode>),
}

impl Command {
    /// Runs the command to its end (it may wait on the database). Without an engine (a
    /// read-only console) only the lab's moves and exports run. Changes to the sale are
    /// noted in the operator log as `who`'s.
    pub fn run(self, engine: Option<&Engine>, who: &str) -> Option<Action> {
        let command = match self {
            Command::Lab(view, m) => return Some(Action::Done(lab_move(&view, m))),
            Command::Export { runs, path } => {
                let n = runs.len();
                return Some(Action::Done(Outcome::Exported(n, export(&runs, path))));
            }
            other => other,
        };
        let engine = engine?;
        if matches!(command, Command::PublishRunning) {
            if let Err(e) = engine.publish_running(who) {
                tracing::warn!("could not publish the running settings: {e}");
            }
            return Some(Action::Done(Outcome::Quiet));
        }
        let what = command.log_line();
        let action = command.run_on(engine);
        if let (Some(what), Action::Done(outcome)) = (what, &action)
            && outcome.succeeded()
        {
            // The change is made; a failure to note it is logged, not shown as failure.
            if let Err(e) = engine.log_change(who, &what) {
                tracing::warn!("could not write the operator log: {e}");
            }
            if let Err(e) = engine.publish_running(who) {
                tracing::warn!("could not publish the running settings: {e}");
            }
        }
        Some(action)
    }

    /// The operator log's line for a change to the sale (None for everything else).
    fn log_line(&self) -> Option<String> {
        Some(match self {
            Command::Restock { sku, available } => {
                format!("restocked {sku} to {available} available")
            }
            Command::Reset => "reset the sale (holds and orders deleted)".to_owned(),
            Command::SetStrategy(s) => format!("strategy {}", s.name()),
            Command::SetTtl(ttl) => format!("hold TTL {}", super::format::ttl(*ttl)),
            Command::SetWarp(w) => format!("warp ×{w}"),
            Command::Launch {
                config,
                strategy,
                fresh,
                ..
            } => format!(
                "launched {} buyers at {} with {}{}",
                super::format::thousands(config.buyers),
                config.sku,
                strategy.name(),
                if *fresh {
                    " on a fresh sale (reset first)"
                } else {
                    ""
                }
            ),
            _ => return None,
        })
    }

    fn run_on(self, engine: &Engine) -> Action {
        Action::Done(match self {
            Command::Reserve { sku, buyer } => {
                let result = engine.reserve(&sku, &buyer, 1);
                let may_return = match &result {
                    Err(Error::SoldOut { .. }) => engine
                        .product(&sku)
                        .ok()
                        .and_then(|p| engine.may_return(p.id).ok()),
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
            Command::SetWarp(warp) => {
                engine.clock().set_warp(warp);
                Outcome::WarpSet(warp, Ok(()))
            }
            // Answered in `run`, where the operator's name is known.
            Command::PublishRunning => Outcome::Quiet,
            Command::Launch {
                config,
                strategy,
                fresh,
                template,
            } => Outcome::Launched(Box::new(launch(engine, &config, strategy, fresh, template))),
            Command::Join { handle, template } => {
                Outcome::Joined(Box::new(join(engine, *handle, *template)))
            }
            Command::Lab(view, m) => lab_move(&view, m),
            Command::Export { runs, path } => Outcome::Exported(runs.len(), export(&runs, path)),
        })
    }
}

impl Outcome {
    fn succeeded(&self) -> bool {
        match self {
            Outcome::Restocked { result, .. } => result.is_ok(),
            Outcome::Reset(r) | Outcome::StrategySet(_, r) | Outcome::TtlSet(_, r) => r.is_ok(),
            Outcome::WarpSet(_, r) => r.is_ok(),
            Outcome::Launched(r) => r.is_ok(),
            _ => false,
        }
    }
}

/// Collects the report, and keeps the run with the buyers that really came.
fn join(engine: &Engine, handle: SwarmHandle, template: RunRow) -> Result<RunRow> {
    let report = handle.join()?;
    let mut row = template.with_report(&report);
    match engine.record_run(&row) {
        Ok(id) => row.id = id,
        Err(e) => tracing::warn!("could not keep the run in the database: {e}"),
    }
    Ok(row)
}

fn export(runs: &[RunRow], path: PathBuf) -> Result<PathBuf> {
    let text = crate::journal::export::write(runs, crate::journal::export::Format::Markdown)?;
    std::fs::write(&path, text)?;
    Ok(path)
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
    template: Box<RunRow>,
) -> Result<Launched> {
    if fresh {
        engine.reset()?;
    }
    engine.set_strategy(strategy)?;
    let handle = swarm::start(engine, config)?;
    Ok(Launched {
        handle,
        sku: config.sku.clone(),
        strategy,
        fresh,
        template,
    })
}
