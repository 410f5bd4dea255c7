//! Everything that can happen to the console, as values: keys, the mouse, readings of the
//! database and finished commands all become an [`Action`] for the one `update`.

use ratatui::layout::Rect;

use super::app::Tab;
use super::command::Outcome;
use crate::monitor::Snapshot;

/// Everything that can happen to the console.
pub enum Action {
    Quit,
    /// Write the Compare table to a file.
    Export,
    /// Pause the display (not the sale) while the presenter explains a moment; again
    /// to catch up.
    Freeze,
    NextTab,
    PrevTab,
    GoTo(Tab),
    ToggleHelp,
    CloseModal,
    /// Move the focused list (or the selection) by this many rows.
    Scroll(isize),
    Top,
    Bottom,
    /// The mouse wheel over a point of the screen.
    ScrollAt {
        column: u16,
        row: u16,
        down: bool,
    },
    FocusNext,
    FocusPrev,
    NextProduct,
    PrevProduct,
    OpenSwarmForm,
    StopSwarm,
    NextStrategy,
    PrevStrategy,
    OpenRestock,
    AskReset,
    OpenTtl,
    OpenWarp,
    AddToCart,
    Extend,
    Pay,
    Cancel,
    /// Keys inside the open dialog.
    Form(FormKey),
    /// A move in the Lab tab; it may run SQL, so it runs off the drawing thread.
    Lab(crate::lab::ui::LabMove),
    /// The terminal's size, after a resize or a draw.
    Resized(Rect),
    /// A fresh reading of the database.
    Refreshed(Box<Snapshot>),
    /// The database could not be read.
    RefreshFailed(String),
    /// A queued command finished.
    Done(Outcome),
}

/// Keys a dialog understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Up,
    Down,
    Left,
    Right,
    Digit(u8),
    Backspace,
    Submit,
    Yes,
    No,
}
