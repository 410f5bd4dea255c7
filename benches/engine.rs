//! The engine's hot paths, one thread, on a real temporary file (synchronous=NORMAL, so
//! the disk's fsync does not drown the CPU work): one reservation per strategy, the
//! gate's decision, a checkout. `cargo bench`; `cargo bench --no-run` only builds.
//! Contention and durability are `flashsale bench`'s job, beside its `limit` row.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use flashsale::gate::LocalGate;
use flashsale::ids::ProductId;
use flashsale::sale::{self, ProductSpec, SaleFile};
use flashsale::{Clock, Engine, EngineConfig, Store, StoreOptions, Strategy, Synchronous};

/// A fresh file with one product of `stock` units, and an engine on it.
fn engine(strategy: Strategy, stock: i64) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let options = StoreOptions {
        synchronous: Synchronous::Normal,
        ..StoreOptions::default()
    };
    let (store, _) = Store::open(&path, options).expect("open");
    let sale = SaleFile {
        name: "criterion".into(),
        hold_ttl: Duration::from_secs(3600),
        max_per_buyer: 1,
        max_extensions: 0,
        max_hold: None,
        products: vec![ProductSpec {
            sku: "B".into(),
            name: "Bench unit".into(),
            price_cents: 100,
            stock,
            max_per_buyer: Some(1),
        }],
    };
    let mut conn = store.dedicated().expect("connection");
    sale::load(&mut conn, &sale, Clock::real().now()).expect("sale");
    let engine = Engine::open(
        store,
        EngineConfig {
            strategy,
            // Naive's pause between read and write shows the race on stage; here it
            // would only measure `sleep`.
            race_window: Duration::ZERO,
            ..EngineConfig::default()
        },
    )
    .expect("engine");
    (dir, engine)
}

fn reserve(c: &mut Criterion) {
    let mut group = c.benchmark_group("reserve");
    group.measurement_time(Duration::from_secs(4));
    for strategy in Strategy::ALL {
        let (_dir, engine) = engine(strategy, 100_000_000);
        let next = AtomicU64::new(0);
        group.bench_function(strategy.name(), |b| {
            b.iter(|| {
                let buyer = format!("b{}", next.fetch_add(1, Ordering::Relaxed));
                black_box(engine.reserve("B", &buyer, 1)).expect("a hold")
            });
        });
    }
    group.finish();
}

fn gate(c: &mut Criterion) {
    let mut group = c.benchmark_group("gate");
    let gate = LocalGate::default();
    let product = ProductId(1);
    gate.set(product, 0);
    group.bench_function("decision_sold_out", |b| {
        b.iter(|| black_box(gate.try_acquire(black_box(product), 1)));
    });
    gate.set(product, i64::MAX / 2);
    group.bench_function("decision_take_one", |b| {
        b.iter(|| black_box(gate.try_acquire(black_box(product), 1)));
    });
    let (_dir, engine) = engine(Strategy::Gate, 0);
    group.bench_function("reserve_sold_out", |b| {
        b.iter(|| black_box(engine.reserve("B", "late", 1)).expect_err("sold out"));
    });
    group.finish();
}

fn checkout(c: &mut Criterion) {
    let mut group = c.benchmark_group("checkout");
    group.measurement_time(Duration::from_secs(4));
    let (_dir, engine) = engine(Strategy::Immediate, 100_000_000);
    let next = AtomicU64::new(0);
    group.bench_function("immediate_hold", |b| {
        b.iter_batched(
            || {
                let buyer = format!("c{}", next.fetch_add(1, Ordering::Relaxed));
                engine.reserve("B", &buyer, 1).expect("a hold")
            },
            |hold| black_box(engine.checkout(&hold)).expect("an order"),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, reserve, gate, checkout);
criterion_main!(benches);
