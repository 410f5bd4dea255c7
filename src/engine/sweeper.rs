//! The sweeper: a background thread that expires holds when their deadline passes and
//! puts the units back on sale. It sleeps until the next known deadline (at most a short
//! poll, since another process may add holds) and is woken early when a hold with an
//! earlier deadline appears. It holds only a weak reference, so dropping the last engine
//! handle stops it.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::Inner;

/// How often the sweeper re-reads the earliest deadline from the database, for holds
/// taken by another process.
const POLL: Duration = Duration::from_millis(250);

pub(super) struct SweeperHandle {
    wake: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl SweeperHandle {
    pub(super) fn wake(&self) {
        // A full channel already means "wake up": nothing to add.
        let _ = self.wake.try_send(());
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        // Dropping `wake` disconnects the channel, which ends the loop.
        let (dead, _) = bounded(1);
        self.wake = dead;
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

pub(super) fn spawn(engine: Weak<Inner>) -> Option<SweeperHandle> {
    let (wake, woken) = bounded(1);
    let thread = std::thread::Builder::new()
        .name("sweeper".into())
        .stack_size(256 * 1024)
        .spawn(move || run(&engine, &woken))
        .ok()?;
    Some(SweeperHandle {
        wake,
        thread: Some(thread),
    })
}

fn run(engine: &Weak<Inner>, woken: &Receiver<()>) {
    let mut last_poll = Instant::now();
    loop {
        let wait = {
            let Some(inner) = engine.upgrade() else {
                return;
            };
            if last_poll.elapsed() >= POLL {
                if let Err(e) = inner.refresh_deadline() {
                    tracing::warn!("sweeper could not read deadlines: {e}");
                }
                last_poll = Instant::now();
            }
            if inner.due()
                && let Err(e) = inner.sweep()
            {
                tracing::warn!("sweeper: {e}");
            }
            let next = inner.next_deadline.load(Ordering::Acquire);
            let until = next.saturating_sub(inner.clock.now());
            let until = Duration::from_millis(u64::try_from(until).unwrap_or(0));
            if inner.clock.is_manual() {
                POLL
            } else {
                until.clamp(Duration::from_millis(1), POLL)
            }
        };
        match woken.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
