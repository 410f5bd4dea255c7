//! The ceiling the queue strategy's hand-off puts on `flashsale bench` on this machine
//! (issue 13): buyer threads each hand a request to one writer thread and park until
//! it answers; the writer takes whatever is waiting (up to 512), spends `WORK` µs of CPU
//! per request in place of SQLite, and leaves the waking to a waker thread — the
//! engine's writer loop (`src/engine/writer.rs`) with no database.
//!
//! ```sh
//! cargo bench --bench handoff -- 1000 0 7.0 4.0
//! cargo bench --bench handoff -- 1000 0 7.0 4.0 --futex-block 32
//! ```
//!
//! Arguments: the number of buyer threads, then writer work per request in µs (one
//! measurement each, 3 s after 1 s of warm-up). With no work it is what waking and
//! switching a thousand threads costs; with the writer's measured CPU per hold it is
//! the most the queue could sell here. `cargo bench` alone runs a short smoke size.
//!
//! `--futex-block N` is the engine's hand-off (`src/engine/reply.rs`, N = 32, at most
//! 32): each request takes a ticket, tickets go N to a futex word, each its own bit,
//! and the waker wakes the answered bits of each word with one `FUTEX_WAKE_BITSET`.
//! Without it, each buyer is woken with an unpark of its own, as the engine did before.
//! Measured here: the no-work ceiling rose from 210–259k to 356–367k answers/s, and
//! 7 µs of work stayed at ~140k both ways — the writer's own 1/7 µs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

struct Slot {
    answered: Mutex<bool>,
    waiter: Thread,
}

fn main() {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let block = args.iter().position(|a| a == "--futex-block").map(|at| {
        let n: u64 = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .expect("--futex-block N");
        args.drain(at..at + 2);
        n.max(1)
    });
    let (threads, works, seconds) = match args.split_first() {
        Some((n, works)) if !works.is_empty() => (
            n.parse().expect("a number of threads"),
            works
                .iter()
                .map(|w| w.parse().expect("µs of work"))
                .collect(),
            3.0,
        ),
        _ => (100, vec![0.0, 7.0], 0.5),
    };
    for work in works {
        let rate = match block {
            None => measure(threads, work, seconds),
            Some(block) => futex_blocks::measure(threads, block, work, seconds),
        };
        let how = block.map_or_else(String::new, |b| format!(" (futex per {b} tickets)"));
        println!(
            "{threads} threads, {work:.1} µs of writer work a request{how}: {rate:.0} answers/s"
        );
    }
}

/// The writer's stand-in, on a thread of its own: takes whatever waits (up to 512),
/// spins `work_us` per request in place of SQLite, and hands the batch to `answer`
/// (false: nobody takes answers any more).
fn writer<T: Send + 'static>(
    incoming: crossbeam_channel::Receiver<T>,
    work_us: f64,
    mut answer: impl FnMut(Vec<T>) -> bool + Send + 'static,
) {
    let work = Duration::from_secs_f64(work_us / 1e6);
    std::thread::spawn(move || {
        while let Ok(first) = incoming.recv() {
            let mut batch = vec![first];
            batch.extend(incoming.try_iter().take(511));
            let busy = Instant::now();
            let spend = work.mul_f64(batch.len() as f64);
            while busy.elapsed() < spend {
                std::hint::spin_loop();
            }
            if !answer(batch) {
                return;
            }
        }
    });
}

/// Runs `threads` buyers, each asking with the closure `make` gives it (false: the
/// writer is gone), and counts answers from 1/3 of `seconds` in, for `seconds`.
fn buyers<F: FnMut() -> bool + Send + 'static>(
    threads: usize,
    seconds: f64,
    make: impl Fn() -> F,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let running: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, answered, mut ask) = (stop.clone(), answered.clone(), make());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) && ask() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .expect("a buyer thread")
        })
        .collect();
    // The buyers hold the only ways in now: when they end, the writer does.
    drop(make);
    std::thread::sleep(Duration::from_secs_f64(seconds / 3.0));
    let (before, started) = (answered.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let rate = (answered.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for b in running {
        let _ = b.join();
    }
    rate
}

fn measure(threads: usize, work_us: f64, seconds: f64) -> f64 {
    let (submit, incoming) = crossbeam_channel::unbounded::<Arc<Slot>>();
    let (wake, to_wake) = crossbeam_channel::unbounded::<Vec<Thread>>();
    std::thread::spawn(move || {
        for threads in to_wake {
            threads.iter().for_each(Thread::unpark);
        }
    });
    writer(incoming, work_us, move |batch| {
        let mut wakes = Vec::with_capacity(batch.len());
        for slot in batch {
            *slot.answered.lock() = true;
            wakes.push(slot.waiter.clone());
        }
        wake.send(wakes).is_ok()
    });
    buyers(threads, seconds, move || {
        let submit = submit.clone();
        move || {
            let slot = Arc::new(Slot {
                answered: Mutex::new(false),
                waiter: std::thread::current(),
            });
            if submit.send(Arc::clone(&slot)).is_err() {
                return false;
            }
            while !*slot.answered.lock() {
                std::thread::park();
            }
            true
        }
    })
}

mod futex_blocks {
    use super::*;
    use linux_futex::{Futex, Private};

    /// Futex words in the ring tickets are spread over.
    const FUTEXES: usize = 4096;

    struct Slot {
        answered: AtomicBool,
        futex: usize,
        bit: u32,
    }

    pub fn measure(threads: usize, per_futex: u64, work_us: f64, seconds: f64) -> f64 {
        let per_futex = per_futex.min(32);
        let futexes: Arc<Vec<Futex<Private>>> =
            Arc::new((0..FUTEXES).map(|_| Futex::new(0)).collect());
        let tickets = Arc::new(AtomicU64::new(0));
        let (submit, incoming) = crossbeam_channel::unbounded::<Arc<Slot>>();
        let (wake, to_wake) = crossbeam_channel::unbounded::<Vec<(usize, u32)>>();
        let waking = Arc::clone(&futexes);
        std::thread::spawn(move || {
            for group in to_wake {
                for (at, bits) in group {
                    waking[at].value.fetch_add(1, Ordering::Release);
                    waking[at].wake_bitset(i32::MAX, bits);
                }
            }
        });
        writer(incoming, work_us, move |batch| {
            let mut group: Vec<(usize, u32)> = Vec::new();
            for slot in batch {
                slot.answered.store(true, Ordering::Release);
                match group.iter_mut().find(|(at, _)| *at == slot.futex) {
                    Some((_, bits)) => *bits |= slot.bit,
                    None => group.push((slot.futex, slot.bit)),
                }
            }
            wake.send(group).is_ok()
        });
        buyers(threads, seconds, move || {
            let (submit, futexes, tickets) = (submit.clone(), futexes.clone(), tickets.clone());
            move || {
                let ticket = tickets.fetch_add(1, Ordering::Relaxed);
                let futex = usize::try_from(ticket / per_futex).unwrap_or(0) % FUTEXES;
                let slot = Arc::new(Slot {
                    answered: AtomicBool::new(false),
                    futex,
                    bit: 1 << (ticket % per_futex),
                });
                if submit.send(Arc::clone(&slot)).is_err() {
                    return false;
                }
                loop {
                    // Read before looking: a wake after this read changes it, and the
                    // wait then returns at once.
                    let seen = futexes[futex].value.load(Ordering::Acquire);
                    if slot.answered.load(Ordering::Acquire) {
                        return true;
                    }
                    let _ = futexes[futex].wait_bitset(seen, slot.bit);
                }
            }
        })
    }
}
