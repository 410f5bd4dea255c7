use std::path::Path;

use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
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
    open_engine_at(&cli.db, cli.synchronous, config)
}

pub fn open_engine_at(
    path: &Path,
    synchronous: Synchronous,
    config: EngineConfig,
) -> Result<Engine> {
    Engine::open(open_store(path, synchronous)?, config)
}

/// A `postgres://` URL is not a file name: say so, instead of looking for a folder
/// called `postgres:`. (The PostgreSQL store exists, `crate::pg`; the commands reach it
/// once the engine has its storage seam.)
fn refuse_server_url(path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    if crate::pg::is_url(&text) {
        return Err(Error::Usage(format!(
            "--db {} names a PostgreSQL database, and this version's commands run on an SQLite file only; pass a file name",
            crate::pg::shown_url(&text)
        )));
    }
    Ok(())
}
