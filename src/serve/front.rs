//! The service every request passes through before routing: its one log line, and a 500
//! for a bug in a handler.
//!
//! Why not axum's `from_fn` and tower-http's `CatchPanicLayer` on the router: a layer on
//! a `Router` wraps each route, and each wrapped route boxes its service and its future
//! again on every request. With three such layers an add-to-cart made 56 allocations on
//! the runtime's threads (`perf stat -e probe_libc:malloc`); this one wrapper, around
//! the whole router and polled in place, makes none.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::Service;

use super::problem::Problem;

/// Wraps the whole application (see the module's doc).
#[derive(Debug, Clone)]
pub struct Front<S> {
    inner: S,
}

impl<S> Front<S> {
    pub fn new(inner: S) -> Self {
        Front { inner }
    }
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = request.method().clone();
        let uri = request.uri().clone();
        // A panic while the router sets the request up is a bug like any other.
        let inner = catch_unwind(AssertUnwindSafe(|| self.inner.call(request))).ok();
        Answer {
            inner,
            method,
            uri,
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The answer to one request, logged when it is ready.
    pub struct Answer<F> {
        #[pin]
        inner: Option<F>,
        method: Method,
        uri: Uri,
        started: Instant,
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.inner.as_pin_mut() {
            None => bug(),
            Some(inner) => match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(response))) => response,
                Ok(Poll::Ready(Err(never))) => match never {},
                // Never polled again: this future is ready now. An engine change is
                // one transaction, so nothing was left half-done.
                Err(_) => bug(),
            },
        };
        // What tower-http's `TraceLayer` wrote, without the span it opened and
        // formatted for every request (a tenth of the server's CPU under load, perf).
        tracing::info!(
            method = %this.method,
            uri = %this.uri,
            status = response.status().as_u16(),
            latency_us = u64::try_from(this.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "finished processing request"
        );
        Poll::Ready(Ok(response))
    }
}

/// A bug in a handler answers 500 and leaves the server and other requests be.
fn bug() -> Response {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "unavailable",
        "The server hit an internal bug on this request; nothing half-done was kept",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;

    async fn answer(path: &str) -> Response {
        async fn boom() -> &'static str {
            panic!("a bug in a handler")
        }
        let router = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/boom", get(boom));
        let mut front = Front::new(router);
        std::future::poll_fn(|cx| front.poll_ready(cx))
            .await
            .unwrap();
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        front.call(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_next_request_is_served() {
        let response = answer("/boom").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "unavailable");
        assert_eq!(answer("/ok").await.status(), StatusCode::OK);
    }
}
