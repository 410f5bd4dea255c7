//! The Lab tab's keys: a key on a screen becomes a [`LabMove`] (a pure function of the
//! key and the screen, so a console can decide at once whether the lab takes a key), and
//! [`LabView::apply`] makes the move, which may run SQL and wait on a lock.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{LabView, Mode, Screen};
use crate::error::Error;
use crate::lab::scheduler::Move;

/// One thing a key asks of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabMove {
    /// The scenario list: move the highlight.
    Up,
    Down,
    Top,
    Bottom,
    /// Open the highlighted scenario in this mode.
    Open(Mode),
    /// Step mode.
    Forward,
    Back,
    Start,
    End,
    /// Scheduler mode: run this session's next statement.
    Run(usize),
    /// Scheduler mode: roll back and restart the session picked last.
    Restart,
    Undo,
    StartOver,
    /// Step mode ↔ scheduler mode, on the same scenario.
    SwitchMode,
    /// Back to the scenario list.
    List,
}

impl LabMove {
    /// The screen after this move, as far as it can be told before it runs (a scenario
    /// that cannot be opened leaves the list up; the lab then says so).
    #[must_use]
    pub fn next_mode(self, now: Option<Mode>) -> Option<Mode> {
        match (self, now) {
            (LabMove::Open(mode), None) => Some(mode),
            (LabMove::SwitchMode, Some(Mode::Step)) => Some(Mode::Scheduler),
            (LabMove::SwitchMode, Some(Mode::Scheduler)) => Some(Mode::Step),
            (LabMove::List, _) => None,
            (_, now) => now,
        }
    }
}

impl LabView {
    /// Handles a key press; returns whether the Lab tab used it. The same as
    /// [`LabView::move_for`] then [`LabView::apply`], in one go.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        match LabView::move_for(self.mode(), key) {
            Some(m) => {
                self.apply(m);
                true
            }
            None => false,
        }
    }

    /// What `key` asks of the lab on the screen `mode` shows (None: the scenario list).
    /// It depends on nothing else, so a console can decide at once whether the lab
    /// takes a key and run the move, which may run SQL and wait on a lock, elsewhere.
    #[must_use]
    pub fn move_for(mode: Option<Mode>, key: KeyEvent) -> Option<LabMove> {
        // Key releases and repeats arrive on some terminals; act on presses only.
        if key.kind != KeyEventKind::Press
            || key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        Some(match (mode, key.code) {
            (None, KeyCode::Up | KeyCode::Char('k')) => LabMove::Up,
            (None, KeyCode::Down | KeyCode::Char('j')) => LabMove::Down,
            (None, KeyCode::Home | KeyCode::Char('g')) => LabMove::Top,
            (None, KeyCode::End | KeyCode::Char('G')) => LabMove::Bottom,
            (None, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) => {
                LabMove::Open(Mode::Step)
            }
            (None, KeyCode::Char('s')) => LabMove::Open(Mode::Scheduler),
            (
                Some(Mode::Step),
                KeyCode::Right | KeyCode::Char('l' | 'n' | ' ') | KeyCode::Enter,
            ) => LabMove::Forward,
            (Some(Mode::Step), KeyCode::Left | KeyCode::Char('h' | 'p') | KeyCode::Backspace) => {
                LabMove::Back
            }
            (Some(Mode::Step), KeyCode::Home | KeyCode::Char('g')) => LabMove::Start,
            (Some(Mode::Step), KeyCode::End | KeyCode::Char('G')) => LabMove::End,
            (Some(Mode::Scheduler), KeyCode::Char(c @ '1'..='9')) => {
                LabMove::Run(usize::from(c as u8 - b'1'))
            }
            (Some(Mode::Scheduler), KeyCode::Char('r')) => LabMove::Restart,
            (Some(Mode::Scheduler), KeyCode::Char('u') | KeyCode::Left | KeyCode::Backspace) => {
                LabMove::Undo
            }
            (Some(Mode::Scheduler), KeyCode::Home | KeyCode::Char('g')) => LabMove::StartOver,
            (Some(_), KeyCode::Char('m')) => LabMove::SwitchMode,
            (Some(_), KeyCode::Esc) => LabMove::List,
            _ => return None,
        })
    }

    /// Makes a move (running SQL on the scenario's sessions where it steps); an error
    /// is kept as one sentence on screen.
    pub fn apply(&mut self, m: LabMove) {
        match self.try_apply(m) {
            Ok(()) => self.error = None,
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn try_apply(&mut self, m: LabMove) -> Result<(), Error> {
        let count = self.scenarios.len();
        match (&mut self.screen, m) {
            (_, LabMove::List) => self.screen = Screen::Picker,
            (Screen::Picker, LabMove::Up) => self.selected = self.selected.saturating_sub(1),
            (Screen::Picker, LabMove::Down) => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
            }
            (Screen::Picker, LabMove::Top) => self.selected = 0,
            (Screen::Picker, LabMove::Bottom) => self.selected = count.saturating_sub(1),
            (Screen::Picker, LabMove::Open(mode)) => {
                if let Some(s) = self.scenarios.get(self.selected).cloned() {
                    self.start(s, mode)?;
                }
            }
            (Screen::Step(stepper), LabMove::Forward) => {
                stepper.forward();
            }
            (Screen::Step(stepper), LabMove::Back) => stepper.back()?,
            (Screen::Step(stepper), LabMove::Start) => stepper.go_to(0)?,
            (Screen::Step(stepper), LabMove::End) => stepper.to_end(),
            (Screen::Step(stepper), LabMove::SwitchMode) => {
                let s = stepper.scenario().clone();
                self.start(s, Mode::Scheduler)?;
            }
            (Screen::Schedule(scheduler), LabMove::Run(session)) => {
                scheduler.play(Move::Run(session));
                if session < scheduler.scenario().sessions.len() {
                    self.focus = session;
                }
            }
            (Screen::Schedule(scheduler), LabMove::Restart) => {
                scheduler.play(Move::Restart(self.focus));
            }
            (Screen::Schedule(scheduler), LabMove::Undo) => scheduler.undo()?,
            (Screen::Schedule(scheduler), LabMove::StartOver) => {
                let s = scheduler.scenario().clone();
                self.start(s, Mode::Scheduler)?;
            }
            (Screen::Schedule(scheduler), LabMove::SwitchMode) => {
                let s = scheduler.scenario().clone();
                self.start(s, Mode::Step)?;
            }
            // A move meant for another screen (keys typed faster than moves ran).
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::from(code)
    }

    #[test]
    fn a_key_means_what_the_screen_says() {
        let cases = [
            (None, KeyCode::Enter, Some(LabMove::Open(Mode::Step))),
            (
                None,
                KeyCode::Char('s'),
                Some(LabMove::Open(Mode::Scheduler)),
            ),
            (None, KeyCode::Esc, None),
            (None, KeyCode::Char('1'), None),
            (Some(Mode::Step), KeyCode::Right, Some(LabMove::Forward)),
            (Some(Mode::Step), KeyCode::Esc, Some(LabMove::List)),
            (Some(Mode::Step), KeyCode::Char('1'), None),
            (
                Some(Mode::Scheduler),
                KeyCode::Char('2'),
                Some(LabMove::Run(1)),
            ),
            (
                Some(Mode::Scheduler),
                KeyCode::Home,
                Some(LabMove::StartOver),
            ),
            (Some(Mode::Scheduler), KeyCode::Char('q'), None),
        ];
        for (mode, code, expected) in cases {
            assert_eq!(
                LabView::move_for(mode, key(code)),
                expected,
                "{mode:?} {code:?}"
            );
        }
    }

    #[test]
    fn the_next_screen_is_known_before_the_move_runs() {
        assert_eq!(LabMove::Open(Mode::Step).next_mode(None), Some(Mode::Step));
        assert_eq!(
            LabMove::SwitchMode.next_mode(Some(Mode::Step)),
            Some(Mode::Scheduler)
        );
        assert_eq!(LabMove::List.next_mode(Some(Mode::Scheduler)), None);
        assert_eq!(
            LabMove::Forward.next_mode(Some(Mode::Step)),
            Some(Mode::Step)
        );
    }
}
