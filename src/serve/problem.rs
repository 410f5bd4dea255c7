//! Errors as `application/problem+json` (RFC 9457): every refusal the API gives goes
//! through the one [`IntoResponse`] impl here, so a status, its `code` and its headers
//! are decided in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::Error;

/// One refusal: a status, a stable `code` clients switch on, one sentence for people.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Members beside the standard ones (`available`, `requested`, ...).
    pub extra: Map<String, Value>,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// The engine's queue is past its bound: come back in `seconds`.
    pub fn overloaded(seconds: u64) -> Self {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            format!("The sale is taking more requests than it can queue; retry in {seconds} s"),
        );
        p.retry_after = Some(seconds);
        p
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        p.retry_after = Some(1);
        p
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_owned(), value.into());
        self
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": format!("/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra.clone());
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"flashsale\""),
            );
        }
        response
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::SoldOut {
                available,
                requested,
                ..
            } => Problem::new(StatusCode::CONFLICT, "sold_out", detail)
                .with("available", available)
                .with("requested", requested),
            Error::Refunded { .. } => Problem::new(StatusCode::CONFLICT, "sold_out", detail),
            Error::LimitReached {
                held,
                limit,
                requested,
                ..
            } => Problem::new(StatusCode::CONFLICT, "per_buyer_limit", detail)
                .with("held", held)
                .with("limit", limit)
                .with("requested", requested),
            Error::UnknownSku { .. } => Problem::not_found(detail),
            // Someone else's hold reads exactly as an unknown one: never reveal it.
            Error::HoldNotFound { id } | Error::NotYourHold { id } => {
                Problem::not_found(Error::HoldNotFound { id }.to_string())
            }
            Error::BadQuantity { .. } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", detail)
            }
            Error::HoldExpired { .. } => Problem::new(StatusCode::GONE, "hold_expired", detail),
            Error::HoldClosed { .. } => Problem::new(StatusCode::CONFLICT, "hold_closed", detail),
            Error::ExtendLimit { .. } => {
                Problem::new(StatusCode::CONFLICT, "extension_limit", detail)
            }
            Error::Conflict { .. } | Error::Busy | Error::PoolTimeout { .. } | Error::Stopped => {
                Problem::unavailable(detail)
            }
            Error::Usage(_) => Problem::bad_request(detail),
            _ => {
                tracing::error!(error = %detail, "engine failure");
                Problem::unavailable(format!(
                    "The sale's database could not answer ({detail}); nothing half-done was kept"
                ))
            }
        }
    }
}
