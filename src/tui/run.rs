//! The swarm the console runs: launching it from the filled-in form, folding its figures
//! in at every reading, and collecting its report (into the Compare tab) when it ends.

use crate::journal::RunRow;
use crate::strategy::Strategy;
use crate::swarm::Live;
use crate::tui::app::{App, Tone};
use crate::tui::command::{Command, Launched, Outcome};
use crate::tui::form::{Modal, SwarmForm};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Stopping,
    Finished,
}

/// The current (or last) swarm run as the metrics panel shows it: the swarm's own
/// live figures ([`Live`], the numbers its report is made of), refreshed at every
/// reading, beside what the console launched.
#[derive(Debug, Clone)]
pub struct RunFigures {
    pub number: usize,
    pub sku: String,
    pub strategy: Strategy,
    pub buyers: u64,
    pub live: Live,
    pub state: RunState,
    /// The run's settings, for its row in the journal when it ends.
    pub template: Box<RunRow>,
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
    if form.rate.value > 0 {
        config.arrival = crate::swarm::Arrival::Rate(form.rate.value as f64);
    }
    config.retry = form.retry;
    config.seed = u64::try_from(app.compare.runs.len()).unwrap_or(0) + 1;
    let template = RunRow {
        started_at: app.clock.now(),
        sku: sku.clone(),
        strategy: form.strategy,
        buyers_planned: config.buyers,
        stock: config.stock.unwrap_or(0),
        behaviour: format!(
            "{}{}{}",
            form.behaviour().0,
            match form.rate.value {
                0 => String::new(),
                rate => format!(", {rate}/s"),
            },
            if form.retry { ", retry" } else { "" }
        ),
        hold_ttl_ms: app
            .ttl()
            .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
        warp: app.clock.warp(),
        seed: config.seed,
        ..RunRow::default()
    };
    app.queue(Command::Launch {
        config: Box::new(config),
        strategy: form.strategy,
        fresh: form.fresh,
        template: Box::new(template),
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
    if let Some(run) = &mut app.run {
        run.live = handle.live();
    }
    if handle.is_finished()
        && let Some(handle) = app.swarm.take()
    {
        if let Some(run) = &mut app.run {
            run.state = RunState::Finished;
            app.attempts_before += run.live.attempts;
            app.rejections_before += run.live.rejected_total();
        }
        let template = app
            .run
            .as_ref()
            .map(|r| r.template.clone())
            .unwrap_or_default();
        app.queue(Command::Join {
            handle: Box::new(handle),
            template,
        });
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
            Ok(row) => {
                use crate::tui::format::{thousands, thousands_i};
                let number = app.compare.runs.len() + 1;
                let verdict = if row.oversold > 0 {
                    format!("OVERSOLD by {}", thousands_i(row.oversold))
                } else {
                    "none oversold".to_owned()
                };
                let stopped = if row.stopped {
                    format!(
                        ", stopped after {} of {} buyers",
                        thousands(row.buyers),
                        thousands(row.buyers_planned)
                    )
                } else {
                    String::new()
                };
                let text = format!(
                    "Run {number} {}: sold {} of {}, {verdict}{stopped} (tab 4 compares)",
                    row.strategy.name(),
                    thousands_i(row.sold),
                    thousands_i(row.stock),
                );
                let tone = if row.oversold > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                };
                if row.id.is_some() {
                    app.compare.stored += 1;
                }
                app.compare.runs.push(row);
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
        live: Live::default(),
        state: RunState::Running,
        template: launched.template,
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
