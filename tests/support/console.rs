//! The console on a manual clock, driven like a user would (keys through `handle_key`,
//! then `update`), drawn on ratatui's `TestBackend`; shared by the screen tests.
#![allow(dead_code)]

use std::time::Duration;

use flashsale::tui::{self, App, Options, Source, THEME};
use flashsale::{Clock, Engine, EngineConfig, Synchronous};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// 2026-11-20 18:00:00 UTC.
pub const START: i64 = 1_795_197_600_000;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    pub app: App,
    pub terminal: Terminal<TestBackend>,
}

impl Harness {
    pub fn new() -> Harness {
        Self::sized(80, 24)
    }

    pub fn sized(width: u16, height: u16) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(START);
        let engine = flashsale::cli::open_engine(
            &dir.path().join("flashsale.db"),
            Synchronous::Normal,
            EngineConfig {
                clock: clock.clone(),
                sweeper: false,
                ..EngineConfig::default()
            },
        )
        .unwrap();
        let options = Options {
            db_label: "flashsale.db".into(),
            utc: true,
            theme: &THEME,
            buyer: "you".into(),
        };
        let mut app = App::new(Source::Live(engine.clone()), clock, options);
        app.refresh();
        let terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        Harness {
            dir,
            engine,
            app,
            terminal,
        }
    }

    pub fn press(&mut self, code: KeyCode) {
        self.press_with(code, KeyModifiers::NONE);
    }

    pub fn press_with(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        if let Some(action) = tui::handle_key(&self.app, KeyEvent::new(code, modifiers)) {
            tui::update(&mut self.app, action);
        }
        self.app.settle();
        self.app.refresh();
    }

    pub fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.engine.clock().advance(by);
        self.app.refresh();
    }

    pub fn screen(&mut self) -> String {
        self.terminal.draw(|f| tui::render(&self.app, f)).unwrap();
        self.terminal.backend().to_string()
    }
}

/// The style of the first cell of `text` on the last drawn screen.
pub fn cell_style_of(h: &Harness, text: &str) -> ratatui::style::Style {
    let buf = h.terminal.backend().buffer();
    let area = buf.area;
    for y in 0..area.height {
        let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(byte) = line.find(text) {
            let x = line[..byte].chars().count();
            return buf[(u16::try_from(x).unwrap(), y)].style();
        }
    }
    panic!("{text:?} is not on screen");
}
