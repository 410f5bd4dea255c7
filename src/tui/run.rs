//! The swarm the console runs: launching it from the filled-in form, folding its figures
//! in at every reading, and collecting its report (into the Compare tab) when it ends.

use std::time::{Duration, Instant};

use crate::engine::{CounterSnapshot, Engine};
use crate::error::Rejection;
use crate::metrics::Percentiles;
use crate::strategy::Strategy;
use crate::tui::app::{App, Tone};
use crate::tui::command::{Command, Launched, Outcome};
use crate::tui::form::{Modal, SwarmForm};
use crate::tui::tabs::compare::RunRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Stopping,
    Finished,
}

/// The current (or last) swarm run as the metrics panel shows it, read from the run's
/// own `Metrics` aggregate (the same numbers its report is made of).
#[derive(Debug, Clone)]
pub struct RunFigures {
    pub number: usize,
    pub sku: String,
    pub strategy: Strategy,
    pub buyers: u64,
    pub done: u64,
    pub attempts: u64,
    pub held: u64,
    pub paid: u64,
    pub rejected: [u64; Rejection::ALL.len()],
    pub latency: Percentiles,
    /// Engine counters since the run started.
    pub counters: CounterSnapshot,
    pub counters_before: CounterSnapshot,
    pub state: RunState,
    pub started: Instant,
    pub elapsed: Duration,
}

impl RunFigures {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

pub fn open_swarm_form(app: &mut App) {
    if !app.live() {
        return;
    }
    if app.swarm.is_some() {
        app.say(Tone::Warn, "A swarm is running: x stops it");
        return;
    }
    let strategy = app.strategy.unwrap_or(Strategy::Immediate);
    app.modal = Some(Modal::Swarm(SwarmForm::new(
        app.sale.product,
        strategy,
        &app.snapshot.stock,
    )));
}

/// Queues a launch from the filled-in form.
pub fn launch(app: &mut App, form: &SwarmForm) {
    let Some(sku) = app
        .snapshot
        .stock
        .get(form.product.min(app.snapshot.stock.len().saturating_sub(1)))
        .map(|s| s.sku.clone())
    else {
        return;
    };
    app.sale.product = form.product;
    app.sale.product_pinned = true;
    let mut config = crate::swarm::SwarmConfig::new(&sku, form.buyers.value.max(1));
    config.stock = Some(i64::try_from(form.stock.value).unwrap_or(i64::MAX));
    config.behaviour = form.behaviour().1;
    config.seed = u64::try_from(app.compare.runs.len()).unwrap_or(0) + 1;
    app.queue(Command::Launch {
        config: Box::new(config),
        strategy: form.strategy,
        fresh: form.fresh,
    });
    app.say(
        Tone::Info,
        format!(
            "Launching {} buyers at {} with {}…",
            crate::tui::format::thousands(form.buyers.value),
            sku,
            form.strategy.label()
        ),
    );
}

/// Folds the running swarm's figures in, and collects it when it has finished.
pub fn watch_swarm(app: &mut App) {
    let Some(handle) = &app.swarm else {
        return;
    };
    let counters = app
        .source
        .engine()
        .map(Engine::counters)
        .unwrap_or_default();
    if let Some(run) = &mut app.run {
        {
            // Held only to copy a few numbers: the collector waits at most this long.
            let m = handle.metrics.lock();
            run.attempts = m.attempts;
            run.held = m.held;
            run.paid = m.paid;
            run.rejected = m.rejected;
            run.latency = m.latency_us();
        }
        run.done = handle
            .progress
            .buyers_done
            .load(std::sync::atomic::Ordering::Relaxed);
        run.counters = counter_delta(counters, run.counters_before);
        run.elapsed = run.started.elapsed();
    }
    if handle.is_finished()
        && let Some(handle) = app.swarm.take()
    {
        if let Some(run) = &mut app.run {
            run.state = RunState::Finished;
            app.attempts_before += run.attempts;
            app.rejections_before += run.rejected_total();
        }
        app.queue(Command::Join(Box::new(handle)));
    }
}

fn counter_delta(now: CounterSnapshot, before: CounterSnapshot) -> CounterSnapshot {
    CounterSnapshot {
        conflicts: now.conflicts.saturating_sub(before.conflicts),
        retries: now.retries.saturating_sub(before.retries),
        busy: now.busy.saturating_sub(before.busy),
        refunds: now.refunds.saturating_sub(before.refunds),
        rollbacks: now.rollbacks.saturating_sub(before.rollbacks),
        commits: now.commits.saturating_sub(before.commits),
    }
}

/// What the engine said about the swarm.
pub fn done(app: &mut App, outcome: Outcome) {
    match outcome {
        Outcome::Launched(result) => match *result {
            Ok(launched) => started(app, launched),
            Err(e) => app.say(Tone::Bad, format!("The swarm did not start: {e}")),
        },
        Outcome::Joined(result) => match *result {
            Ok(report) => {
                use crate::tui::format::thousands_i;
                let number = app.compare.runs.len() + 1;
                let verdict = if report.oversold > 0 {
                    format!("OVERSOLD by {}", thousands_i(report.oversold))
                } else {
                    "none oversold".to_owned()
                };
                let text = format!(
                    "Run {number} {}: sold {} of {}, {verdict} (tab 4 compares)",
                    report.strategy,
                    thousands_i(report.sold),
                    thousands_i(report.stock),
                );
                let tone = if report.oversold > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                };
                let strategy = app.run.as_ref().map_or(Strategy::Immediate, |r| r.strategy);
                app.compare.runs.push(RunRow::of(&report, strategy));
                app.compare.selected = app.compare.runs.len() - 1;
                app.say(tone, text);
                app.refresh_soon();
            }
            Err(e) => app.say(Tone::Bad, format!("The swarm failed: {e}")),
        },
        _ => {}
    }
}

fn started(app: &mut App, launched: Launched) {
    app.strategy = Some(launched.strategy);
    let number = app.compare.runs.len() + 1;
    app.run = Some(RunFigures {
        number,
        sku: launched.sku,
        strategy: launched.strategy,
        buyers: launched.handle.buyers,
        done: 0,
        attempts: 0,
        held: 0,
        paid: 0,
        rejected: [0; Rejection::ALL.len()],
        latency: Percentiles::default(),
        counters: CounterSnapshot::default(),
        counters_before: launched.counters_before,
        state: RunState::Running,
        started: launched.handle.started,
        elapsed: Duration::ZERO,
    });
    app.swarm = Some(launched.handle);
    app.say(
        if launched.strategy.is_safe() {
            Tone::Info
        } else {
            Tone::Warn
        },
        format!("Run {number} started with {}", launched.strategy.label()),
    );
    if launched.fresh {
        app.shop.mine.clear();
        app.shop.note = None;
    }
}
