//! The console's state and its one `update` function (the Elm architecture): every key,
//! every database reading and every finished command becomes an [`Action`], and only
//! `update` changes the [`App`]. Work that may wait on the database (a hold taken while
//! five thousand bots queue for the writer) is not done here: `update` queues a
//! [`Command`], the runtime runs it on a worker thread, and its outcome comes back as
//! another `Action`. Tests run the same commands inline, in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ratatui::layout::Rect;

use super::command::{Command, Launched, Outcome};
use super::form::{Modal, NumberField, SwarmForm};
use super::theme::Theme;
use crate::clock::{Clock, Millis};
use crate::engine::{CounterSnapshot, Engine};
use crate::error::{Error, Rejection};
use crate::hold::{Hold, HoldKind};
use crate::metrics::Percentiles;
use crate::monitor::{self, History, Query, Snapshot, Totals};
use crate::store::Store;
use crate::strategy::Strategy;
use crate::swarm::{SwarmHandle, SwarmReport};

/// Where the console's figures come from.
#[derive(Clone)]
pub enum Source {
    /// This process sells: it owns the engine and can run swarms and take holds.
    Live(Engine),
    /// Another process sells; this console only reads the file.
    ReadOnly(Store),
}

impl Source {
    pub fn store(&self) -> &Store {
        match self {
            Source::Live(engine) => engine.store(),
            Source::ReadOnly(store) => store,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Sale,
    Storefront,
    Lab,
    Compare,
}

impl Tab {
    /// In tab-bar order; the number keys follow it.
    pub const ALL: [Tab; 4] = [Tab::Sale, Tab::Storefront, Tab::Lab, Tab::Compare];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Sale => "Sale",
            Tab::Storefront => "Storefront",
            Tab::Lab => "Lab",
            Tab::Compare => "Compare",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// Which list of the Sale tab the arrow keys move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalePanel {
    Holds,
    Orders,
}

#[derive(Debug, Clone)]
pub struct SaleState {
    pub focus: SalePanel,
    /// First active hold shown (deadline order).
    pub holds_scroll: usize,
    /// First order shown (newest first).
    pub orders_scroll: usize,
    /// The product the big numbers, the chart and a new swarm are about.
    pub product: usize,
    /// The user chose the product (p, or a launch): stop following the activity.
    pub product_pinned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MyStatus {
    Active,
    Paid,
    Expired,
    Released,
}

/// A hold the storefront's buyer took.
#[derive(Debug, Clone)]
pub struct MyHold {
    pub hold: Hold,
    pub status: MyStatus,
    pub extensions: i64,
    pub paid_at: Option<Millis>,
}

#[derive(Debug, Clone, Default)]
pub struct ShopState {
    pub selected: usize,
    /// Newest last.
    pub mine: Vec<MyHold>,
    /// What the shop last told the buyer.
    pub note: Option<Note>,
    /// A request is on its way to the engine.
    pub waiting: bool,
}

/// The Lab tab's own state: the locking lab's view ([`crate::lab::ui::LabView`]), made
/// the first time the tab is shown. It owns its scenarios' scratch databases.
#[derive(Default)]
pub struct LabState {
    pub view: Option<crate::lab::ui::LabView>,
}

#[derive(Debug, Clone, Default)]
pub struct CompareState {
    /// Every finished swarm run of this session, oldest first.
    pub runs: Vec<RunRow>,
    pub selected: usize,
}

/// One finished run as the Compare tab shows it (the columns of `bench`), taken from the
/// run's report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub strategy: Strategy,
    pub buyers: u64,
    pub threads: usize,
    /// Units on sale when the run started.
    pub stock: i64,
    pub sold: i64,
    pub oversold: i64,
    pub fairness: f64,
    pub inversions: u64,
    pub attempts_per_sec: f64,
    pub holds_per_sec: f64,
    pub latency: Percentiles,
    pub conflicts: u64,
    pub busy: u64,
    pub elapsed_ms: u64,
    pub rejected_sold_out: u64,
    pub rejected_limit: u64,
    /// Conflict, busy, timeout and other rejections.
    pub rejected_other: u64,
}

impl RunRow {
    pub fn of(report: &SwarmReport, strategy: Strategy) -> RunRow {
        RunRow {
            strategy: report.strategy.parse().unwrap_or(strategy),
            buyers: report.buyers,
            threads: report.threads,
            stock: report.stock,
            sold: report.sold,
            oversold: report.oversold,
            fairness: report.fairness,
            inversions: report.inversions,
            attempts_per_sec: report.attempts_per_sec,
            holds_per_sec: report.holds_per_sec,
            latency: report.latency_us,
            conflicts: report.conflicts,
            busy: report.busy,
            elapsed_ms: report.elapsed_ms,
            rejected_sold_out: report.rejected_sold_out,
            rejected_limit: report.rejected_limit,
            rejected_other: report.rejected_conflict
                + report.rejected_busy
                + report.rejected_timeout
                + report.rejected_other,
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Stopping,
    Finished,
}

/// The current (or last) swarm run as the metrics panel shows it, read from the run's
/// own `Metrics` aggregate (the same numbers its report is made of).
#[derive(Debug, Clone)]
pub struct RunFigures {
    pub number: usize,
    pub sku: String,
    pub strategy: Strategy,
    pub buyers: u64,
    pub done: u64,
    pub attempts: u64,
    pub held: u64,
    pub paid: u64,
    pub rejected: [u64; Rejection::ALL.len()],
    pub latency: Percentiles,
    /// Engine counters since the run started.
    pub counters: CounterSnapshot,
    pub counters_before: CounterSnapshot,
    pub state: RunState,
    pub started: Instant,
    pub elapsed: Duration,
}

impl RunFigures {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// Everything that can happen to the console.
pub enum Action {
    Quit,
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
    NextTtl,
    PrevTtl,
    NextWarp,
    PrevWarp,
    AddToCart,
    Extend,
    Pay,
    Cancel,
    /// Keys inside the open dialog.
    Form(FormKey),
    /// A key for the Lab tab's view; if the lab does not use it, it works as anywhere
    /// else (a number switches tabs, Esc quits).
    Lab(ratatui::crossterm::event::KeyEvent),
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

const TTL_STEPS: [u64; 7] = [15, 30, 60, 120, 300, 600, 900];
const WARP_STEPS: [u32; 5] = [1, 10, 60, 300, 600];

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
    /// Something changed that the next reading should show now, not at the next tick.
    pub refresh_wanted: bool,
    commands: VecDeque<Command>,
}

impl App {
    pub fn new(source: Source, clock: Clock, options: Options) -> App {
        let strategy = source.engine().map(Engine::strategy);
        App {
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
            refresh_wanted: false,
            commands: VecDeque::new(),
        }
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
        }
    }

    /// Reads the database now and applies the reading (tests, and the first frame).
    pub fn refresh(&mut self) {
        let action = match read_snapshot(self.source.store(), &self.query(), self.clock.now()) {
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
            let Some(engine) = self.source.engine().cloned() else {
                continue;
            };
            let action = command.run(&engine);
            update(self, action);
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

    pub fn swarm_running(&self) -> bool {
        self.swarm.is_some()
    }

    fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.note = Some(Note::new(tone, text));
        self.note_until = self.clock.now() + 6000;
    }

    /// Queues work for the engine (run off the drawing thread by the runtime).
    pub(super) fn queue(&mut self, command: Command) {
        self.commands.push_back(command);
    }

    fn live(&mut self) -> bool {
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
                self.attempts_before + run.attempts,
                self.rejections_before + run.rejected_total(),
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

    fn list_len(&self) -> usize {
        match self.tab {
            Tab::Sale => match self.sale.focus {
                SalePanel::Holds => usize::try_from(self.snapshot.active_holds).unwrap_or(0),
                SalePanel::Orders => self.snapshot.orders.len(),
            },
            Tab::Storefront => self.snapshot.stock.len(),
            Tab::Compare => self.compare.runs.len(),
            Tab::Lab => 0,
        }
    }

    fn scroll_to(&mut self, position: usize) {
        let last = self.list_len().saturating_sub(1);
        let position = position.min(last);
        match self.tab {
            Tab::Sale => match self.sale.focus {
                SalePanel::Holds => self.sale.holds_scroll = position,
                SalePanel::Orders => self.sale.orders_scroll = position,
            },
            Tab::Storefront => self.shop.selected = position,
            Tab::Compare => self.compare.selected = position,
            Tab::Lab => {}
        }
    }

    fn position(&self) -> usize {
        match self.tab {
            Tab::Sale => match self.sale.focus {
                SalePanel::Holds => self.sale.holds_scroll,
                SalePanel::Orders => self.sale.orders_scroll,
            },
            Tab::Storefront => self.shop.selected,
            Tab::Compare => self.compare.selected,
            Tab::Lab => 0,
        }
    }

    /// The storefront's selected product.
    pub fn shop_product(&self) -> Option<&crate::hold::Stock> {
        let n = self.snapshot.stock.len();
        (n > 0).then(|| &self.snapshot.stock[self.shop.selected.min(n - 1)])
    }

    /// The buyer's open hold on the selected product, if any.
    pub fn my_active_hold(&self) -> Option<&MyHold> {
        let product = self.shop_product()?.product_id;
        self.shop
            .mine
            .iter()
            .find(|m| m.status == MyStatus::Active && m.hold.product_id == product)
    }

    fn product_name(&self, id: crate::ids::ProductId) -> String {
        self.snapshot
            .product(id)
            .map_or_else(|| format!("product #{}", id.0), |s| s.name.clone())
    }

    fn ttl(&self) -> Option<Duration> {
        self.snapshot.rules.as_ref().map(|r| r.hold_ttl)
    }
}

fn read_snapshot(store: &Store, query: &Query, at: Millis) -> crate::Result<Snapshot> {
    let mut conn = store.conn()?;
    monitor::read(&mut conn, query, at)
}

/// The one place the console's state changes.
pub fn update(app: &mut App, action: Action) {
    match action {
        Action::Quit => {
            app.stop_swarm();
            app.quit = true;
        }
        Action::NextTab => show(app, app.tab.next()),
        Action::PrevTab => show(app, app.tab.prev()),
        Action::GoTo(tab) => show(app, tab),
        Action::Lab(key) => {
            let used = app
                .lab
                .view
                .as_mut()
                .is_some_and(|view| view.handle_key(key));
            if !used && let Some(action) = super::keys::global_key(key) {
                update(app, action);
            }
        }
        Action::ToggleHelp => {
            app.modal = match app.modal {
                Some(Modal::Help { .. }) => None,
                _ => Some(Modal::Help { scroll: 0 }),
            };
        }
        Action::CloseModal => app.modal = None,
        Action::Scroll(by) => {
            if let Some(Modal::Help { scroll }) = &mut app.modal {
                let to = i64::from(*scroll) + i64::try_from(by).unwrap_or(0);
                *scroll = u16::try_from(to.clamp(0, 200)).unwrap_or(0);
                return;
            }
            let position = app.position().saturating_add_signed(by);
            app.scroll_to(position);
        }
        Action::Top => app.scroll_to(0),
        Action::Bottom => app.scroll_to(usize::MAX),
        Action::ScrollAt { column, row, down } => scroll_at(app, column, row, down),
        Action::FocusNext | Action::FocusPrev => {
            app.sale.focus = match app.sale.focus {
                SalePanel::Holds => SalePanel::Orders,
                SalePanel::Orders => SalePanel::Holds,
            };
        }
        Action::NextProduct | Action::PrevProduct => {
            let n = app.snapshot.stock.len().max(1);
            let step = if matches!(action, Action::NextProduct) {
                1
            } else {
                n - 1
            };
            app.sale.product = (app.sale.product + step) % n;
            app.sale.product_pinned = true;
        }
        Action::OpenSwarmForm => open_swarm_form(app),
        Action::StopSwarm => {
            if app.swarm.is_some() {
                app.stop_swarm();
                app.say(
                    Tone::Info,
                    "Stopping the swarm: buyers finish their current step",
                );
            } else {
                app.say(Tone::Info, "No swarm is running (n launches one)");
            }
        }
        Action::NextStrategy | Action::PrevStrategy => {
            if !app.live() {
                return;
            }
            let now = app.strategy.unwrap_or(Strategy::Immediate);
            let all = Strategy::ALL;
            let i = all.iter().position(|s| *s == now).unwrap_or(0);
            let next = if matches!(action, Action::NextStrategy) {
                all[(i + 1) % all.len()]
            } else {
                all[(i + all.len() - 1) % all.len()]
            };
            app.queue(Command::SetStrategy(next));
        }
        Action::OpenRestock => {
            if !app.live() {
                return;
            }
            if let Some(p) = app.focus_product() {
                let value = u64::try_from(p.total.max(p.available)).unwrap_or(50);
                app.modal = Some(Modal::Restock {
                    sku: p.sku.clone(),
                    field: NumberField::new(value),
                });
            }
        }
        Action::AskReset => {
            if !app.live() {
                return;
            }
            if app.swarm.is_some() {
                app.say(
                    Tone::Warn,
                    "A swarm is running: stop it first (x), then reset",
                );
                return;
            }
            app.modal = Some(Modal::Reset);
        }
        Action::NextTtl | Action::PrevTtl => {
            if !app.live() {
                return;
            }
            let now = app.ttl().map_or(600, |d| d.as_secs());
            let next = if matches!(action, Action::NextTtl) {
                TTL_STEPS
                    .iter()
                    .copied()
                    .find(|s| *s > now)
                    .unwrap_or(TTL_STEPS[0])
            } else {
                TTL_STEPS
                    .iter()
                    .rev()
                    .copied()
                    .find(|s| *s < now)
                    .unwrap_or(TTL_STEPS[TTL_STEPS.len() - 1])
            };
            app.queue(Command::SetTtl(Duration::from_secs(next)));
        }
        Action::NextWarp | Action::PrevWarp => {
            let now = app.clock.warp();
            let next = if matches!(action, Action::NextWarp) {
                WARP_STEPS
                    .iter()
                    .copied()
                    .find(|w| *w > now)
                    .unwrap_or(WARP_STEPS[0])
            } else {
                WARP_STEPS
                    .iter()
                    .rev()
                    .copied()
                    .find(|w| *w < now)
                    .unwrap_or(WARP_STEPS[WARP_STEPS.len() - 1])
            };
            app.clock.set_warp(next);
            let ttl = app.ttl().unwrap_or(Duration::from_secs(600));
            let real = Duration::from_millis(u64::try_from(app.clock.scaled(ttl)).unwrap_or(0));
            app.say(
                Tone::Info,
                format!(
                    "Warp ×{next}: a {} hold now lasts {} of real time (new holds)",
                    super::format::ttl(ttl),
                    super::format::countdown(real)
                ),
            );
        }
        Action::AddToCart => add_to_cart(app),
        Action::Extend | Action::Pay | Action::Cancel => on_my_hold(app, &action),
        Action::Form(key) => super::form::on_key(app, key),
        Action::Resized(area) => app.area = area,
        Action::Refreshed(snap) => refreshed(app, *snap),
        Action::RefreshFailed(why) => app.read_error = Some(why),
        Action::Done(outcome) => done(app, outcome),
    }
}

/// Switches tab; the lab's view is made the first time its tab is shown.
pub fn show(app: &mut App, tab: Tab) {
    app.tab = tab;
    if tab == Tab::Lab && app.lab.view.is_none() {
        app.lab.view = Some(crate::lab::ui::LabView::new(!app.theme().color));
    }
}

fn scroll_at(app: &mut App, column: u16, row: u16, down: bool) {
    let by = if down { 3 } else { -3 };
    if app.modal.is_some() {
        update(app, Action::Scroll(by));
        return;
    }
    if app.tab == Tab::Sale {
        let areas = super::ui::sale_areas(app, app.area);
        let at = ratatui::layout::Position::new(column, row);
        if areas.holds.contains(at) {
            app.sale.focus = SalePanel::Holds;
        } else if areas.orders.contains(at) {
            app.sale.focus = SalePanel::Orders;
        } else {
            return;
        }
    }
    update(app, Action::Scroll(by));
}

fn open_swarm_form(app: &mut App) {
    if !app.live() {
        return;
    }
    if app.swarm.is_some() {
        app.say(Tone::Warn, "A swarm is running: x stops it");
        return;
    }
    let strategy = app.strategy.unwrap_or(Strategy::Immediate);
    app.modal = Some(Modal::Swarm(SwarmForm::new(
        app.sale.product,
        strategy,
        app.focus_product().map_or(50, |p| p.total),
    )));
}

/// Queues a launch from the filled-in form.
pub(super) fn launch(app: &mut App, form: &SwarmForm) {
    let Some(sku) = app
        .snapshot
        .stock
        .get(form.product.min(app.snapshot.stock.len().saturating_sub(1)))
        .map(|s| s.sku.clone())
    else {
        return;
    };
    app.sale.product = form.product;
    app.sale.product_pinned = true;
    let mut config = crate::swarm::SwarmConfig::new(&sku, form.buyers.value.max(1));
    config.stock = Some(i64::try_from(form.stock.value).unwrap_or(i64::MAX));
    config.behaviour = form.behaviour().1;
    config.seed = u64::try_from(app.compare.runs.len()).unwrap_or(0) + 1;
    app.queue(Command::Launch {
        config: Box::new(config),
        strategy: form.strategy,
        fresh: form.fresh,
    });
    app.say(
        Tone::Info,
        format!(
            "Launching {} buyers at {} with {}…",
            super::format::thousands(form.buyers.value),
            sku,
            form.strategy.label()
        ),
    );
}

fn add_to_cart(app: &mut App) {
    if !app.live() {
        return;
    }
    let Some(product) = app.shop_product() else {
        return;
    };
    let sku = product.sku.clone();
    app.shop.waiting = true;
    app.shop.note = Some(Note::new(Tone::Info, format!("Adding {sku} to your cart…")));
    let buyer = app.options.buyer.clone();
    app.queue(Command::Reserve { sku, buyer });
}

fn on_my_hold(app: &mut App, action: &Action) {
    if !app.live() {
        return;
    }
    let Some(mine) = app.my_active_hold().cloned() else {
        app.shop.note = Some(Note::new(
            Tone::Info,
            "Nothing in your cart for this product: a adds it",
        ));
        return;
    };
    let hold = mine.hold;
    match action {
        Action::Extend if hold.kind == HoldKind::Cart => {
            app.shop.note = Some(Note::new(
                Tone::Warn,
                "Pay-first has no hold to extend: the unit is only claimed when you pay",
            ));
        }
        Action::Extend => app.queue(Command::Extend(hold)),
        Action::Pay => app.queue(Command::Checkout(hold)),
        _ => app.queue(Command::Release(hold)),
    }
    app.shop.waiting = true;
}

fn refreshed(app: &mut App, snap: Snapshot) {
    app.read_error = None;
    let now = snap.at;
    app.snapshot = snap;
    if !app.sale.product_pinned {
        follow_activity(app);
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
    follow_my_holds(app, now);
    watch_swarm(app);
    let totals = app.totals(now);
    app.history.record(totals, &app.snapshot.stock);
    if app.note.is_some() && now >= app.note_until {
        app.note = None;
    }
}

/// Until the user picks a product, the big numbers follow where the sale happens: the
/// product of the newest order, else of the hold that expires first.
fn follow_activity(app: &mut App) {
    let snap = &app.snapshot;
    let busy = snap
        .orders
        .first()
        .map(|o| o.product_id)
        .or_else(|| snap.holds.first().map(|h| h.product_id));
    if let Some(i) = busy.and_then(|id| snap.stock.iter().position(|s| s.product_id == id)) {
        app.sale.product = i;
    }
}

/// Notices what happened to the buyer's own holds since the last reading.
fn follow_my_holds(app: &mut App, now: Millis) {
    let mut expired = Vec::new();
    for mine in &mut app.shop.mine {
        if mine.status != MyStatus::Active {
            continue;
        }
        match mine.hold.kind {
            HoldKind::Held => {
                if let Some(f) = app.snapshot.followed.iter().find(|f| f.id == mine.hold.id) {
                    mine.extensions = f.extensions;
                    mine.hold.expires_at = f.expires_at;
                    mine.status = match f.status.as_str() {
                        "paid" => MyStatus::Paid,
                        "expired" => MyStatus::Expired,
                        "released" => MyStatus::Released,
                        _ => MyStatus::Active,
                    };
                }
            }
            HoldKind::Cart if now >= mine.hold.expires_at => mine.status = MyStatus::Expired,
            HoldKind::Cart => {}
        }
        if mine.status == MyStatus::Expired {
            expired.push(mine.hold.product_id);
        }
    }
    for product in expired {
        let name = app.product_name(product);
        app.shop.note = Some(Note::new(
            Tone::Bad,
            format!("Your hold on {name} expired: the unit went back on sale. Add it again (a)"),
        ));
    }
}

/// Folds the running swarm's figures in, and collects it when it has finished.
fn watch_swarm(app: &mut App) {
    let Some(handle) = &app.swarm else {
        return;
    };
    let counters = app
        .source
        .engine()
        .map(Engine::counters)
        .unwrap_or_default();
    if let Some(run) = &mut app.run {
        {
            // Held only to copy a few numbers: the collector waits at most this long.
            let m = handle.metrics.lock();
            run.attempts = m.attempts;
            run.held = m.held;
            run.paid = m.paid;
            run.rejected = m.rejected;
            run.latency = m.latency_us();
        }
        run.done = handle
            .progress
            .buyers_done
            .load(std::sync::atomic::Ordering::Relaxed);
        run.counters = counter_delta(counters, run.counters_before);
        run.elapsed = run.started.elapsed();
    }
    if handle.is_finished()
        && let Some(handle) = app.swarm.take()
    {
        if let Some(run) = &mut app.run {
            run.state = RunState::Finished;
            app.attempts_before += run.attempts;
            app.rejections_before += run.rejected_total();
        }
        app.queue(Command::Join(Box::new(handle)));
    }
}

fn counter_delta(now: CounterSnapshot, before: CounterSnapshot) -> CounterSnapshot {
    CounterSnapshot {
        conflicts: now.conflicts.saturating_sub(before.conflicts),
        retries: now.retries.saturating_sub(before.retries),
        busy: now.busy.saturating_sub(before.busy),
        refunds: now.refunds.saturating_sub(before.refunds),
        rollbacks: now.rollbacks.saturating_sub(before.rollbacks),
        commits: now.commits.saturating_sub(before.commits),
    }
}

fn done(app: &mut App, outcome: Outcome) {
    use super::format::countdown;
    match outcome {
        Outcome::Reserved {
            sku,
            result,
            may_return,
        } => {
            app.shop.waiting = false;
            let name = app
                .snapshot
                .stock
                .iter()
                .find(|s| s.sku == sku)
                .map_or(sku.clone(), |s| s.name.clone());
            let note = match result {
                Ok(hold) => {
                    let left = countdown(app.clock.sale_time_left(hold.expires_at));
                    let text = if hold.kind == HoldKind::Cart {
                        format!(
                            "{name} is in your cart (pay-first: the unit is claimed when you pay, within {left})"
                        )
                    } else {
                        format!("{name} is yours for {left}: pay (p) before the countdown ends")
                    };
                    app.shop.mine.push(MyHold {
                        hold,
                        status: MyStatus::Active,
                        extensions: 0,
                        paid_at: None,
                    });
                    if app.shop.mine.len() > 12 {
                        app.shop.mine.remove(0);
                    }
                    Note::new(Tone::Good, text)
                }
                Err(Error::SoldOut { .. }) => Note::new(Tone::Bad, sold_out_text(app, may_return)),
                Err(Error::LimitReached { held, limit, .. }) => Note::new(
                    Tone::Warn,
                    format!(
                        "Per-buyer limit: you already have {held} of at most {limit} {name} (in your cart or paid)"
                    ),
                ),
                Err(e) => Note::new(Tone::Bad, e.to_string()),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Paid { hold, result } => {
            app.shop.waiting = false;
            let note = match result {
                Ok(order) => {
                    if let Some(m) = app.shop.mine.iter_mut().find(|m| m.hold.id == hold) {
                        m.status = MyStatus::Paid;
                        m.paid_at = Some(order.paid_at);
                    }
                    let name = app.product_name(order.product_id);
                    Note::new(
                        Tone::Good,
                        format!(
                            "Paid: {name} is yours, {} after you added it to the cart",
                            super::format::span(order.paid_at - order.held_at)
                        ),
                    )
                }
                Err(e) => my_hold_failed(app, hold, &e),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Released { hold, result } => {
            app.shop.waiting = false;
            let note = match result {
                Ok(()) => {
                    if let Some(m) = app.shop.mine.iter_mut().find(|m| m.hold.id == hold) {
                        m.status = MyStatus::Released;
                    }
                    Note::new(
                        Tone::Info,
                        "Removed from your cart: the unit is back on sale for the others",
                    )
                }
                Err(e) => my_hold_failed(app, hold, &e),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Extended { hold, result } => {
            app.shop.waiting = false;
            let note = match result {
                Ok(extended) => {
                    let left = countdown(app.clock.sale_time_left(extended.expires_at));
                    if let Some(m) = app.shop.mine.iter_mut().find(|m| m.hold.id == hold) {
                        m.hold.expires_at = extended.expires_at;
                        m.extensions += 1;
                    }
                    Note::new(Tone::Good, format!("Extended: your hold now runs {left}"))
                }
                Err(Error::ExtendLimit { why, .. }) => {
                    Note::new(Tone::Warn, format!("Cannot extend again: {why}"))
                }
                Err(e) => my_hold_failed(app, hold, &e),
            };
            app.shop.note = Some(note);
            app.refresh_soon();
        }
        Outcome::Restocked {
            sku,
            available,
            result,
        } => match result {
            Ok(()) => app.say(
                Tone::Good,
                format!("{sku} restocked: {available} units available"),
            ),
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        Outcome::Reset(result) => match result {
            Ok(()) => {
                app.shop.mine.clear();
                app.shop.note = None;
                app.sale.holds_scroll = 0;
                app.sale.orders_scroll = 0;
                app.say(
                    Tone::Good,
                    "Sale reset: holds and orders deleted, every product back to its full stock",
                );
                app.refresh_soon();
            }
            Err(e) => app.say(Tone::Bad, format!("Reset failed: {e}")),
        },
        Outcome::StrategySet(strategy, result) => match result {
            Ok(()) => {
                app.strategy = Some(strategy);
                let tone = if strategy.is_safe() {
                    Tone::Info
                } else {
                    Tone::Bad
                };
                app.say(
                    tone,
                    format!("Strategy {}: {}", strategy.label(), strategy.summary()),
                );
            }
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        Outcome::TtlSet(ttl, result) => match result {
            Ok(()) => {
                if let Some(rules) = &mut app.snapshot.rules {
                    rules.hold_ttl = ttl;
                }
                app.say(
                    Tone::Info,
                    format!(
                        "Hold TTL {} for new holds (extensions may reach the sale's longest hold)",
                        super::format::ttl(ttl)
                    ),
                );
            }
            Err(e) => app.say(Tone::Bad, e.to_string()),
        },
        Outcome::Launched(result) => match *result {
            Ok(launched) => started(app, launched),
            Err(e) => app.say(Tone::Bad, format!("The swarm did not start: {e}")),
        },
        Outcome::Joined(result) => match *result {
            Ok(report) => {
                use super::format::thousands_i;
                let number = app.compare.runs.len() + 1;
                let verdict = if report.oversold > 0 {
                    format!("OVERSOLD by {}", thousands_i(report.oversold))
                } else {
                    "none oversold".to_owned()
                };
                let text = format!(
                    "Run {number} {}: sold {} of {}, {verdict} (tab 4 compares)",
                    report.strategy,
                    thousands_i(report.sold),
                    thousands_i(report.stock),
                );
                let tone = if report.oversold > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                };
                let strategy = app.run.as_ref().map_or(Strategy::Immediate, |r| r.strategy);
                app.compare.runs.push(RunRow::of(&report, strategy));
                app.compare.selected = app.compare.runs.len() - 1;
                app.say(tone, text);
                app.refresh_soon();
            }
            Err(e) => app.say(Tone::Bad, format!("The swarm failed: {e}")),
        },
    }
}

fn started(app: &mut App, launched: Launched) {
    app.strategy = Some(launched.strategy);
    let number = app.compare.runs.len() + 1;
    app.run = Some(RunFigures {
        number,
        sku: launched.sku,
        strategy: launched.strategy,
        buyers: launched.handle.buyers,
        done: 0,
        attempts: 0,
        held: 0,
        paid: 0,
        rejected: [0; Rejection::ALL.len()],
        latency: Percentiles::default(),
        counters: CounterSnapshot::default(),
        counters_before: launched.counters_before,
        state: RunState::Running,
        started: launched.handle.started,
        elapsed: Duration::ZERO,
    });
    app.swarm = Some(launched.handle);
    app.say(
        if launched.strategy.is_safe() {
            Tone::Info
        } else {
            Tone::Warn
        },
        format!("Run {number} started with {}", launched.strategy.label()),
    );
    if launched.fresh {
        app.shop.mine.clear();
        app.shop.note = None;
    }
}

fn sold_out_text(app: &App, may_return: Option<monitor::MayReturn>) -> String {
    match may_return {
        Some(back) if back.holds > 0 => {
            let last = back.last.unwrap_or(app.clock.now());
            let within = super::format::countdown(app.clock.sale_time_left(last));
            let holds = if back.holds == 1 {
                "1 hold".to_owned()
            } else {
                format!("{} holds", super::format::thousands(back.holds))
            };
            format!("Sold out — {holds} may return within {within}")
        }
        _ => "Sold out — every unit is paid for; none can come back".into(),
    }
}

fn my_hold_failed(app: &mut App, hold: crate::ids::HoldId, e: &Error) -> Note {
    let mine = app.shop.mine.iter_mut().find(|m| m.hold.id == hold);
    match e {
        Error::HoldExpired { .. } => {
            if let Some(m) = mine {
                m.status = MyStatus::Expired;
            }
            Note::new(
                Tone::Bad,
                "Too late: your hold expired and the unit went back on sale. Add it again (a)",
            )
        }
        Error::Refunded { product } => {
            if let Some(m) = mine {
                m.status = MyStatus::Released;
            }
            Note::new(
                Tone::Bad,
                format!("Refunded: {product} sold out before your payment went through"),
            )
        }
        Error::HoldClosed { status, .. } => Note::new(
            Tone::Warn,
            format!("That hold is already {status}; nothing changed"),
        ),
        other => Note::new(Tone::Bad, other.to_string()),
    }
}

impl App {
    /// The runtime reads again straight after this (a change the user made should show
    /// at once, not at the next tick). Inline in tests.
    fn refresh_soon(&mut self) {
        self.refresh_wanted = true;
    }
}
