use std::path::Path;
use std::sync::Arc;

use flashsale_core::shop::Shop;

use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::gate::redis::RedisGate;
use crate::gate::{Gate, LocalGate};
use crate::pg::PgStore;
use crate::sale::{self, SaleFile};
use crate::store::{Opened, Store, StoreOptions, Synchronous};

/// Opens (creating with the demo sale if new) the database for a writing command. A
/// file that is not ours or is damaged is refused before anything writes to it.
pub fn open_store(path: &Path, synchronous: Synchronous) -> Result<Store> {
    refuse_server_url(path)?;
    crate::store::check_before_writing(path)?;
    let options = StoreOptions {
        synchronous,
        ..StoreOptions::default()
    };
    let (store, opened) = Store::open(path, options)?;
    if opened == Opened::Created {
        let mut conn = store.dedicated()?;
        sale::load(&mut conn, &SaleFile::demo(), crate::Clock::real().now())?;
    }
    Ok(store)
}

/// Opens a database that must already exist (audit, monitors): never creates one.
pub fn open_existing(path: &Path, options: StoreOptions) -> Result<Store> {
    refuse_server_url(path)?;
    if !path.exists() {
        return Err(Error::CannotOpen {
            path: path.to_path_buf(),
            why: "no such file; create it with `flashsale init` or run a swarm".into(),
        });
    }
    Ok(Store::open(path, options)?.0)
}

/// The engine for a writing command, on `--db`, with `--gate` unless the caller chose.
pub fn open_engine(cli: &super::Cli, mut config: EngineConfig) -> Result<Engine> {
    if config.gate.is_none() {
        config.gate.clone_from(&cli.gate);
    }
    if let Some(url) = server_url(&cli.db) {
        return open_server(url, config);
    }
    open_engine_at(&cli.db, cli.synchronous, config)
}

pub fn open_engine_at(
    path: &Path,
    synchronous: Synchronous,
    config: EngineConfig,
) -> Result<Engine> {
    Engine::open(open_store(path, synchronous)?, config)
}

/// A `postgres://` URL is not a file name: the commands that work on a file only say
/// so, instead of looking for a folder called `postgres:`.
fn refuse_server_url(path: &Path) -> Result<()> {
    if let Some(url) = server_url(path) {
        return Err(Error::Usage(format!(
            "--db {} names a PostgreSQL database, and this command runs on an SQLite file only; pass a file name",
            crate::pg::shown_url(url)
        )));
    }
    Ok(())
}

/// The engine of a sale on a PostgreSQL server (`--db postgres://…`): core's shop over
/// the server's store, with the gate in Redis when `--gate` names one (a count in this
/// process otherwise: right for one process, and still never an oversell for many,
/// since the database decides every hold). A database without a sale gets the demo
/// sale, as a new file does.
pub fn open_server(url: &str, config: EngineConfig) -> Result<Engine> {
    let mut store = PgStore::open(url)?;
    store.set_race_window(config.race_window);
    store.load_if_empty(&SaleFile::demo(), crate::Clock::real().now())?;
    let gate: Box<dyn Gate> = match &config.gate {
        Some(gate) => {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(store.shown().as_bytes());
            let sale: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            Box::new(RedisGate::connect(gate, &sale)?)
        }
        None => Box::new(LocalGate::default()),
    };
    let store = Arc::new(store);
    let shop = Shop::open(
        Arc::clone(&store) as Arc<dyn flashsale_core::store::Store>,
        gate,
        config.shop(),
    )?;
    Ok(Engine::on_server(shop, store))
}

/// The `--db` value as a PostgreSQL URL, if it is one.
pub fn server_url(db: &Path) -> Option<&str> {
    db.to_str().filter(|text| crate::pg::is_url(text))
}
