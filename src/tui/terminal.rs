//! The terminal, entered and always left: raw mode, the alternate screen and mouse
//! capture on the way in; all three undone on the way out — when the guard drops (quit,
//! an error, a signal) and from the panic hook (a bug), so a shell is never left broken.

use std::io::stdout;
use std::sync::Once;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;

pub struct Guard {
    pub terminal: DefaultTerminal,
}

static MOUSE_HOOK: Once = Once::new();

impl Guard {
    pub fn enter() -> std::io::Result<Guard> {
        // Raw mode and the alternate screen, with a panic hook that leaves both.
        let terminal = ratatui::try_init()?;
        let guard = Guard { terminal };
        execute!(stdout(), EnableMouseCapture)?;
        MOUSE_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let _ = execute!(stdout(), DisableMouseCapture);
                previous(info);
            }));
        });
        Ok(guard)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}
