use std::process::ExitCode;

use super::{AuditArgs, Cli};
use crate::error::Result;
use crate::store::StoreOptions;

pub fn run(cli: &Cli, args: &AuditArgs) -> Result<ExitCode> {
    // Read-only: an audit never changes what it checks.
    let options = StoreOptions {
        read_only: true,
        pool_size: 1,
        ..StoreOptions::default()
    };
    let now = crate::Clock::real().now();
    let report = match super::server_url(&cli.db) {
        Some(url) => crate::pg::audit::audit(&crate::pg::PgStore::open(url)?, now)?,
        None => {
            let store = super::open::open_existing(&cli.db, options)?;
            let mut conn = store.dedicated()?;
            crate::audit::audit(&mut conn, now)?
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        super::write_json(&mut out, &report)?;
    } else {
        report.write_text(&mut out)?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
