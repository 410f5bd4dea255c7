//! The log file: lines gathered in memory and written by a thread of their own a few
//! times a second.
//!
//! Why not `tracing_appender::non_blocking`: its worker thread blocks on a channel and
//! is woken for every line. Serving add-to-carts over HTTP at 30,000 a second, that
//! thread and the wake-ups it cost the request threads took about a tenth of the
//! server's CPU (perf). Here a line costs a lock and a copy; nobody is woken until the
//! next flush, and no request thread ever writes to the disk.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

mod line;

use parking_lot::{Condvar, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Past this many bytes waiting (the disk has stalled), new lines are dropped and
/// counted rather than growing memory without bound.
const MOST_WAITING: usize = 16 << 20;

/// Logs to `path` (appending); `FLASHSALE_LOG` sets the level (error, warn, info,
/// debug, trace; info by default). Lines are written until the guard is dropped.
pub(super) fn start_log(path: &Path) -> Option<LogGuard> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()?;
    let level = std::env::var("FLASHSALE_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let (writer, guard) = buffered(file);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .event_format(line::Line)
        .with_max_level(level)
        .try_init()
        .ok()?;
    Some(guard)
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    dropped: u64,
    stopped: bool,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    stop: Condvar,
}

/// Hands out writers that append to the lines waiting in memory.
#[derive(Clone)]
pub(super) struct LogWriter {
    shared: Arc<Shared>,
}

/// Writes what is left, then lets the flushing thread end.
pub(super) struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer for the subscriber and the guard that ends its flushing thread.
fn buffered(mut file: File) -> (LogWriter, LogGuard) {
    let shared = Arc::new(Shared::default());
    let flushing = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("log".into())
        .spawn(move || flush_until_stopped(&flushing, &mut file))
        .ok();
    (
        LogWriter {
            shared: Arc::clone(&shared),
        },
        LogGuard { shared, thread },
    )
}

fn flush_until_stopped(shared: &Shared, file: &mut File) {
    let mut spare = Vec::new();
    loop {
        let (dropped, stopped) = {
            let mut waiting = shared.waiting.lock();
            if !waiting.stopped {
                shared.stop.wait_for(&mut waiting, FLUSH_EVERY);
            }
            std::mem::swap(&mut waiting.bytes, &mut spare);
            (std::mem::take(&mut waiting.dropped), waiting.stopped)
        };
        // A log that cannot be written loses its lines, never the sale.
        let _ = file.write_all(&spare);
        if dropped > 0 {
            let _ = writeln!(
                file,
                "flashsale: {dropped} log lines dropped: the disk took the log more slowly than lines came"
            );
        }
        spare.clear();
        if stopped {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.waiting.lock().stopped = true;
        self.shared.stop.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer (the subscriber writes each line with one `write_all`).
pub(super) struct Line<'a> {
    shared: &'a Shared,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut waiting = self.shared.waiting.lock();
        if waiting.bytes.len() + buf.len() > MOST_WAITING {
            waiting.dropped += 1;
        } else {
            waiting.bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_when_the_guard_drops_and_a_stalled_disk_drops_lines_not_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        let (writer, guard) = buffered(File::create(&path).unwrap());
        writer.make_writer().write_all(b"one\n").unwrap();
        writer.make_writer().write_all(b"two\n").unwrap();
        drop(guard);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");

        let shared = Shared::default();
        let mut line = Line { shared: &shared };
        let big = vec![b'x'; MOST_WAITING / 2 + 1];
        line.write_all(&big).unwrap();
        line.write_all(&big).unwrap();
        let waiting = shared.waiting.lock();
        assert_eq!((waiting.bytes.len(), waiting.dropped), (big.len(), 1));
    }
}
