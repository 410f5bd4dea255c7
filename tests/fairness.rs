//! Fairness is a property of the queue strategy, not a timing: its own test binary, so
//! no other test's threads compete for the CPU while 5,000 buyers line up.

mod common;

use common::{books, db_with};
use flashsale::swarm::{self, SwarmConfig};
use flashsale::{Clock, Engine, EngineConfig, Store, Strategy};

fn real_engine(path: &std::path::Path, strategy: Strategy) -> Engine {
    let (store, _) = Store::open(path, common::options()).expect("open");
    Engine::open(
        store,
        EngineConfig {
            strategy,
            clock: Clock::real(),
            ..EngineConfig::default()
        },
    )
    .expect("engine")
}

/// The queue serves in arrival order: of the first 50 of 5,000 buyers, (nearly) all win.
#[test]
fn queue_serves_five_thousand_buyers_first_come_first_served() {
    let db = db_with("FS", 50, 1);
    let engine = real_engine(&db.path, Strategy::Queue);
    // Default threads (thousands). Arrival is counted at the engine's door, so a
    // buyer preempted on its way in does not count as one the queue passed over.
    let config = SwarmConfig::new("FS", 5000);
    let report = swarm::run(&engine, &config).expect("swarm");
    assert_eq!(report.sold, 50);
    assert_eq!(report.oversold, 0);
    assert!(
        report.fairness >= 0.95,
        "fairness {} (inversions {})",
        report.fairness,
        report.inversions
    );
    assert_eq!(books(&db.path, "FS"), (0, 0, 50, 50));
}
