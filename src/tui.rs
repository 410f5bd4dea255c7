//! The console: a live dashboard of the sale, a storefront to race the bots, the locking
//! lab, and a comparison of the session's runs, drawn with ratatui.
//!
//! It is a client of the engine like any other program: it never touches the engine's
//! internals, and no engine module knows it exists.
//!
//! # Layout
//!
//! The Elm architecture, as in ratatui's demo2:
//!
//! - [`app`]: the one [`App`] (a [`Tab`], one small state per tab, the open dialog) and
//!   the one [`update`] that changes it from an [`Action`] ([`action`]).
//! - [`tabs`]: one component per tab — [`tabs::sale`] (with its [`panels`]),
//!   [`tabs::storefront`], [`tabs::lab`], [`tabs::compare`] — each with its state, its
//!   keys, what they do and its drawing.
//! - [`keys`]: pure functions from a key or the mouse to an `Action` (the keys every tab
//!   shares; the rest in each tab).
//! - [`command`]: work that may wait on the database (a hold taken while thousands of
//!   bots queue for the writer, a lab step waiting on a lock), run off the drawing
//!   thread; its outcome is an `Action`. [`run`](mod@run): the swarm's lifecycle.
//! - [`ui`], [`dialog`], [`help`]: the frame, the dialogs, the help; they only read.
//! - [`theme`]: one `const THEME`, and `MONO` for `NO_COLOR` (the lab's too); [`text`]:
//!   fitting text to display columns.
//! - `events` and `terminal`: the runtime — one `select!` over the terminal, the
//!   database readings, finished commands and signals; and a guard that restores the
//!   terminal on quit, error, panic, SIGTERM and SIGHUP.
//!
//! # Watching does not slow the sale
//!
//! The database is read [`REFRESH_EVERY`] on the console's own connection, in one short
//! read transaction ([`crate::monitor`]): WAL readers never block the writer. Figures of
//! a swarm this process runs come from the swarm's own `Metrics`, copied under its lock
//! once per reading. Nothing is read per event.

pub mod action;
pub mod app;
pub mod command;
pub mod dialog;
mod events;
pub mod form;
pub mod format;
pub mod help;
pub mod keys;
pub mod panels;
pub mod run;
mod scroll;
pub mod tabs;
mod terminal;
pub mod text;
pub mod theme;
pub mod ui;
pub mod widgets;

use std::time::Duration;

use ratatui::crossterm::event::Event;

pub use app::{Action, App, Options, Source, Tab, update};
pub use keys::{handle_key, handle_mouse};
pub use theme::{MONO, THEME, Theme};
pub use ui::{MIN_HEIGHT, MIN_WIDTH, render, render_screen};

use crate::error::Result;
use events::Incoming;

/// How often the console reads the database (and so redraws when nothing else happens).
pub const REFRESH_EVERY: Duration = Duration::from_millis(200);

/// Runs the console until the user quits (or a signal asks it to). The terminal is
/// restored however it ends.
pub fn run(mut app: App) -> Result<()> {
    // The first reading, before the runtime: a store's blocking client (PostgreSQL's
    // starts a runtime of its own) must never run on the event loop's thread.
    app.refresh();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_loop(&mut app))
}

async fn run_loop(app: &mut App) -> Result<()> {
    let mut term = terminal::Guard::enter()?;
    let events::Sources {
        mut incoming,
        poller,
        worker,
        input,
    } = events::Sources::start(app);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut query = app.query();
    let mut dirty = true;
    // A deliberate bug on demand, for the test that the terminal survives one.
    let panic_for_test = std::env::var_os("FLASHSALE_CONSOLE_TEST_PANIC").is_some();
    while !app.quit {
        if dirty {
            let frame = term.terminal.draw(|f| ui::render(app, f))?;
            app.area = frame.area;
            dirty = false;
            assert!(
                !panic_for_test,
                "a deliberate panic (FLASHSALE_CONSOLE_TEST_PANIC)"
            );
        }
        let first = tokio::select! {
            Some(event) = incoming.recv() => event,
            _ = sigterm.recv() => Incoming::Quit("SIGTERM"),
            _ = sighup.recv() => Incoming::Quit("SIGHUP"),
        };
        // Take everything that is waiting before drawing again: a burst of mouse wheel
        // events or readings costs one frame, not one each.
        let mut batch = vec![first];
        while let Ok(more) = incoming.try_recv() {
            batch.push(more);
        }
        for event in batch {
            if let Some(action) = action_of(app, event) {
                update(app, action);
                dirty = true;
            }
        }
        for command in app.take_commands() {
            worker.send(command);
        }
        let now = app.query();
        if now != query || app.refresh_wanted {
            poller.set(now.clone());
            query = now;
            app.refresh_wanted = false;
        }
    }
    if app.swarm.is_some() {
        app.note = Some(app::Note::new(
            app::Tone::Info,
            "Stopping the swarm before leaving…",
        ));
        app.note_until = i64::MAX;
        term.terminal.draw(|f| ui::render(app, f))?;
        app.stop_swarm();
        if let Some(handle) = app.swarm.take() {
            let _ = handle.join();
        }
    }
    input.stop();
    poller.stop();
    worker.stop();
    // A swarm launched while we were leaving: stop it too, never leave buyers behind.
    while let Ok(event) = incoming.try_recv() {
        if let Incoming::Action(Action::Done(command::Outcome::Launched(launched))) = event
            && let Ok(launched) = *launched
        {
            launched.handle.stop();
            let _ = launched.handle.join();
        }
    }
    drop(term);
    Ok(())
}

fn action_of(app: &App, event: Incoming) -> Option<Action> {
    match event {
        Incoming::Terminal(Event::Key(key)) => handle_key(app, key),
        Incoming::Terminal(Event::Mouse(mouse)) => handle_mouse(mouse),
        Incoming::Terminal(Event::Resize(w, h)) => {
            Some(Action::Resized(ratatui::layout::Rect::new(0, 0, w, h)))
        }
        Incoming::Terminal(_) => None,
        Incoming::Action(action) => Some(action),
        Incoming::Quit(why) => {
            tracing::info!("{why}: quitting");
            Some(Action::Quit)
        }
    }
}
