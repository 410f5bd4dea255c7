//! The routes of DESIGN.md's table. Each handler parses, calls one engine operation on
//! the blocking pool (add-to-cart on `queue`: through the writer's own queue), and
//! answers; every refusal is a [`Problem`].

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Either, Map};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{self, Buyer};
use super::idempotency::{self, Claim, Stored};
use super::problem::Problem;
use super::views::{HoldBody, HoldView, OrderBody, OrderView};
use super::{AppState, BODY_LIMIT};
use crate::engine::Paid;
use crate::error::Error;
use crate::ids::HoldId;
use crate::metrics::{Outcome, Sample};
use flashsale_core::shop::Later;

const STOREFRONT: &str = include_str!("../../assets/storefront.html");

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(storefront))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/buyers", post(new_buyer))
        .route("/api/products", get(products))
        .route("/api/events", get(events))
        .route("/api/holds", post(add_to_cart))
        .route("/api/holds/{id}", get(show_hold).delete(cancel))
        .route("/api/holds/{id}/extend", post(extend))
        .route("/api/holds/{id}/pay", post(pay))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// An answer before it becomes a response: kept as it is for idempotent replays.
type Answer = Result<Stored, Problem>;

/// Serialized straight from the view (a `json!` value first cost a map and a string per
/// field on every add-to-cart). Views and values have string keys only: they always
/// serialize.
fn json_answer(
    status: StatusCode,
    body: &impl serde::Serialize,
    location: Option<String>,
) -> Stored {
    Stored {
        status: status.as_u16(),
        // Sized for a hold at once, so the text is not copied as it grows.
        body: {
            let mut text = Vec::with_capacity(256);
            let _ = serde_json::to_writer(&mut text, body);
            String::from_utf8(text).unwrap_or_default()
        },
        location,
    }
}

fn respond(stored: Stored, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let kind = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = Response::new(axum::body::Body::from(stored.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // The text itself becomes the header, not a copy of it.
    let location = stored.location.map(Bytes::from);
    if let Some(location) = location.and_then(|l| HeaderValue::from_maybe_shared(l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn body_problem(rejection: &BytesRejection) -> Problem {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad_request",
            format!(
                "The request body is over {} KiB; send a smaller one",
                BODY_LIMIT / 1024
            ),
        )
    } else {
        Problem::bad_request(format!("The request body could not be read: {rejection}"))
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!("The request body is not the JSON expected: {e}"))
    })
}

fn hold_id(text: &str) -> Result<HoldId, Problem> {
    text.parse()
        .map_err(|_| Problem::not_found(format!("No hold {text:?}: check the hold id")))
}

/// A request's `Idempotency-Key`, read alone (axum's `HeaderMap` extractor copies
/// every header).
struct IdempotencyKey(Option<String>);

impl<S: Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let key = parts.headers.get("idempotency-key");
        Ok(IdempotencyKey(
            key.and_then(|v| v.to_str().ok()).map(str::to_owned),
        ))
    }
}

/// What a request under an `Idempotency-Key` is checked and stored by.
struct Asked {
    state: AppState,
    buyer: String,
    path: String,
    body: Bytes,
}

/// Runs `op` under the request's `Idempotency-Key`, if it has one: a repeat replays the
/// first answer, another request under the same key is 422. `asked` is called only then.
///
/// Not an `async fn`, and owning what it needs: as one it kept `op` twice (its argument
/// and what it awaited), the keyed path inline, and the handler's borrows, and
/// add-to-cart's future grew to 2,712 bytes — past glibc's 1 KiB line, where each
/// allocation first sweeps the small free lists (perf: `malloc_consolidate`). Without a
/// key the future is `op`'s own: add-to-cart's is 520 bytes in all.
fn idempotent<F: Future<Output = Answer> + Send + 'static>(
    IdempotencyKey(key): IdempotencyKey,
    asked: impl FnOnce() -> Asked,
    op: F,
) -> Idempotent<F> {
    match key {
        None => Either::Left(op.map(plain)),
        Some(key) => Either::Right(Box::pin(keyed(key, asked(), op))),
    }
}

/// Named, so that it does not hold on to the borrows of `asked`.
type Idempotent<F> = Either<Map<F, fn(Answer) -> Response>, BoxFuture<'static, Response>>;

fn plain(answer: Answer) -> Response {
    answer.map_or_else(IntoResponse::into_response, |a| respond(a, false))
}

async fn keyed(
    key: String,
    Asked {
        state,
        buyer,
        path,
        body,
    }: Asked,
    op: impl Future<Output = Answer> + Send + 'static,
) -> Response {
    if key.is_empty() || key.len() > 255 {
        return Problem::bad_request("An Idempotency-Key is 1 to 255 characters").into_response();
    }
    // Every keyed route is a POST.
    let fingerprint = idempotency::fingerprint("POST", &path, &body);
    // A task of its own: when the client goes away mid-request (the flaky phone this is
    // for), the answer is still stored for its retry, instead of a claim left pending.
    let task = tokio::spawn(async move {
        let claim = {
            let (buyer, key) = (buyer.clone(), key.clone());
            state
                .blocking(move |e| Ok(idempotency::claim(e, &buyer, &key, &fingerprint)?))
                .await
        };
        match claim {
            Err(p) | Ok(Claim::Refused(p)) => return p.into_response(),
            Ok(Claim::Replay(stored)) => return respond(stored, true),
            Ok(Claim::Fresh) => {}
        }
        let stored = match op.await {
            Ok(stored) => stored,
            // Turned away for a passing reason: forget the claim so the retry is served.
            Err(p) if p.retry_after.is_some() => {
                let _ = state
                    .blocking(move |e| Ok(idempotency::abandon(e, &buyer, &key)?))
                    .await;
                return p.into_response();
            }
            Err(p) => Stored {
                status: p.status.as_u16(),
                body: p.body().to_string(),
                location: None,
            },
        };
        let to_store = stored.clone();
        let _ = state
            .blocking(move |e| Ok(idempotency::finish(e, &buyer, &key, &to_store)?))
            .await;
        respond(stored, false)
    });
    task.await.unwrap_or_else(|_| {
        Problem::unavailable("The server's worker failed; retry the request").into_response()
    })
}

async fn storefront() -> Html<&'static str> {
    Html(STOREFRONT)
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "bad_request",
        "This route does not take that method; see the API table in the README",
    )
}

async fn not_found() -> Problem {
    Problem::not_found("No such page or API route; the storefront is at /")
}

async fn healthz(State(state): State<AppState>) -> Result<Json, Problem> {
    state.blocking(|e| e.stock().map(|_| ())).await?;
    let strategy = state.engine.strategy();
    Ok(Json(
        StatusCode::OK,
        json!({"status": "ok", "strategy": strategy.name(), "safe": strategy.is_safe(),
               "synchronous": state.engine.durability()}),
    ))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = super::metrics::Gauges {
        queue_depth: state.in_flight.load(std::sync::atomic::Ordering::Relaxed),
        queue_bound: state.config.queue_bound,
        counters: state.engine.counters(),
        writer: state.engine.writer_times(),
    };
    let text = super::metrics::render(&state.metrics.lock(), &gauges);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A JSON answer with a status (axum's `Json` always answers 200).
struct Json(StatusCode, Value);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        respond(json_answer(self.0, &self.1, None), false)
    }
}

#[derive(Deserialize)]
struct NewBuyer {
    name: Option<String>,
}

async fn new_buyer(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body.map_err(|r| body_problem(&r))?;
    let name = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse::<NewBuyer>(&body)?.name
    };
    let buyer = auth::new_buyer(name.as_deref());
    let token = state.signer.token(&buyer);
    let mut response =
        Json(StatusCode::CREATED, json!({"buyer": buyer, "token": token})).into_response();
    // HttpOnly: the page's scripts never see it; SameSite=Strict: other sites cannot
    // send it along with their own requests.
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800",
        auth::COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn products(State(state): State<AppState>) -> Result<Json, Problem> {
    let products = state.blocking(super::products).await?;
    Ok(Json(StatusCode::OK, json!(products)))
}

async fn events(State(state): State<AppState>) -> impl IntoResponse {
    super::events::stream(&state.live, state.shutdown.clone())
}

#[derive(Deserialize)]
struct AddToCart {
    sku: String,
    #[serde(default = "one")]
    qty: i64,
}

fn one() -> i64 {
    1
}

/// A plain function, not `async`: the future it gives axum to box is the answer's own
/// (see [`idempotent`]).
fn add_to_cart(
    State(state): State<AppState>,
    Buyer(buyer): Buyer,
    key: IdempotencyKey,
    body: Result<Bytes, BytesRejection>,
) -> impl Future<Output = Response> + Send {
    let parsed = body
        .map_err(|r| body_problem(&r))
        .and_then(|body| Ok((parse::<AddToCart>(&body)?, body)));
    let (request, body) = match parsed {
        Ok(parsed) => parsed,
        Err(problem) => return Either::Left(std::future::ready(problem.into_response())),
    };
    let asked = || Asked {
        state: state.clone(),
        buyer: buyer.clone(),
        path: "/api/holds".to_owned(),
        body,
    };
    let op = hold_answer(state.clone(), buyer.clone(), request, Instant::now());
    Either::Right(idempotent(key, asked, op))
}

/// Add-to-cart's answer, or its refusal.
async fn hold_answer(state: AppState, who: String, request: AddToCart, started: Instant) -> Answer {
    if let Err(p) = state.admit() {
        record(&state, started, Outcome::Rejected(crate::Rejection::Busy));
        return Err(p);
    }
    let result = take_hold(&state, request.sku.clone(), who, request.qty).await?;
    let now = state.engine.clock().now();
    match result {
        Ok(hold) => {
            record(&state, started, Outcome::Held);
            let view = HoldView::new(&hold, &request.sku, crate::hold::ACTIVE, now);
            let location = format!("/api/holds/{}", hold.id);
            Ok(json_answer(
                StatusCode::CREATED,
                &HoldBody { hold: &view },
                Some(location),
            ))
        }
        Err((e, may_return)) => {
            record(&state, started, Outcome::Rejected(e.rejection()));
            let mut problem = Problem::from(e);
            if let Some(back) = may_return {
                let within = back.last.map_or(0, |last| (last - now).max(0));
                problem = problem
                    .with("holds_may_return", back.holds)
                    .with("may_return_within_ms", within);
            }
            Err(problem)
        }
    }
}

/// What may come back of a sold-out product, beside the refusal.
type Refused = (Error, Option<crate::monitor::MayReturn>);

/// Add to cart. Where the engine answers later (`queue` on a file) no thread waits
/// for the writer: the answer comes back through a oneshot. The blocking pool still
/// runs every other strategy, the retry after a sweep, and the reading of what may
/// come back of a sold-out product.
async fn take_hold(
    state: &AppState,
    sku: String,
    who: String,
    qty: i64,
) -> Result<Result<crate::hold::Hold, Refused>, Problem> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let counted = super::InFlight::enter(&state.in_flight);
    let started = state.engine.start_reserve(
        &sku,
        &who,
        qty,
        Box::new(move |later| {
            drop(counted);
            let _ = tx.send(later);
        }),
    );
    let later =
        match started {
            Ok(()) => Some(rx.await.map_err(|_| {
                Problem::unavailable("The server's writer stopped; retry the request")
            })?),
            Err(_) => None,
        };
    match later {
        Some(Later::Answer(Ok(hold))) => Ok(Ok(hold)),
        Some(Later::Answer(Err(e @ Error::SoldOut { .. }))) => {
            let back = state.blocking(move |e| Ok(may_return(e, &sku))).await?;
            Ok(Err((e, back)))
        }
        Some(Later::Answer(Err(e))) => Ok(Err((e, None))),
        Some(Later::AskAgain) | None => {
            state
                .blocking(move |e| Ok(reserve(e, &sku, &who, qty)))
                .await
        }
    }
}

fn reserve(
    engine: &crate::Engine,
    sku: &str,
    buyer: &str,
    qty: i64,
) -> Result<crate::hold::Hold, Refused> {
    engine.reserve(sku, buyer, qty).map_err(|e| {
        let back = match &e {
            Error::SoldOut { .. } => may_return(engine, sku),
            _ => None,
        };
        (e, back)
    })
}

/// What may come back of a sold-out product (none said when it cannot be read).
fn may_return(engine: &crate::Engine, sku: &str) -> Option<crate::monitor::MayReturn> {
    engine
        .product(sku)
        .ok()
        .and_then(|p| engine.may_return(p.id).ok())
}

fn record(state: &AppState, started: Instant, outcome: Outcome) {
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let at = u64::try_from(state.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    state.metrics.lock().record(Sample::Attempt {
        at,
        latency_us,
        outcome,
    });
}

async fn show_hold(
    State(state): State<AppState>,
    Buyer(buyer): Buyer,
    Path(id): Path<String>,
) -> Result<Json, Problem> {
    let id = hold_id(&id)?;
    let found = state.blocking(move |e| e.hold(id, &buyer)).await?;
    let sku = state.sku(found.hold.product_id);
    let mut view = HoldView::new(&found.hold, &sku, &found.status, state.engine.clock().now());
    view.extensions = Some(found.extensions);
    Ok(Json(StatusCode::OK, json!({"hold": view})))
}

async fn extend(
    State(state): State<AppState>,
    Buyer(buyer): Buyer,
    Path(id): Path<String>,
) -> Result<Json, Problem> {
    let id = hold_id(&id)?;
    let hold = state.blocking(move |e| e.extend(id, &buyer)).await?;
    let sku = state.sku(hold.product_id);
    let view = HoldView::new(&hold, &sku, crate::hold::ACTIVE, state.engine.clock().now());
    Ok(Json(StatusCode::OK, json!({"hold": view})))
}

async fn pay(
    State(state): State<AppState>,
    Buyer(buyer): Buyer,
    Path(id): Path<String>,
    key: IdempotencyKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body.map_err(|r| body_problem(&r))?;
    let hold = hold_id(&id)?;
    let (for_op, who) = (state.clone(), buyer.clone());
    let op = async move {
        let state = for_op;
        let paid = state.blocking(move |e| e.pay(hold, &who)).await?;
        let (status, order) = match paid {
            Paid::New(order) => (StatusCode::CREATED, order),
            Paid::Again(order) => (StatusCode::OK, order),
        };
        let view = OrderView::new(&order, &state.sku(order.product_id));
        Ok(json_answer(status, &OrderBody { order: &view }, None))
    };
    let asked = || Asked {
        state: state.clone(),
        buyer: buyer.clone(),
        path: format!("/api/holds/{hold}/pay"),
        body,
    };
    Ok(idempotent(key, asked, op).await)
}

async fn cancel(
    State(state): State<AppState>,
    Buyer(buyer): Buyer,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = hold_id(&id)?;
    state.blocking(move |e| e.release_id(id, &buyer)).await?;
    Ok(StatusCode::NO_CONTENT)
}
