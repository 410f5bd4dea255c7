//! `flashsale serve`: the sale over HTTP until Ctrl-C or SIGTERM, then a drain and exit 0.
//! [`Embedded`] is the same server inside the console (`tui --serve`).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Cli, ServeArgs};
use crate::Clock;
use crate::engine::Engine;
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
    let _log_guard = super::log::start_log(&log);
    let runtime = runtime()?;
    runtime.block_on(async {
        let listener = bind(&args.listen, "--listen").await?;
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

/// The server's own runtime: its workers and blocking pool, apart from the console's.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()?)
}

/// Listens on `addr`, or says which flag to change.
async fn bind(addr: &str, flag: &str) -> Result<tokio::net::TcpListener> {
    crate::serve::listen(addr).await.map_err(|e| {
        Error::Usage(format!(
            "cannot listen on {addr}: {e}; pick another {flag} address or port"
        ))
    })
}

/// How long quitting the console waits for requests in flight to finish.
const DRAIN_WITHIN: Duration = Duration::from_secs(10);

/// The server inside the console (`tui --serve`): the same `serve::run` on the
/// console's engine, on its own runtime, until the console quits.
pub(super) struct Embedded {
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<()>>,
    /// Where the audience joins: the bound address, or this machine's for 0.0.0.0.
    pub url: String,
}

impl Embedded {
    /// Binds `addr` (before the console takes the terminal, so a taken port is a plain
    /// error) and starts serving `engine`.
    pub(super) fn start(engine: Engine, addr: &str) -> Result<Embedded> {
        serve::servable(engine.strategy())?;
        let runtime = runtime()?;
        let listener = runtime.block_on(bind(addr, "--serve"))?;
        let bound = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let served = runtime.spawn(serve::run(
            engine,
            listener,
            ServeConfig::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let url = format!("http://{}/", serve::reachable(bound));
        tracing::info!(%bound, %url, "serving the console's sale");
        Ok(Embedded {
            runtime,
            stop,
            served,
            url,
        })
    }

    /// Stops taking connections and lets the requests in flight finish.
    pub(super) fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        // The timer is made inside the runtime: tokio's clock lives there.
        let served = self.served;
        let drained = self
            .runtime
            .block_on(async move { tokio::time::timeout(DRAIN_WITHIN, served).await });
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        match drained {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(Error::Io(std::io::Error::other(format!(
                "the server failed: {e}"
            )))),
            Err(_) => {
                tracing::warn!("requests still in flight after {DRAIN_WITHIN:?}: left");
                Ok(())
            }
        }
    }
}
