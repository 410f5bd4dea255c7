//! The console on a manual clock, driven like a user would (keys through `handle_key`,
//! then `update`), drawn on ratatui's `TestBackend`; shared by the screen tests.
#![allow(dead_code)]

use std::time::Duration;

use flashsale::Strategy;
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
        Self::in_dir(tempfile::tempdir().unwrap(), width, height)
    }

    /// A second console session on the same file: this one's engine and console end.
    pub fn restart(self) -> Harness {
        let (w, h) = {
            let area = self.terminal.backend().buffer().area;
            (area.width, area.height)
        };
        let Harness { dir, .. } = self;
        Self::in_dir(dir, w, h)
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("flashsale.db")
    }

    /// A console on `dir/flashsale.db`, created with the demo sale if it is not there.
    pub fn in_dir(dir: tempfile::TempDir, width: u16, height: u16) -> Harness {
        let clock = Clock::manual(START);
        let engine = flashsale::cli::open_engine_at(
            &dir.path().join("flashsale.db"),
            Synchronous::Normal,
            EngineConfig {
                clock: clock.clone(),
                sweeper: false,
                ..EngineConfig::default()
            },
        )
        .unwrap();
        let options = options();
        let mut app = App::new(Source::Live(engine.clone()), clock, options);
        app.export_dir = dir.path().to_path_buf();
        app.settle();
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

/// The console as the tests show it: a fixed database name, UTC, colour.
pub fn options() -> Options {
    Options {
        db_label: "flashsale.db".into(),
        utc: true,
        theme: &THEME,
        buyer: "you".into(),
    }
}

/// Fills the swarm form (buyers, stock, strategy, a fresh sale when asked) and runs the
/// swarm to its end.
pub fn launch(h: &mut Harness, buyers: &str, stock: &str, strategy: Strategy, fresh: bool) {
    let runs = h.app.compare.runs.len();
    h.press(KeyCode::Char('n'));
    h.keys(buyers);
    h.press(KeyCode::Down);
    h.keys(stock);
    h.press(KeyCode::Down);
    while form_strategy(h) != Some(strategy) {
        h.press(KeyCode::Right);
    }
    if fresh {
        // Start from a fresh sale (the form's last field); with orders on the books the
        // console asks first.
        while !matches!(&h.app.modal, Some(tui::form::Modal::Swarm(f)) if f.field == tui::form::SwarmForm::FIELDS.len() - 1)
        {
            h.press(KeyCode::Down);
        }
        h.press(KeyCode::Right);
    }
    h.press(KeyCode::Enter);
    if matches!(h.app.modal, Some(tui::form::Modal::ConfirmFresh(_))) {
        h.press(KeyCode::Char('y'));
    }
    assert!(h.app.swarm_running(), "the swarm did not start");
    wait_for_run(h, runs);
}

/// Waits (a real swarm on real threads) until the console holds more than `runs` runs.
pub fn wait_for_run(h: &mut Harness, runs: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while h.app.compare.runs.len() == runs {
        assert!(
            std::time::Instant::now() < deadline,
            "the swarm did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
        h.app.refresh();
        h.app.settle();
    }
    h.app.refresh();
}

fn form_strategy(h: &Harness) -> Option<Strategy> {
    match &h.app.modal {
        Some(tui::form::Modal::Swarm(form)) => Some(form.strategy),
        _ => None,
    }
}
