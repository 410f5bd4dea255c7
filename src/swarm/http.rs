//! `flashsale swarm --target http://HOST:PORT`: the same bots over HTTP, so the swarm
//! load-tests any flashsale server end to end.
//!
//! Each buyer thread keeps one keep-alive connection (its own `ureq` agent) and plays
//! its buyers in turn; each buyer gets its own token from `POST /api/buyers` and then
//! adds to cart, pays, walks away or cancels as its seeded behaviour says. Latency is
//! measured from the intended arrival to the answer, as in-process. Arrival order for
//! the fairness figures is the order in which buyers sent their add-to-cart. Sold,
//! held and oversold come from the server's `/api/products` after the run (the change
//! over the run), never from these counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::behaviour::{self, Action};
use super::report::Measured;
use super::{Ending, Endings, SwarmConfig, SwarmReport};
use crate::error::{Error, Rejection, Result};
use crate::hold::Stock;
use crate::ids::ProductId;
use crate::metrics::{Metrics, Outcome, Sample};

/// Connections (threads) when `--threads` is not given: enough to keep a server's
/// cores busy; more only queue in its accept backlog.
pub const DEFAULT_CONNECTIONS: usize = 256;

struct Client {
    agent: ureq::Agent,
    base: String,
}

struct Answer {
    status: u16,
    json: Value,
}

impl Client {
    fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Option<Answer> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = match body {
            Some(body) => self.agent.run(
                request
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .ok()?,
            ),
            None => self.agent.run(request.body(()).ok()?),
        };
        let mut response = response.ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Some(Answer {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// The target's product `sku` as `/api/products` shows it.
    fn product(&self, sku: &str) -> Result<Value> {
        let answer = self
            .send("GET", "/api/products", None, None)
            .filter(|a| a.status == 200)
            .ok_or_else(|| unreachable_target(&self.base))?;
        answer
            .json
            .as_array()
            .and_then(|all| all.iter().find(|p| p["sku"] == sku).cloned())
            .ok_or_else(|| Error::UnknownSku {
                sku: sku.to_owned(),
                known: "see GET /api/products on the target".into(),
            })
    }
}

/// The target's first product: what `--sku` defaults to.
pub fn first_sku(target: &str) -> Result<String> {
    let client = Client::new(target);
    client
        .send("GET", "/api/products", None, None)
        .filter(|a| a.status == 200)
        .and_then(|a| a.json[0]["sku"].as_str().map(str::to_owned))
        .ok_or_else(|| unreachable_target(&client.base))
}

fn unreachable_target(base: &str) -> Error {
    Error::Usage(format!(
        "{base} did not answer GET /api/products; start `flashsale serve` there or fix --target"
    ))
}

fn rejection(answer: Option<&Answer>) -> Rejection {
    let Some(a) = answer else {
        return Rejection::Timeout;
    };
    match (a.status, a.json["code"].as_str().unwrap_or("")) {
        (409, "sold_out") => Rejection::SoldOut,
        (409, "per_buyer_limit") => Rejection::Limit,
        (429 | 503, _) => Rejection::Busy,
        _ => Rejection::Other,
    }
}

struct Shared {
    client_base: String,
    config: SwarmConfig,
    next_buyer: AtomicU64,
    arrivals: AtomicU64,
    metrics: Mutex<Metrics>,
    results: Mutex<Vec<(u64, bool)>>,
    start: Instant,
    /// How each buyer's visit ended (they add up to the buyers).
    endings: Mutex<Endings>,
}

/// Runs the swarm against `target` and reports.
pub fn run(target: &str, config: &SwarmConfig) -> Result<SwarmReport> {
    if config.stock.is_some() {
        return Err(Error::Usage(
            "--stock restocks the local file; with --target, restock on the server's side".into(),
        ));
    }
    if config.buyers == 0 {
        return Err(Error::Usage("--buyers must be at least 1".into()));
    }
    crate::hold::check_quantity(config.qty)?;
    let client = Client::new(target);
    let before = client.product(&config.sku)?;
    let health = client
        .send("GET", "/healthz", None, None)
        .map(|a| a.json)
        .unwrap_or(Value::Null);
    let threads = config
        .threads
        .unwrap_or(DEFAULT_CONNECTIONS)
        .clamp(1, usize::try_from(config.buyers).unwrap_or(usize::MAX));
    let shared = Arc::new(Shared {
        client_base: client.base.clone(),
        config: config.clone(),
        next_buyer: AtomicU64::new(0),
        arrivals: AtomicU64::new(0),
        metrics: Mutex::new(Metrics::default()),
        results: Mutex::new(Vec::new()),
        endings: Mutex::new(Endings::default()),
        start: Instant::now(),
    });
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("http-buyer".into())
                .stack_size(256 * 1024)
                .spawn(move || worker(&shared))
        })
        .collect::<std::io::Result<_>>()?;
    for w in workers {
        let _ = w.join();
    }
    let elapsed = shared.start.elapsed();
    let after = client.product(&config.sku)?;
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    let m = shared.metrics.lock().clone();
    // The server's books as the API shows them (no `short`: it never says one).
    let balance = |v: &Value| {
        Stock {
            product_id: ProductId(0),
            sku: String::new(),
            name: String::new(),
            total: n(v, "stock_total"),
            available: n(v, "available"),
            held: n(v, "held"),
            sold: n(v, "sold"),
            short: 0,
            version: 0,
        }
        .balance()
    };
    let measured = Measured {
        config,
        metrics: &m,
        elapsed,
        stock: n(&before, "available"),
        arrivals: std::mem::take(&mut *shared.results.lock()),
        // This run's oversell is what it changed; earlier damage is reported apart.
        balance: (balance(&before), balance(&after)),
    };
    Ok(SwarmReport {
        product: after["name"].as_str().unwrap_or("").to_owned(),
        strategy: format!(
            "{} over HTTP",
            health["strategy"].as_str().unwrap_or("unknown")
        ),
        safe: health["safe"].as_bool().unwrap_or(true),
        synchronous: health["synchronous"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned(),
        threads,
        sold: n(&after, "sold") - n(&before, "sold"),
        held: n(&after, "held") - n(&before, "held"),
        expired: i64::try_from(m.expired).unwrap_or(0),
        released: i64::try_from(m.released).unwrap_or(0),
        busy: m.rejected(Rejection::Busy),
        buyer_outcomes: *shared.endings.lock(),
        ..measured.report()
    })
}

fn worker(shared: &Shared) {
    let client = Client::new(&shared.client_base);
    loop {
        let index = shared.next_buyer.fetch_add(1, Ordering::Relaxed);
        if index >= shared.config.buyers {
            return;
        }
        buyer(shared, &client, index);
    }
}

fn at_ms(shared: &Shared) -> u64 {
    u64::try_from(shared.start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn buyer(shared: &Shared, client: &Client, index: u64) {
    let config = &shared.config;
    // `SwarmConfig::check` bounded the arrival span: a buyer is always due.
    let intended = super::buyer::due(config, shared.start, index).unwrap_or(shared.start);
    if let Some(wait) = intended.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let name = format!("{}{index}", config.buyer_prefix);
    let token = client
        .send("POST", "/api/buyers", None, Some(json!({"name": name})))
        .filter(|a| a.status == 201)
        .and_then(|a| a.json["token"].as_str().map(str::to_owned));
    let seq = shared.arrivals.fetch_add(1, Ordering::Relaxed);
    let answer = token.as_deref().and_then(|t| {
        client.send(
            "POST",
            "/api/holds",
            Some(t),
            Some(json!({"sku": config.sku, "qty": config.qty})),
        )
    });
    let latency_us = u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX);
    let held = answer.as_ref().filter(|a| a.status == 201);
    let outcome = match held {
        Some(_) => Outcome::Held,
        None => Outcome::Rejected(rejection(answer.as_ref())),
    };
    shared.metrics.lock().record(Sample::Attempt {
        at: at_ms(shared),
        latency_us,
        outcome,
    });
    let won = match (held, token) {
        (Some(a), Some(token)) => {
            let id = a.json["hold"]["id"].as_str().unwrap_or("").to_owned();
            settle(shared, client, &token, &id, index)
        }
        _ => {
            shared.endings.lock().count(Ending::TurnedAway);
            false
        }
    };
    shared.results.lock().push((seq, won));
}

fn settle(shared: &Shared, client: &Client, token: &str, id: &str, index: u64) -> bool {
    let config = &shared.config;
    let action = config
        .behaviour
        .pick(&mut behaviour::buyer_rng(config.seed, index));
    let path = format!("/api/holds/{id}");
    let (ending, sample) = match action {
        Action::Pay => {
            let paid = client.send("POST", &format!("{path}/pay"), Some(token), None);
            if paid.is_some_and(|a| a.status == 201 || a.status == 200) {
                (Ending::Paid, Some(Sample::Paid { at: at_ms(shared) }))
            } else {
                (Ending::Lapsed, None)
            }
        }
        Action::Abandon => (Ending::Abandoned, None),
        Action::Cancel | Action::PayFail => {
            let cancelled = client.send("DELETE", &path, Some(token), None);
            if action == Action::PayFail {
                shared
                    .metrics
                    .lock()
                    .record(Sample::PayFailed { at: at_ms(shared) });
            }
            let ending = if action == Action::PayFail {
                Ending::PayFailed
            } else {
                Ending::Cancelled
            };
            let released = cancelled.is_some_and(|a| a.status == 204);
            (
                ending,
                released.then(|| Sample::Released {
                    at: at_ms(shared),
                    qty: config.qty,
                }),
            )
        }
    };
    shared.endings.lock().count(ending);
    if let Some(sample) = sample {
        shared.metrics.lock().record(sample);
    }
    ending != Ending::Lapsed
}
