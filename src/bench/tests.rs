use super::*;
use crate::swarm::{Endings, Finished, SwarmReport};

/// Pay-first takes stock at payment: its row counts orders as its holds, and a
/// refund as a refusal; a row the time limit cut short says so.
#[test]
fn a_pay_first_row_is_read_off_its_report() {
    let report = SwarmReport {
        strategy: "pay-first".into(),
        buyers: 110,
        threads: 8,
        sold: 100,
        holds_taken: 108,
        attempts: 110,
        rejected_sold_out: 2,
        refunds: 8,
        elapsed_ms: 2_000,
        holds_per_sec: 54.0,
        buyer_outcomes: Endings {
            paid: 100,
            refunded: 8,
            turned_away: 2,
            stopped: 0,
            ..Endings::default()
        },
        ..SwarmReport::default()
    };
    let finished = Finished {
        report,
        counters: crate::engine::CounterSnapshot {
            commits: 12,
            ..Default::default()
        },
        cpu: Duration::from_millis(500),
        buyers_cpu: Duration::from_millis(200),
        elapsed: Duration::from_secs(2),
        threads: crate::engine::EngineThreads {
            writer: Some(crate::engine::ThreadTimes {
                on_cpu: Duration::from_millis(1000),
                waiting_for_cpu: Duration::from_millis(500),
            }),
            waker: Some(crate::engine::ThreadTimes {
                on_cpu: Duration::from_millis(100),
                waiting_for_cpu: Duration::ZERO,
            }),
        },
        machine: Some(crate::swarm::machine::MachineTimes {
            busy: Duration::from_millis(700),
            idle: Duration::from_millis(1_000),
            steal: Duration::from_millis(300),
        }),
    };
    let row = BenchRow::of_swarm(&finished, 4096);
    assert_eq!(row.held, 100);
    assert!(
        (row.holds_per_sec - 50.0).abs() < 1e-9,
        "{}",
        row.holds_per_sec
    );
    assert_eq!(row.rejected, 10);
    assert_eq!((row.paid, row.commits, row.wal_peak_bytes), (100, 12, 4096));
    // 0.5 s of CPU over 100 holds in 2 s.
    assert!((row.cpu_us_per_hold - 5_000.0).abs() < 1e-6);
    assert!((row.cores - 0.25).abs() < 1e-9);
    // The buyers' 0.2 s, the writer's 1 s and the waker's 0.1 s on a core, over the
    // 100 holds.
    assert_eq!(row.buyers_cpu_us_per_hold, Some(2_000.0));
    assert_eq!(row.writer_cpu_us_per_hold, Some(10_000.0));
    assert_eq!(row.waker_cpu_us_per_hold, Some(1_000.0));
    // Every core busy at 5 ms a hold: 200 holds a second per core.
    assert!((row.cpu_ceiling_holds_per_sec - 200.0 * machine_cores() as f64).abs() < 1e-6);
    // The writer: 1 s on a core and 0.5 s waiting for one, of the 2 s.
    assert_eq!(
        (row.writer_on_cpu, row.writer_waiting_for_cpu),
        (Some(0.5), Some(0.25))
    );
    // Beside the row's 0.5 s: 0.2 s more busy, 0.3 s stolen, 1 s idle, over 2 s.
    assert_eq!(
        (
            row.machine_other_cores,
            row.machine_steal_cores,
            row.machine_idle_cores
        ),
        (Some(0.1), Some(0.15), Some(0.5))
    );
    assert!(row.complete);

    let cut = Finished {
        report: SwarmReport {
            strategy: "queue".into(),
            holds_taken: 30,
            holds_per_sec: 15.0,
            stock: 100,
            sold: 0,
            held: 30,
            buyer_outcomes: Endings {
                stopped: 80,
                ..Endings::default()
            },
            ..finished.report.clone()
        },
        ..finished
    };
    let row = BenchRow::of_swarm(&cut, 0);
    assert_eq!(row.held, 30);
    assert!((row.holds_per_sec - 15.0).abs() < 1e-9);
    assert!(!row.complete);

    // Stopped only after every unit went: the buyers left were turned away anyway.
    let mut sold_out = cut;
    sold_out.report.held = 100;
    assert!(BenchRow::of_swarm(&sold_out, 0).complete);
}
