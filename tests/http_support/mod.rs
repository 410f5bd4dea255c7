//! Shared by the HTTP tests: a real server on an ephemeral 127.0.0.1 port, in this
//! process (so a test can hold the manual clock), and a real HTTP client (ureq).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use flashsale::Engine;
use flashsale::serve::{self, ServeConfig};
use serde_json::Value;

pub struct Server {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(engine: Engine, config: ServeConfig) -> Server {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = serve::listen("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                serve::run(engine, listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server started");
        Server {
            base: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An answer: status, headers we look at, and the body parsed as JSON (Null if not).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub set_cookie: Option<String>,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

/// A client that returns every status as an answer and gives up after 30 s.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_owned(),
            agent: agent(),
        }
    }

    /// One request; `headers` are `(name, value)` pairs.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = match body {
            Some(body) => self
                .agent
                .run(builder.body(body.to_owned()).expect("request")),
            None => self.agent.run(builder.body(()).expect("request")),
        };
        let mut response = response.expect("an HTTP answer");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let retry_after = header("retry-after");
        let set_cookie = header("set-cookie");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            location,
            retry_after,
            set_cookie,
            text,
            json,
        }
    }

    /// A new buyer's token.
    pub fn buyer(&self, name: &str) -> String {
        let a = self.send(
            "POST",
            "/api/buyers",
            &[],
            Some(&format!("{{\"name\":\"{name}\"}}")),
        );
        assert_eq!(a.status, 201, "{}", a.text);
        a.json["token"].as_str().expect("token").to_owned()
    }

    pub fn as_buyer(&self, token: &str, method: &str, path: &str, body: Option<&str>) -> Answer {
        let auth = format!("Bearer {token}");
        self.send(method, path, &[("authorization", &auth)], body)
    }

    pub fn add_to_cart(&self, token: &str, sku: &str, qty: i64) -> Answer {
        self.as_buyer(
            token,
            "POST",
            "/api/holds",
            Some(&format!("{{\"sku\":\"{sku}\",\"qty\":{qty}}}")),
        )
    }
}
