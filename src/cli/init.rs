use std::io::Write;
use std::process::ExitCode;

use super::{Cli, InitArgs};
use crate::error::{Error, Result};
use crate::sale::{self, SaleFile};
use crate::store::{Opened, Store, StoreOptions};

pub fn run(cli: &Cli, args: &InitArgs) -> Result<ExitCode> {
    // Read and check the sale before touching any file: a bad sale file changes nothing.
    let sale = match &args.sale {
        Some(path) => SaleFile::read(path)?,
        None => SaleFile::demo(),
    };
    if let Some(url) = super::server_url(&cli.db) {
        return init_server(url, &sale, args.force);
    }
    if cli.db.exists() {
        if !args.force {
            return Err(Error::Usage(format!(
                "{} already exists; pass --force to replace it (its holds and orders will be deleted)",
                cli.db.display()
            )));
        }
        // Only our own files are replaced, judged by the header alone: a damaged file
        // of ours (pages overwritten, or truncated) is replaced like an intact one;
        // anything else is refused.
        crate::store::probe(&cli.db)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = cli.db.clone().into_os_string();
            p.push(suffix);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let options = StoreOptions {
        synchronous: cli.synchronous,
        ..StoreOptions::default()
    };
    let (store, opened) = Store::open(&cli.db, options)?;
    debug_assert_eq!(opened, Opened::Created);
    let mut conn = store.dedicated()?;
    sale::load(&mut conn, &sale, crate::Clock::real().now())?;
    writeln!(
        std::io::stdout().lock(),
        "Created {} with the sale {:?}: {}, hold TTL {}",
        cli.db.display(),
        sale.name,
        crate::units::count(sale.products.len() as u64, "product", "products"),
        humantime::format_duration(sale.hold_ttl)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `init --db postgres://…`: the sale into the database (migrated first), refused when
/// one is there unless `--force` replaces it.
fn init_server(url: &str, sale: &SaleFile, force: bool) -> Result<ExitCode> {
    use crate::pg::sale::{Existing, load_as};
    let store = crate::pg::PgStore::open(url)?;
    let existing = if force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    let mut conn = store.conn()?;
    load_as(&mut conn, sale, crate::Clock::real().now(), existing)?;
    writeln!(
        std::io::stdout().lock(),
        "Created the sale {:?} in {}: {}, hold TTL {}",
        sale.name,
        store.shown(),
        crate::units::count(sale.products.len() as u64, "product", "products"),
        humantime::format_duration(sale.hold_ttl)
    )?;
    Ok(ExitCode::SUCCESS)
}
