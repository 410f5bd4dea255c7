//! The Lab tab: the locking lab's own view ([`crate::lab::ui::LabView`]) — real SQLite
//! sessions side by side, one statement per step — drawn in the tab's body. Before the
//! view exists (it is made when the tab is first shown) the tab says what the lab is and
//! how to reach it from the command line.
//!
//! A step runs SQL and may wait on a lock, so keys become [`LabMove`]s that the command
//! worker makes, as it does the engine's work; the drawing thread only reads the view,
//! and never waits for it: while a move runs, the tab says so for that frame.

use ratatui::buffer::Buffer;
use ratatui::layout::{Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use std::sync::Arc;

use parking_lot::Mutex;
use ratatui::crossterm::event::KeyEvent;

use crate::lab::ui::{LabMove, LabView, Mode};
use crate::tui::app::{Action, App};
use crate::tui::command::Command;
use crate::tui::ui::panel;

/// The Lab tab's own state: the locking lab's view ([`crate::lab::ui::LabView`]), made
/// the first time the tab is shown. It owns its scenarios' scratch databases.
#[derive(Default)]
pub struct LabState {
    pub view: Option<Arc<Mutex<LabView>>>,
    /// The screen the view shows (None: the scenario list), known without waiting for
    /// the view: the keys depend on it.
    pub mode: Option<Mode>,
}

impl LabState {
    pub fn with_view(view: LabView) -> LabState {
        LabState {
            mode: view.mode(),
            view: Some(Arc::new(Mutex::new(view))),
        }
    }
}

/// The Lab's keys; None for a key the lab does not take (it works as on every tab).
pub fn key(app: &App, key: KeyEvent) -> Option<Action> {
    app.lab.view.as_ref()?;
    LabView::move_for(app.lab.mode, key).map(Action::Lab)
}

/// Queues the move for the worker; the keys that follow already see where it leads.
pub fn update(app: &mut App, m: LabMove) {
    let Some(view) = &app.lab.view else {
        return;
    };
    let command = Command::Lab(Arc::clone(view), m);
    app.lab.mode = m.next_mode(app.lab.mode);
    app.queue(command);
}

/// Draws the Lab tab's body.
pub fn render_lab(app: &App, area: Rect, buf: &mut Buffer) {
    if let Some(view) = &app.lab.view {
        match view.try_lock() {
            Some(view) => view.render(area, buf),
            None => {
                Line::styled(" The lab is running a statement…", app.theme().dim).render(area, buf)
            }
        }
        return;
    }
    let t = app.theme();
    let block = panel(t, " Locking lab ", false).title_top(
        Line::styled(" real SQLite sessions, one statement at a time ", t.dim).right_aligned(),
    );
    let inner = block.inner(area).inner(Margin::new(2, 1));
    block.render(area, buf);
    let command = |cmd: &'static str, what: &'static str| {
        Line::from(vec![
            Span::styled(format!("  {cmd:<30}"), t.key),
            Span::styled(what, t.dim),
        ])
    };
    Paragraph::new(vec![
        Line::styled(
            "Why does a read-then-write oversell? Step through two sessions and watch it happen.",
            t.value,
        ),
        Line::raw(""),
        Line::styled(
            "Each step runs one statement on a real connection to a scratch database and shows \
             every session's transaction and lock state, the rows, and a sentence on what just \
             happened: lost update, BEGIN IMMEDIATE serialising, the deferred-upgrade trap, a \
             version conflict, the atomic decrement, expiry racing checkout.",
            t.text,
        ),
        Line::raw(""),
        Line::styled("From a terminal:", t.dim),
        command("flashsale lab --list", "every scenario, one line each"),
        command(
            "flashsale lab lost-update",
            "step through one (← → to move)",
        ),
        command(
            "flashsale lab --matrix",
            "which strategy prevents which anomaly",
        ),
    ])
    .wrap(Wrap { trim: false })
    .render(inner, buf);
}
