//! The swarm at scale and its arrival models, on real threads and files. Properties
//! only — who won, in what order, what was counted — never how fast.

mod common;

use std::time::Duration;

use common::db_with;
use flashsale::swarm::{self, Arrival, Behaviour, SwarmConfig};
use flashsale::{Clock, Engine, EngineConfig, Store, Strategy};

fn real_engine(path: &std::path::Path, strategy: Strategy, ttl: Option<Duration>) -> Engine {
    let (store, _) = Store::open(path, common::options()).expect("open");
    Engine::open(
        store,
        EngineConfig {
            strategy,
            clock: Clock::real(),
            hold_ttl: ttl,
            ..EngineConfig::default()
        },
    )
    .expect("engine")
}

/// `buyers` for "FS" on `threads` threads, arriving as `arrival` says.
fn on_threads(buyers: u64, threads: usize, arrival: Arrival) -> SwarmConfig {
    let mut config = SwarmConfig::new("FS", buyers);
    config.threads = Some(threads);
    config.arrival = arrival;
    config
}

/// Open model: buyer `i` is due at `i / rate`. With one thread and arrivals far faster
/// than it can serve, buyers start late — and their latency counts from when they were
/// due, so the queueing shows (no coordinated omission).
#[test]
fn arrival_rate_latency_counts_from_the_intended_arrival() {
    let db = db_with("FS", 1000, 1);
    let engine = real_engine(&db.path, Strategy::Immediate, None);
    let config = on_threads(200, 1, Arrival::Rate(1_000_000.0));
    let report = swarm::run(&engine, &config).expect("swarm");
    assert_eq!(report.attempts, 200);
    assert_eq!(report.sold, 200);
    // The last buyer was due at 0.2 ms and answered at the end of the run.
    assert!(
        report.latency_us.max * 2 >= report.elapsed_ms * 1000,
        "max latency {} µs over a {} ms run",
        report.latency_us.max,
        report.elapsed_ms
    );

    // And a slow rate spreads the buyers out: 20 at 200/s are due over 95 ms.
    let mut config = SwarmConfig::new("FS", 20);
    config.arrival = Arrival::Rate(200.0);
    let report = swarm::run(&engine, &config).expect("swarm");
    assert_eq!(report.attempts, 20);
    assert!(report.elapsed_ms >= 90, "{} ms", report.elapsed_ms);
}

/// `--retry`: losers keep trying while held units may come back. Every winner walks
/// away; its unit expires and goes to a buyer still trying, until all 12 had one.
#[test]
fn retrying_losers_get_the_units_that_expire() {
    let db = db_with("FS", 4, 1);
    let engine = real_engine(
        &db.path,
        Strategy::Immediate,
        Some(Duration::from_millis(150)),
    );
    let mut config = SwarmConfig::new("FS", 12);
    config.threads = Some(12);
    config.retry = true;
    config.behaviour = Behaviour {
        pay: 0.0,
        abandon: 1.0,
        cancel: 0.0,
        pay_fail: 0.0,
    };
    let report = swarm::run(&engine, &config).expect("swarm");
    assert_eq!(report.holds_taken, 12, "{report:?}");
    assert!(report.attempts > 12, "losers tried again: {report:?}");
    assert!(report.expired >= 8, "{report:?}");
    assert_eq!(report.oversold, 0);
    assert_eq!(report.undersold, 0);
}

/// Asking for more threads than buyers (or than the machine allows) is no error: the
/// swarm runs on what it can have, one buyer per thread at most.
#[test]
fn more_threads_than_possible_are_multiplexed_not_refused() {
    let db = db_with("FS", 10, 1);
    let engine = real_engine(&db.path, Strategy::Gate, None);
    let mut config = SwarmConfig::new("FS", 300);
    config.threads = Some(usize::MAX);
    let report = swarm::run(&engine, &config).expect("swarm");
    assert_eq!(report.threads, 300);
    assert_eq!(report.attempts, 300);
    assert_eq!(report.sold, 10);
    assert!(swarm::default_threads(1_000_000) <= swarm::thread_cap());
    assert!(swarm::thread_cap() <= swarm::machine_threads().max(16));
    assert_eq!(swarm::default_threads(7), 7);
}

/// The bench's workload: a closed loop. Each thread's next buyer arrives when the
/// thread is free, so latency is one request's own: with one thread the median is a
/// sliver of the run, where a burst's middle buyer waited half of it.
#[test]
fn closed_loop_latency_is_one_request_where_a_burst_counts_the_wait() {
    let db = db_with("FS", 1000, 1);
    let engine = real_engine(&db.path, Strategy::Immediate, None);
    let one_thread = |arrival| {
        let report = swarm::run(&engine, &on_threads(400, 1, arrival)).expect("swarm");
        assert_eq!((report.attempts, report.sold), (400, 400));
        (report.latency_us.p50, report.elapsed_ms * 1000)
    };
    let (p50, run_us) = one_thread(Arrival::Closed);
    assert!(
        p50 * 10 < run_us,
        "closed loop: p50 {p50} µs over a {run_us} µs run"
    );
    let (p50, run_us) = one_thread(Arrival::Burst);
    assert!(
        p50 * 4 >= run_us,
        "burst: p50 {p50} µs over a {run_us} µs run"
    );
}

/// A bench row's bound: past the time limit nobody new arrives. Every buyer is
/// accounted for (as stopped), and the books are whole.
#[test]
fn past_the_time_limit_nobody_arrives() {
    let db = db_with("FS", 50, 1);
    let engine = real_engine(&db.path, Strategy::Queue, None);
    let mut config = on_threads(500, 8, Arrival::Closed);
    config.time_limit = Some(Duration::ZERO);
    let report = swarm::run(&engine, &config).expect("swarm");
    assert_eq!(report.attempts, 0);
    assert_eq!(report.buyer_outcomes.stopped, 500);
    assert_eq!(report.buyer_outcomes.total(), 500);
    assert_eq!((report.sold, report.held), (0, 0));
    assert_eq!((report.oversold, report.undersold), (0, 0));
}

/// The live view (progress bar, console) and the report read the same aggregate:
/// once the run is over they say the same, and the run's own counters came with it.
#[test]
fn the_live_view_ends_where_the_report_does() {
    let db = db_with("FS", 100, 1);
    let engine = real_engine(&db.path, Strategy::Immediate, None);
    let mut config = SwarmConfig::new("FS", 300);
    config.threads = Some(16);
    config.behaviour = Behaviour::from_flags(Some(3.0), Some(1.0), None, None);
    config.watch_expiries = false;
    let handle = swarm::start(&engine, &config).expect("start");
    // Polls for the end of the run, not for any expiry: nothing here expires.
    while !handle.is_finished() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let live = handle.live();
    let finished = handle.finish().expect("swarm");
    let report = &finished.report;
    assert_eq!(live.buyers_done, 300);
    assert_eq!(live.attempts, report.attempts);
    assert_eq!(live.held, report.holds_taken);
    assert_eq!(live.held, 100);
    assert_eq!(live.paid, report.buyer_outcomes.paid);
    assert_eq!(i64::try_from(live.paid).unwrap(), report.sold);
    assert_eq!(live.rejected_total(), report.rejected_total());
    assert_eq!(live.latency, report.latency_us);
    assert!(finished.counters.commits > 0, "{:?}", finished.counters);
}
