//! One test body, both stores: the same sale on an SQLite file and on a PostgreSQL
//! database (when the machine has PostgreSQL; CI installs it), an engine on each, and
//! the audit of each from the database alone.

use flashsale::audit::AuditReport;
use flashsale::hold::Stock;
use flashsale::pg::PgStore;
use flashsale::{Clock, Engine, EngineConfig, Strategy};

use super::servers::Postgres;
use super::{Db, START, db_with, test_sale};

/// Where a test's sale lives.
pub enum Sale {
    File(Db),
    Server(String),
}

/// The stores to run a test body on: a file always, and the server when there is one.
pub fn stores(pg: Option<&Postgres>, name: &str, sku: &str, stock: i64, limit: i64) -> Vec<Sale> {
    let mut sales = vec![Sale::File(db_with(sku, stock, limit))];
    if let Some(pg) = pg {
        let url = pg.database(name);
        let store = PgStore::open(&url).expect("open the database");
        let mut conn = store.conn().expect("a connection");
        flashsale::pg::sale::load(&mut conn, &test_sale(sku, stock, limit), START)
            .expect("load the sale");
        sales.push(Sale::Server(url));
    }
    sales
}

impl Sale {
    pub fn name(&self) -> &'static str {
        match self {
            Sale::File(_) => "sqlite",
            Sale::Server(_) => "postgresql",
        }
    }

    /// An engine on this sale, without a sweeper (tests sweep by hand).
    pub fn engine(&self, strategy: Strategy, clock: Clock) -> Engine {
        self.engine_with(EngineConfig {
            strategy,
            clock,
            sweeper: false,
            ..EngineConfig::default()
        })
    }

    /// An engine on this sale with this configuration (a gate in Redis, say).
    pub fn engine_with(&self, config: EngineConfig) -> Engine {
        match self {
            Sale::File(db) => {
                let (store, _) = flashsale::Store::open(&db.path, super::options()).expect("open");
                Engine::open(store, config).expect("engine on the file")
            }
            Sale::Server(url) => {
                flashsale::cli::open_server(url, config).expect("engine on the server")
            }
        }
    }

    /// Every invariant, from the database alone.
    pub fn audit(&self) -> AuditReport {
        match self {
            Sale::File(db) => super::audit_ok(&db.path),
            Sale::Server(url) => {
                flashsale::pg::audit::audit(&PgStore::open(url).expect("open"), START)
                    .expect("audit")
            }
        }
    }

    /// The `--db` value of this sale.
    pub fn db_arg(&self) -> String {
        match self {
            Sale::File(db) => db.path.display().to_string(),
            Sale::Server(url) => url.clone(),
        }
    }

    /// One product's stock, read by a fresh engine.
    pub fn stock(&self, sku: &str) -> Stock {
        self.engine(Strategy::Immediate, Clock::manual(START))
            .stock()
            .expect("stock")
            .into_iter()
            .find(|s| s.sku == sku)
            .expect("the product")
    }
}
