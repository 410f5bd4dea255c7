//! The console's state and its one `update` function (the Elm architecture): every key,
//! every database reading and every finished command becomes an [`Action`], and only
//! `update` changes the [`App`]. Work that may wait on the database (a hold taken while
//! five thousand bots queue for the writer) is not done here: `update` queues a
//! [`Command`], the runtime runs it on a worker thread, and its outcome comes back as
//! another `Action`. Tests run the same commands inline, in order.

use std::collections::VecDeque;
use std::time::Duration;

use ratatui::layout::Rect;
use strum::EnumCount;

use super::command::{Command, Outcome};
use super::form::Modal;
use super::run::{self, RunFigures};
use super::scroll;
use super::tabs::{compare, lab, sale, storefront};
use super::theme::Theme;
use crate::clock::{Clock, Millis};
use crate::engine::Engine;
use crate::hold::HoldKind;
use crate::monitor::{History, Query, Reader, Snapshot, Totals};
use crate::strategy::Strategy;
use crate::swarm::SwarmHandle;

pub use super::action::{Action, FormKey};
pub use super::panels::join::Served;
pub use compare::{CompareState, RunRow};
pub use lab::LabState;
pub use run::RunState;
pub use sale::{SalePanel, SaleState};
pub use storefront::{MyHold, MyStatus, ShopState};

/// Where the console's figures come from.
#[derive(Clone)]
pub enum Source {
    /// This process sells: it owns the engine and can run swarms and take holds.
    Live(Engine),
    /// Another process sells; this console only reads the sale.
    ReadOnly(Reader),
}

impl Source {
    /// Where the console reads its figures.
    pub fn reader(&self) -> Reader {
        match self {
            Source::Live(engine) => engine.reader(),
            Source::ReadOnly(reader) => reader.clone(),
        }
    }

    pub fn engine(&self) -> Option<&Engine> {
        match self {
            Source::Live(engine) => Some(engine),
            Source::ReadOnly(_) => None,
        }
    }
}

/// How the console presents itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// The database as the header names it (tests pass a fixed name for a temp path).
    pub db_label: String,
    /// Times of day in UTC rather than local time (tests).
    pub utc: bool,
    pub theme: &'static Theme,
    /// The storefront's buyer.
    pub buyer: String,
}

impl Options {
    pub fn new(db_label: impl Into<String>) -> Self {
        Options {
            db_label: db_label.into(),
            utc: false,
            theme: Theme::from_env(),
            buyer: "you".into(),
        }
    }
}

/// The tabs, in tab-bar order; the number keys follow it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::EnumIter,
    strum::EnumCount,
    strum::FromRepr,
    strum::IntoStaticStr,
)]
pub enum Tab {
    Sale,
    Storefront,
    Lab,
    Compare,
}

impl Tab {
    pub fn title(self) -> &'static str {
        self.into()
    }

    /// Where the tab sits in the bar, from 0.
    pub fn index(self) -> usize {
        self as usize
    }

    fn next(self) -> Tab {
        Tab::from_repr((self.index() + 1) % Tab::COUNT).unwrap_or(Tab::Sale)
    }

    fn prev(self) -> Tab {
        Tab::from_repr((self.index() + Tab::COUNT - 1) % Tab::COUNT).unwrap_or(Tab::Sale)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Warn,
    Bad,
}

/// A sentence for the user, with a tone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub tone: Tone,
}

impl Note {
    pub fn new(tone: Tone, text: impl Into<String>) -> Self {
        Note {
            text: text.into(),
            tone,
        }
    }
}

/// The whole console.
pub struct App {
    pub source: Source,
    pub clock: Clock,
    pub options: Options,
    pub tab: Tab,
    pub modal: Option<Modal>,
    pub sale: SaleState,
    pub shop: ShopState,
    pub lab: LabState,
    pub compare: CompareState,
    pub snapshot: Snapshot,
    pub history: History,
    /// The running swarm, while it runs.
    pub swarm: Option<SwarmHandle>,
    /// The current or last run's figures.
    pub run: Option<RunFigures>,
    /// A sentence in the footer until `note_until` on the clock.
    pub note: Option<Note>,
    pub note_until: Millis,
    /// The strategy the engine uses now (a read-only console cannot know).
    pub strategy: Option<Strategy>,
    /// Attempts and rejections of the runs already finished, so rates run on across runs.
    pub attempts_before: u64,
    pub rejections_before: u64,
    /// Why the last reading failed, if it did.
    pub read_error: Option<String>,
    /// The terminal's size when last drawn (for the mouse).
    pub area: Rect,
    pub quit: bool,
    /// Who the operator log names for changes made here.
    pub operator: String,
    /// Where `e` in Compare writes the table.
    pub export_dir: std::path::PathBuf,
    /// The display is frozen at this time: readings wait in `held_back`.
    pub frozen: Option<Millis>,
    pub held_back: Option<Box<Snapshot>>,
    /// Something changed that the next reading should show now, not at the next tick.
    pub refresh_wanted: bool,
    /// The sale this process serves over HTTP (`tui --serve`), for the audience to join.
    pub served: Option<Served>,
    commands: VecDeque<Command>,
}

impl App {
    pub fn new(source: Source, clock: Clock, options: Options) -> App {
        let strategy = source.engine().map(Engine::strategy);
        let mut app = App {
            source,
            clock,
            options,
            tab: Tab::Sale,
            modal: None,
            sale: SaleState {
                focus: SalePanel::Holds,
                holds_scroll: 0,
                orders_scroll: 0,
                product: 0,
                product_pinned: false,
            },
            shop: ShopState::default(),
            lab: LabState::default(),
            compare: CompareState::default(),
            snapshot: Snapshot::default(),
            history: History::default(),
            swarm: None,
            run: None,
            note: None,
            note_until: 0,
            strategy,
            attempts_before: 0,
            rejections_before: 0,
            read_error: None,
            area: Rect::new(0, 0, 80, 24),
            quit: false,
            operator: operator_name(),
            export_dir: std::path::PathBuf::from("."),
            frozen: None,
            held_back: None,
            refresh_wanted: false,
            served: None,
            commands: VecDeque::new(),
        };
        if app.source.engine().is_some() {
            // A monitor elsewhere shows what this console sells with, not the defaults.
            app.queue(Command::PublishRunning);
        }
        app
    }

    pub fn theme(&self) -> &'static Theme {
        self.options.theme
    }

    pub fn read_only(&self) -> bool {
        matches!(self.source, Source::ReadOnly(_))
    }

    /// What the next database reading should fetch, given where the lists are scrolled.
    pub fn query(&self) -> Query {
        let mut follow: Vec<_> = self
            .shop
            .mine
            .iter()
            .filter(|m| m.status == MyStatus::Active && m.hold.kind == HoldKind::Held)
            .map(|m| m.hold.id)
            .collect();
        follow.truncate(32);
        Query {
            // A window around the scroll position, so small moves need no new reading.
            holds_offset: self.sale.holds_scroll.saturating_sub(50),
            holds_limit: 200,
            orders_limit: (self.sale.orders_scroll + 100).min(5000),
            follow,
            runs_known: self.compare.stored,
            // The poller asks every few readings; a reading made here always does.
            returned: true,
        }
    }

    /// Reads the database now and applies the reading (tests, and the first frame).
    pub fn refresh(&mut self) {
        let action = match self.source.reader().read(&self.query(), self.clock.now()) {
            Ok(snap) => Action::Refreshed(Box::new(snap)),
            Err(e) => Action::RefreshFailed(e.to_string()),
        };
        update(self, action);
    }

    /// Commands queued by `update`, for the runtime to run off the drawing thread.
    pub fn take_commands(&mut self) -> Vec<Command> {
        self.commands.drain(..).collect()
    }

    /// Runs queued commands here, in order, until none are left (tests).
    pub fn settle(&mut self) {
        while let Some(command) = self.commands.pop_front() {
            if let Some(action) = command.run(self.source.engine(), &self.operator) {
                update(self, action);
            }
        }
    }

    /// The product the Sale tab is about.
    pub fn focus_product(&self) -> Option<&crate::hold::Stock> {
        let n = self.snapshot.stock.len();
        if n == 0 {
            return None;
        }
        self.snapshot.stock.get(self.sale.product.min(n - 1))
    }

    /// The time the screen shows: now, or when the display was frozen.
    pub fn now(&self) -> Millis {
        self.frozen.unwrap_or_else(|| self.clock.now())
    }

    /// Sale time left until `at`, as the screen shows it (warp applied, frozen or not).
    pub fn time_left(&self, at: Millis) -> Duration {
        let left = u64::try_from((at - self.now()).max(0)).unwrap_or(0);
        Duration::from_millis(left.saturating_mul(u64::from(self.clock.warp())))
    }

    pub fn swarm_running(&self) -> bool {
        self.swarm.is_some()
    }

    pub(crate) fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.note = Some(Note::new(tone, text));
        self.note_until = self.clock.now() + 6000;
    }

    /// Queues work for the engine (run off the drawing thread by the runtime).
    pub(crate) fn queue(&mut self, command: Command) {
        if let Command::SetStrategy(s) | Command::Launch { strategy: s, .. } = &command
            && !self.servable(*s)
        {
            self.say(
                Tone::Warn,
                format!(
                    "{} takes no hold at add-to-cart, so phones would have nothing to pay: not while serving",
                    s.name()
                ),
            );
            return;
        }
        self.commands.push_back(command);
    }

    /// Whether the sale may sell with `strategy` now: any, unless it is served over HTTP.
    pub(crate) fn servable(&self, strategy: Strategy) -> bool {
        self.served.is_none() || crate::serve::servable(strategy).is_ok()
    }

    pub(crate) fn live(&mut self) -> bool {
        if self.read_only() {
            self.say(
                Tone::Warn,
                "Read-only monitor: changes are made in the console that runs the sale",
            );
            return false;
        }
        true
    }

    /// Stops a running swarm (quitting does this before it leaves).
    pub fn stop_swarm(&mut self) {
        if let Some(handle) = &self.swarm {
            handle.stop();
            if let Some(run) = &mut self.run {
                run.state = RunState::Stopping;
            }
        }
    }

    /// The session's running totals for the rate charts.
    fn totals(&self, at: Millis) -> Totals {
        let live = self.source.engine().is_some();
        let (attempts, rejections) = match (&self.run, &self.swarm) {
            (Some(run), Some(_)) => (
                self.attempts_before + run.live.attempts,
                self.rejections_before + run.live.rejected_total(),
            ),
            _ => (self.attempts_before, self.rejections_before),
        };
        Totals {
            at,
            holds: self.snapshot.holds_written,
            orders: self.snapshot.orders_written,
            attempts: live.then_some(attempts),
            rejections: live.then_some(rejections),
        }
    }

    pub(crate) fn product_name(&self, id: crate::ids::ProductId) -> String {
        self.snapshot
            .product(id)
            .map_or_else(|| format!("product #{}", id.0), |s| s.name.clone())
    }

    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.snapshot.rules.as_ref().map(|r| r.hold_ttl)
    }
}

/// The one place the console's state changes.
pub fn update(app: &mut App, action: Action) {
    match action {
        Action::Scroll(_) | Action::Top | Action::Bottom | Action::ScrollAt { .. } => {
            scroll::update(app, &action);
        }
        Action::Quit => {
            app.stop_swarm();
            app.quit = true;
        }
        Action::NextTab => show(app, app.tab.next()),
        Action::PrevTab => show(app, app.tab.prev()),
        Action::GoTo(tab) => show(app, tab),
        Action::Lab(m) => lab::update(app, m),
        Action::ToggleHelp => {
            app.modal = match app.modal {
                Some(Modal::Help { .. }) => None,
                _ => Some(Modal::Help { scroll: 0 }),
            };
        }
        Action::CloseModal => app.modal = None,
        Action::FocusNext
        | Action::FocusPrev
        | Action::NextProduct
        | Action::PrevProduct
        | Action::OpenSwarmForm
        | Action::StopSwarm
        | Action::NextStrategy
        | Action::PrevStrategy
        | Action::OpenRestock
        | Action::AskReset
        | Action::OpenTtl
        | Action::OpenWarp => sale::update(app, action),
        Action::AddToCart | Action::Extend | Action::Pay | Action::Cancel => {
            storefront::update(app, &action);
        }
        Action::Form(key) => super::form::on_key(app, key),
        Action::Resized(area) => app.area = area,
        Action::Refreshed(snap) if app.frozen.is_some() => app.held_back = Some(snap),
        Action::Refreshed(snap) => refreshed(app, *snap),
        Action::Export => compare::export(app),
        Action::Freeze => match app.frozen.take() {
            Some(_) => {
                if let Some(snap) = app.held_back.take() {
                    refreshed(app, *snap);
                }
                app.say(Tone::Info, "Live again");
            }
            None => {
                app.frozen = Some(app.clock.now());
                app.note = None;
            }
        },
        Action::RefreshFailed(why) => app.read_error = Some(why),
        Action::Done(outcome) => done(app, outcome),
    }
}

/// The operator as the log names them: the console and the login that ran it.
fn operator_name() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("console ({user})"),
        _ => "console".to_owned(),
    }
}

/// Switches tab; the lab's view is made the first time its tab is shown.
pub fn show(app: &mut App, tab: Tab) {
    app.tab = tab;
    if tab == Tab::Lab && app.lab.view.is_none() {
        app.lab = LabState::with_view(crate::lab::ui::LabView::new(!app.theme().color));
    }
}

fn refreshed(app: &mut App, mut snap: Snapshot) {
    app.read_error = None;
    snap.returned = snap.returned.or(app.snapshot.returned);
    let now = snap.at;
    compare::refreshed(app, snap.runs.take());
    if app.read_only()
        && let Some(running) = &snap.running
    {
        // The seller's warp, so countdowns here run at the seller's pace.
        app.clock.set_warp(running.warp);
        app.strategy = Some(running.strategy);
    }
    app.snapshot = snap;
    if !app.sale.product_pinned {
        sale::follow_activity(app);
    }
    if !app.snapshot.stock.is_empty() {
        app.sale.product = app.sale.product.min(app.snapshot.stock.len() - 1);
        app.shop.selected = app.shop.selected.min(app.snapshot.stock.len() - 1);
    }
    let active = usize::try_from(app.snapshot.active_holds).unwrap_or(0);
    app.sale.holds_scroll = app.sale.holds_scroll.min(active.saturating_sub(1));
    app.sale.orders_scroll = app
        .sale
        .orders_scroll
        .min(app.snapshot.orders.len().saturating_sub(1));
    storefront::follow_my_holds(app, now);
    run::watch_swarm(app);
    let totals = app.totals(now);
    app.history.record(totals, &app.snapshot.stock);
    if app.note.is_some() && now >= app.note_until {
        app.note = None;
    }
}

fn done(app: &mut App, outcome: Outcome) {
    match outcome {
        Outcome::Reserved { .. }
        | Outcome::Paid { .. }
        | Outcome::Released { .. }
        | Outcome::Extended { .. } => storefront::done(app, outcome),
        Outcome::Restocked { .. }
        | Outcome::Reset(_)
        | Outcome::StrategySet(..)
        | Outcome::TtlSet(..) => sale::done(app, outcome),
        Outcome::Launched(_) | Outcome::Joined(_) => run::done(app, outcome),
        Outcome::WarpSet(..) => sale::done(app, outcome),
        Outcome::Exported(runs, result) => compare::exported(app, runs, result),
        Outcome::Quiet => {}
        Outcome::Lab(mode) => app.lab.mode = mode,
    }
}

impl App {
    /// The runtime reads again straight after this (a change the user made should show
    /// at once, not at the next tick). Inline in tests.
    pub(crate) fn refresh_soon(&mut self) {
        self.refresh_wanted = true;
    }
}
