//! `flashsale serve`: the sale over HTTP until Ctrl-C or SIGTERM, then a drain and exit 0.

use std::io::Write as _;
use std::process::ExitCode;

use super::{Cli, ServeArgs};
use crate::Clock;
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use crate::serve::{self, ServeConfig};

pub fn run(cli: &Cli, args: &ServeArgs) -> Result<ExitCode> {
    serve::servable(args.strategy)?;
    let config = EngineConfig {
        strategy: args.strategy,
        clock: Clock::real().with_warp(args.warp),
        hold_ttl: args.hold_ttl,
        ..EngineConfig::default()
    };
    let engine = super::open_engine(cli, config)?;
    let log = args.log.clone().unwrap_or_else(|| {
        let name = cli
            .db
            .file_name()
            .map_or_else(|| "flashsale".into(), |n| n.to_string_lossy().into_owned());
        std::env::temp_dir().join(format!("flashsale-serve-{name}.log"))
    });
    let log = std::path::absolute(&log).unwrap_or(log);
    // The appender gives up with a panic on a file it cannot create: ask first.
    if let Err(e) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        return Err(Error::Usage(format!(
            "cannot write the log {}: {e}; pass another --log",
            log.display()
        )));
    }
    let _log_guard = super::tui::start_log(&log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot listen on {}: {e}; pick another --listen address or port",
                    args.listen
                ))
            })?;
        let addr = listener.local_addr()?;
        // One line on stdout (scripts read the port from it); requests go to the log.
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "flashsale serving {} ({}) at http://{addr}/ — log: {}; Ctrl-C to stop",
            cli.db.display(),
            args.strategy.label(),
            log.display()
        )?;
        out.flush()?;
        drop(out);
        let config = ServeConfig {
            queue_bound: args.queue_bound,
            ..ServeConfig::default()
        };
        serve::run(engine, listener, config, serve::signal()).await
    })?;
    tracing::info!("server stopped");
    Ok(ExitCode::SUCCESS)
}
