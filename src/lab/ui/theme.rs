//! The Lab tab's styles, with and without colour.
//!
//! Every highlight has a colourless twin (bold, reversed, underlined) so `NO_COLOR`
//! users still see what changed and what went wrong.

use ratatui::style::{Color, Modifier, Style};

use crate::lab::session::TxnState;

/// The styles of one screen; `color: false` honours `NO_COLOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours may be used.
    pub color: bool,
}

impl Theme {
    fn pick(self, colored: Style, plain: Style) -> Style {
        if self.color { colored } else { plain }
    }

    /// Titles and headers.
    #[must_use]
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Secondary text: column names, hints.
    #[must_use]
    pub fn dim(self) -> Style {
        self.pick(Style::new().fg(Color::DarkGray), Style::new())
    }

    /// A cell the last step changed.
    #[must_use]
    pub fn changed(self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    /// A row the last step added.
    #[must_use]
    pub fn added(self) -> Style {
        self.pick(
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::UNDERLINED),
        )
    }

    /// Something broken: an oversell, a mismatch, an error.
    #[must_use]
    pub fn bad(self) -> Style {
        self.pick(
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )
    }

    /// A lock doing its job: BUSY, waiting.
    #[must_use]
    pub fn warn(self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// Things as they should be.
    #[must_use]
    pub fn good(self) -> Style {
        self.pick(Style::new().fg(Color::Green), Style::new())
    }

    /// The selected line of a list.
    #[must_use]
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A session's transaction state.
    #[must_use]
    pub fn state(self, state: TxnState) -> Style {
        match state {
            TxnState::None => self.dim(),
            TxnState::Begun => self.pick(Style::new().fg(Color::Cyan), Style::new()),
            TxnState::Read => self.pick(
                Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            TxnState::Write => self.pick(
                Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
                Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ),
        }
    }
}
