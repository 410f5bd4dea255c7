//! What one hold's INSERT costs SQLite, by schema and id kind — the measurement behind
//! schema step 2 and v7 hold ids (issue 13). Not a criterion bench: run it under
//! callgrind for instruction counts, which a shared, noisy machine does not disturb:
//!
//! ```sh
//! cargo bench --bench insert_cost --no-run
//! valgrind --tool=callgrind target/release/deps/insert_cost-* v1 v4 200000
//! valgrind --tool=callgrind target/release/deps/insert_cost-* latest v7 200000
//! ```
//!
//! Arguments: `v1|latest` (the schema as first shipped, or every migration), `v4|v7`
//! (the hold id), the number of holds. Holds go in 500 to a transaction
//! (synchronous=OFF: CPU only), one per buyer, through the engine's statement. It
//! prints the wall time too, for what instructions do not show (page cache misses).
//! `cargo bench` alone runs a small smoke size of each.

use std::time::Instant;

use rusqlite::{Connection, params};

const SCHEMA_V1: &str = include_str!("../schema.sql");

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() < 3 {
        for (schema, ids) in [
            ("v1", "v4"),
            ("v1", "v7"),
            ("latest", "v4"),
            ("latest", "v7"),
        ] {
            run(schema, ids, 20_000);
        }
        return;
    }
    let holds: u64 = args[2].parse().expect("a number of holds");
    run(&args[0], &args[1], holds);
}

fn run(schema: &str, ids: &str, holds: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cost.db");
    let mut conn = match schema {
        "v1" => {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(SCHEMA_V1).expect("schema v1");
            conn
        }
        "latest" => {
            let options = flashsale::StoreOptions::default();
            let (store, _) = flashsale::Store::open(&path, options).expect("open");
            store.dedicated().expect("connection")
        }
        other => panic!("schema {other}: v1 or latest"),
    };
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "OFF")
        .expect("sync");
    conn.execute(
        "INSERT INTO products (id, sku, name, price_cents, stock_total, stock_available)
         VALUES (1, 'B', 'b', 1, ?1, ?1)",
        [i64::try_from(holds).expect("holds")],
    )
    .expect("product");
    let start = 1_700_000_000_000_i64;
    let began = Instant::now();
    let mut i = 0u64;
    while i < holds {
        let tx = conn.transaction().expect("tx");
        for _ in 0..500.min(holds - i) {
            let now = start + i64::try_from(i / 50).expect("ms");
            let id = match ids {
                "v4" => uuid::Uuid::new_v4(),
                "v7" => flashsale::ids::HoldId::at(now).0,
                other => panic!("ids {other}: v4 or v7"),
            };
            tx.prepare_cached(
                "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6)",
            )
            .expect("prepare")
            .execute(params![
                id.to_string(),
                1,
                format!("b{i}"),
                1,
                now,
                now + 3_600_000
            ])
            .expect("insert");
            i += 1;
        }
        tx.commit().expect("commit");
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "schema {schema:<6} ids {ids}: {holds} holds in {secs:.2} s, {:.0} holds/s",
        holds as f64 / secs
    );
}
