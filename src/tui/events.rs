//! Where the console's events come from, each on a thread of its own, all into one
//! channel the runtime `select!`s on: the terminal (keys, mouse, resizes), the database
//! reader, and the command worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use ratatui::crossterm::event;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::REFRESH_EVERY;
use super::app::{Action, App};
use super::command::Command;
use crate::clock::Clock;
use crate::engine::Engine;
use crate::monitor::{Query, Reader};

pub enum Incoming {
    Terminal(event::Event),
    Action(Action),
    Quit(&'static str),
}

pub struct Sources {
    pub incoming: UnboundedReceiver<Incoming>,
    pub poller: Poller,
    pub worker: Worker,
    pub input: Input,
}

/// The terminal reader. It stops at the flag and is not joined: it may sit in a
/// 100 ms poll when the console leaves.
pub struct Input {
    stop: Arc<AtomicBool>,
}

impl Input {
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Sources {
    pub fn start(app: &App) -> Sources {
        let (tx, incoming) = unbounded_channel();
        let input_stop = Arc::new(AtomicBool::new(false));
        spawn_input(tx.clone(), Arc::clone(&input_stop));
        let poller = Poller::spawn(
            app.source.reader(),
            app.clock.clone(),
            app.query(),
            tx.clone(),
        );
        let worker = Worker::spawn(app.source.engine().cloned(), app.operator.clone(), tx);
        Sources {
            incoming,
            poller,
            worker,
            input: Input { stop: input_stop },
        }
    }
}

fn spawn_input(tx: UnboundedSender<Incoming>, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("console-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(100)) {
                    Ok(true) => match event::read() {
                        Ok(e) => {
                            if tx.send(Incoming::Terminal(e)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::error!("reading the terminal failed: {e}");
                            let _ = tx.send(Incoming::Quit("terminal closed"));
                            return;
                        }
                    },
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!("polling the terminal failed: {e}");
                        let _ = tx.send(Incoming::Quit("terminal closed"));
                        return;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the input thread: {e}");
    }
}

/// Reads the database every [`REFRESH_EVERY`] (or at once when poked) on a connection
/// of its own, and sends each reading.
pub struct Poller {
    query: Arc<Mutex<Query>>,
    wake: crossbeam_channel::Sender<()>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    fn spawn(reader: Reader, clock: Clock, query: Query, tx: UnboundedSender<Incoming>) -> Poller {
        let query = Arc::new(Mutex::new(query));
        let (wake, woken) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let query = Arc::clone(&query);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("console-reader".into())
                .spawn(move || {
                    let mut session = match reader.session() {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = tx.send(Incoming::Action(Action::RefreshFailed(e.to_string())));
                            return;
                        }
                    };
                    let mut readings: u64 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let mut q = query.lock().clone();
                        // Counting returned units scans closed holds: every 2 s is enough.
                        q.returned = readings.is_multiple_of(10);
                        readings += 1;
                        let action = match session.read(&q, clock.now()) {
                            Ok(snap) => Action::Refreshed(Box::new(snap)),
                            Err(e) => Action::RefreshFailed(e.to_string()),
                        };
                        if tx.send(Incoming::Action(action)).is_err() {
                            return;
                        }
                        let _ = woken.recv_timeout(REFRESH_EVERY);
                    }
                })
                .map_err(|e| tracing::error!("could not start the reader: {e}"))
                .ok()
        };
        Poller {
            query,
            wake,
            stop,
            thread,
        }
    }

    /// Reads with this query from now on, starting now.
    pub fn set(&self, query: Query) {
        *self.query.lock() = query;
        let _ = self.wake.try_send(());
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs commands one after another, in the order they were queued.
pub struct Worker {
    tx: Option<crossbeam_channel::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(engine: Option<Engine>, who: String, out: UnboundedSender<Incoming>) -> Worker {
        let (tx, rx) = crossbeam_channel::unbounded::<Command>();
        let thread = std::thread::Builder::new()
            .name("console-worker".into())
            .spawn(move || {
                for command in rx {
                    if let Some(action) = command.run(engine.as_ref(), &who)
                        && out.send(Incoming::Action(action)).is_err()
                    {
                        return;
                    }
                }
            })
            .map_err(|e| tracing::error!("could not start the worker: {e}"))
            .ok();
        Worker {
            tx: Some(tx),
            thread,
        }
    }

    pub fn send(&self, command: Command) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(command);
        }
    }

    /// Lets the worker finish what it has and waits for it.
    pub fn stop(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
