//! Checkpoints off the writer: the writer connection never checkpoints, and the
//! checkpointer thread keeps the WAL file bounded through a long sale.

mod common;

use common::{START, audit_ok, books, db_with, options};
use flashsale::{Clock, Engine, EngineConfig, Store, Strategy};

fn wal_bytes(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(std::path::PathBuf::from(wal)).map_or(0, |m| m.len())
}

#[test]
fn the_wal_stays_bounded_while_the_writer_never_checkpoints() {
    const HOLDS: i64 = 4000;
    const BOUND: u64 = 256 * 1024;
    let db = db_with("W", HOLDS, 1);
    let (store, _) = Store::open(&db.path, options()).expect("open");
    let engine = Engine::open(
        store,
        EngineConfig {
            strategy: Strategy::Queue,
            clock: Clock::manual(START),
            sweeper: false,
            wal_bound: BOUND,
            ..EngineConfig::default()
        },
    )
    .expect("engine");
    let autocheckpoint = engine.writer_setting("wal_autocheckpoint").expect("pragma");
    assert_eq!(
        autocheckpoint,
        Some(0),
        "the writer's commits never checkpoint"
    );
    // One commit per hold: about 4 pages each, some 60 MiB of WAL if nobody checkpointed.
    // After every 64 holds the test lets the checkpointer look once (on a loaded 2-core
    // machine it may otherwise not run for a while, and the WAL grows meanwhile: peaks
    // of 3 to 19 MiB were seen): what is checked is that each look brings the WAL back
    // to its bound, not how soon the scheduler runs the thread.
    let mut peak = 0;
    for i in 0..HOLDS {
        engine.reserve("W", &format!("b{i}"), 1).expect("a hold");
        peak = peak.max(wal_bytes(&db.path));
        if i % 64 == 63 {
            let looked = engine.wal_stats().looks;
            let waited = std::time::Instant::now();
            while engine.wal_stats().looks <= looked {
                assert!(waited.elapsed().as_secs() < 30, "the checkpointer stopped");
                std::thread::yield_now();
            }
        }
    }
    let stats = engine.wal_stats();
    eprintln!("peak {peak} bytes; {stats:?}");
    assert!(stats.restart_checkpoints > 0, "{stats:?}");
    // 64 one-hold commits between looks are about 1 MiB on top of the bound.
    assert!(
        peak <= 4 * 1024 * 1024,
        "WAL peaked at {peak} bytes: {stats:?}"
    );
    assert_eq!(books(&db.path, "W"), (0, HOLDS, 0, 0));
    drop(engine);
    assert!(audit_ok(&db.path).ok);
}
