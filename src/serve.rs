//! `flashsale serve`: the sale over HTTP (axum on tokio), for browsers, phones and load
//! tools. A client of the engine like the console: handlers parse, call the engine's
//! public operations on the blocking pool (or, for add-to-cart on `queue`, hand it to
//! the writer's queue and await its answer, with no thread waiting), and map its typed
//! errors to problems.
//!
//! # Layout
//!
//! - `front`: what every request passes first: its log line, a 500 for a handler's bug.
//! - `routes`: the handlers, one per route of DESIGN.md's table.
//! - `problem`: every error answer (`application/problem+json`), one `IntoResponse`.
//! - `auth`: HMAC-signed buyer tokens, keyed by a secret kept in the database.
//! - `idempotency`: `Idempotency-Key` records, in the database so servers share them.
//! - `events`: the collector thread, the metrics aggregate's feed, and SSE.
//! - `metrics`: `/metrics` in the Prometheus text format.
//! - `views`: the JSON shapes.

mod auth;
mod events;
mod front;
pub mod idempotency;
mod metrics;
mod problem;
mod routes;
mod views;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use axum::ServiceExt;
use axum::extract::{DefaultBodyLimit, Request};
use parking_lot::Mutex;
use tokio::sync::watch;
use tower::Layer;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hold::ProductInfo;
use crate::ids::ProductId;
use crate::metrics::Metrics;

pub use auth::Signer;
pub use problem::Problem;
pub use views::{HoldView, OrderView, ProductView};

/// The largest request body accepted; larger ones are 413.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Engine calls in flight (running or waiting for a blocking thread) past which
    /// add-to-cart answers 429 `overloaded` rather than queueing without bound.
    pub queue_bound: usize,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            queue_bound: 2048,
            retry_after: 1,
        }
    }
}

/// Everything a handler needs, behind one `Arc`: axum clones the state for every
/// request, and a handler once or twice more (perf: dropping the clones of the nine
/// fields was a percent of the server's CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    engine: Engine,
    signer: Signer,
    live: Arc<events::Live>,
    /// The server's one aggregate: handlers record add-to-cart attempts, the collector
    /// the engine's payments and returns. A short lock per sample.
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
    in_flight: Arc<AtomicUsize>,
    config: ServeConfig,
    /// Products by id (a sale's catalogue does not change while it runs).
    products: Arc<HashMap<ProductId, Arc<ProductInfo>>>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn sku(&self, id: ProductId) -> String {
        self.products
            .get(&id)
            .map(|p| p.sku.clone())
            .unwrap_or_default()
    }

    /// 429 when the engine's queue is past its bound.
    fn admit(&self) -> Result<(), Problem> {
        if self.in_flight.load(Ordering::Relaxed) >= self.config.queue_bound {
            return Err(Problem::overloaded(self.config.retry_after));
        }
        Ok(())
    }

    /// Runs a blocking engine call on tokio's blocking pool, never on the async
    /// workers. It counts toward the queue depth until it finishes, even if its
    /// client has gone: the call itself is never abandoned half-way.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T, Problem> {
        let engine = self.engine.clone();
        let counted = InFlight::enter(&self.in_flight);
        tokio::task::spawn_blocking(move || {
            let _counted = counted;
            f(&engine)
        })
        .await
        .map_err(|_| Problem::unavailable("The server's worker failed; retry the request"))?
        .map_err(Problem::from)
    }
}

/// One engine call counted in the queue depth for as long as it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every product's stock as the API shows it.
fn products(engine: &Engine) -> Result<Vec<ProductView>> {
    let infos = engine.products();
    Ok(engine
        .stock()?
        .iter()
        .map(|s| {
            let info = infos.iter().find(|p| p.id == s.product_id);
            ProductView::new(s, info.map(AsRef::as_ref))
        })
        .collect())
}

/// Refuses a strategy the API cannot serve: pay-first takes no hold at add-to-cart, so
/// there would be nothing to read back, extend or pay by id.
pub fn servable(strategy: crate::Strategy) -> Result<()> {
    if strategy == crate::Strategy::PayFirst {
        return Err(Error::Usage(
            "pay-first takes no hold at add-to-cart, so the API would have nothing to pay; serve another --strategy".into(),
        ));
    }
    Ok(())
}

/// Serves the sale on `listener` until `shutdown` resolves, then stops taking
/// connections, lets in-flight requests finish (SSE streams end), and returns.
/// The console embeds the server through this.
pub async fn run(
    engine: Engine,
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    servable(engine.strategy())?;
    let signer = {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || Signer::load(&engine))
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??
    };
    {
        let engine = engine.clone();
        // Old keys go at start; a server that runs for days purges again in the collector.
        let _ = tokio::task::spawn_blocking(move || idempotency::purge(&engine)).await;
    }
    let live = Arc::new(events::Live::new());
    {
        // The first SSE client gets the real stock, not an empty list.
        let engine = engine.clone();
        let first = tokio::task::spawn_blocking(move || products(&engine))
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
        live.publish_stock(&first);
    }
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let collector = events::spawn_collector(
        engine.clone(),
        Arc::clone(&live),
        Arc::clone(&metrics),
        started,
        Arc::clone(&stop),
    )?;
    let (stopping, shutdown_rx) = watch::channel(false);
    let state = AppState(Arc::new(Shared {
        products: Arc::new(engine.products().into_iter().map(|p| (p.id, p)).collect()),
        engine,
        signer,
        live,
        metrics,
        started,
        in_flight: Arc::new(AtomicUsize::new(0)),
        config,
        shutdown: shutdown_rx,
    }));
    // The body limit and the front around the whole router, not on each route: see
    // `front`.
    let app = front::Front::new(DefaultBodyLimit::max(BODY_LIMIT).layer(routes::router(state)));
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stopping.send(true);
    };
    let served = axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(signal)
        .await;
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || collector.join()).await;
    served.map_err(Error::Io)
}

/// Connections a listener keeps waiting for `accept`: the kernel caps it at
/// `net.core.somaxconn` (4,096 on current Linux).
pub const BACKLOG: u32 = 4096;

/// Listens on `addr` (the first of its addresses that binds) with [`BACKLOG`].
///
/// Why not `TcpListener::bind`: it listens with the standard library's backlog of 128.
/// When more buyers than that connect at once — the first second of a flash sale — the
/// kernel drops their handshakes, and under load some of them got "connection reset
/// by peer" (400 buyers racing through the HTTP test on a loaded machine: 1 run in 15).
pub async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for at in tokio::net::lookup_host(addr).await? {
        let socket = if at.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted server may rebind at once.
        socket.set_reuseaddr(true)?;
        match socket.bind(at).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// The address a phone on the same network reaches `bound` at: for a wildcard address
/// (0.0.0.0, ::) the address of the interface that routes outward, else `bound` itself.
/// Connecting a UDP socket only picks a route; nothing is sent.
pub fn reachable(bound: std::net::SocketAddr) -> std::net::SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let outward = std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|s| s.connect(("192.0.2.1", 9)).map(|()| s))
        .and_then(|s| s.local_addr());
    match outward {
        Ok(local) if !local.ip().is_unspecified() => {
            std::net::SocketAddr::new(local.ip(), bound.port())
        }
        _ => bound,
    }
}

/// Resolves on Ctrl-C or SIGTERM: what `flashsale serve` drains on.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::{listen, reachable};

    /// A crowd connecting before the server accepts anyone: with the standard backlog
    /// of 128 the 130th handshake is dropped and its connect times out.
    #[test]
    fn a_crowd_of_connections_waits_in_the_backlog_without_being_accepted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(listen("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let crowd: Vec<_> = (0..600)
            .map(|i| {
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
                    .unwrap_or_else(|e| panic!("connection {i} was not let in: {e}"))
            })
            .collect();
        assert_eq!(crowd.len(), 600);
        drop(listener);
    }

    #[test]
    fn a_bound_address_is_shown_as_it_is_and_a_wildcard_as_this_machines() {
        let bound: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(reachable(bound), bound);
        let any: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let shown = reachable(any);
        assert_eq!(shown.port(), 8080);
        // With no route out (a sandbox), the bound address is the honest fallback.
        let routed = std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.connect("192.0.2.1:9"))
            .is_ok();
        assert_eq!(!shown.ip().is_unspecified(), routed, "{shown}");
    }
}
