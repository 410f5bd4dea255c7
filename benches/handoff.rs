//! The ceiling the queue strategy's hand-off puts on `flashsale bench` on this machine
//! (issue 13): buyer threads each hand a request to one writer thread and park until
//! it answers; the writer takes whatever is waiting (up to 512), spends `WORK` µs of CPU
//! per request in place of SQLite, and leaves the waking to a waker thread — the
//! engine's hand-off (`src/engine/writer.rs`, `reply.rs`) with no database.
//!
//! ```sh
//! cargo bench --bench handoff -- 1000 0 7.0 4.0
//! ```
//!
//! Arguments: the number of buyer threads, then writer work per request in µs (one
//! measurement each, 3 s after 1 s of warm-up). With no work it is what waking and
//! switching a thousand threads costs; with the writer's measured CPU per hold it is
//! the most the queue could sell here. `cargo bench` alone runs a short smoke size.

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
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
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
        let rate = measure(threads, work, seconds);
        println!("{threads} threads, {work:.1} µs of writer work a request: {rate:.0} answers/s");
    }
}

fn measure(threads: usize, work_us: f64, seconds: f64) -> f64 {
    let (submit, incoming) = crossbeam_channel::unbounded::<Arc<Slot>>();
    let (wake, to_wake) = crossbeam_channel::unbounded::<Vec<Thread>>();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for threads in to_wake {
            threads.iter().for_each(Thread::unpark);
        }
    });
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
            let mut wakes = Vec::with_capacity(batch.len());
            for slot in batch {
                *slot.answered.lock() = true;
                wakes.push(slot.waiter.clone());
            }
            if wake.send(wakes).is_err() {
                return;
            }
        }
    });
    let buyers: Vec<_> = (0..threads)
        .map(|_| {
            let (submit, stop, answered) = (submit.clone(), stop.clone(), answered.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let slot = Arc::new(Slot {
                            answered: Mutex::new(false),
                            waiter: std::thread::current(),
                        });
                        if submit.send(Arc::clone(&slot)).is_err() {
                            return;
                        }
                        while !*slot.answered.lock() {
                            std::thread::park();
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .expect("a buyer thread")
        })
        .collect();
    drop(submit);
    std::thread::sleep(Duration::from_secs_f64(seconds / 3.0));
    let (before, started) = (answered.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let rate = (answered.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for b in buyers {
        let _ = b.join();
    }
    rate
}
