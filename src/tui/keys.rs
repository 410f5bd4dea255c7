//! Keys and mouse to actions: pure functions of the event and of what is on screen
//! (the tab, an open dialog). Nothing changes here; `update` does that.

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};

use super::app::{Action, App, FormKey, Tab};
use super::form::Modal;
use super::tabs::{compare, lab, sale, storefront};

pub fn handle_key(app: &App, key: KeyEvent) -> Option<Action> {
    // Terminals that report releases and repeats would act twice.
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c' | 'q') => Some(Action::Quit),
            _ => None,
        };
    }
    match &app.modal {
        Some(Modal::Help { .. }) => return help_key(key),
        Some(_) => return dialog_key(key),
        None => {}
    }
    // The lab has keys of its own (numbers run sessions, Esc leaves a scenario); the
    // keys it does not take work as on every tab.
    if app.tab == Tab::Lab
        && let Some(action) = lab::key(app, key)
    {
        return Some(action);
    }
    if let Some(action) = global_key(key) {
        return Some(action);
    }
    match app.tab {
        Tab::Sale => sale::key(key),
        Tab::Storefront => storefront::key(key),
        Tab::Lab => None,
        Tab::Compare => compare::key(key),
    }
}

/// Keys that work on every tab.
pub fn global_key(key: KeyEvent) -> Option<Action> {
    Some(match key.code {
        // Esc closes dialogs and goes back; it never quits (q and Ctrl-C do).
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') | KeyCode::F(1) => Action::ToggleHelp,
        KeyCode::Char('f') => Action::Freeze,
        KeyCode::Tab => Action::NextTab,
        KeyCode::BackTab => Action::PrevTab,
        KeyCode::Char(c @ '1'..='9') => {
            let i = usize::from(c as u8 - b'1');
            Action::GoTo(Tab::from_repr(i)?)
        }
        _ => return None,
    })
}

/// Up and down through a list, vim keys included.
pub fn list_key(key: KeyEvent) -> Option<Action> {
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Scroll(-1),
        KeyCode::Down | KeyCode::Char('j') => Action::Scroll(1),
        KeyCode::PageUp => Action::Scroll(-10),
        KeyCode::PageDown => Action::Scroll(10),
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        _ => return None,
    })
}

fn help_key(key: KeyEvent) -> Option<Action> {
    match key.code {
        KeyCode::Char('?' | 'q') | KeyCode::Esc | KeyCode::F(1) | KeyCode::Enter => {
            Some(Action::CloseModal)
        }
        _ => list_key(key),
    }
}

fn dialog_key(key: KeyEvent) -> Option<Action> {
    Some(Action::Form(match key.code {
        KeyCode::Esc | KeyCode::Char('q' | 'n') => FormKey::No,
        KeyCode::Enter => FormKey::Submit,
        KeyCode::Char('y') => FormKey::Yes,
        KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => FormKey::Up,
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => FormKey::Down,
        KeyCode::Left | KeyCode::Char('h' | '-') => FormKey::Left,
        KeyCode::Right | KeyCode::Char('l' | '+') => FormKey::Right,
        KeyCode::Backspace => FormKey::Backspace,
        KeyCode::Char(c @ '0'..='9') => FormKey::Digit(c as u8 - b'0'),
        _ => return None,
    }))
}

pub fn handle_mouse(mouse: MouseEvent) -> Option<Action> {
    let down = match mouse.kind {
        MouseEventKind::ScrollDown => true,
        MouseEventKind::ScrollUp => false,
        _ => return None,
    };
    Some(Action::ScrollAt {
        column: mouse.column,
        row: mouse.row,
        down,
    })
}
