//! The storefront page in a real headless browser (Debian's `chromium`, installed by
//! `.ci/run`), driven over the DevTools protocol: the page loads, shows live stock, and
//! a real click takes a hold that the server and the page both see. Skips, saying why,
//! where chromium is not installed.

mod common;
mod http_support;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flashsale::serve::ServeConfig;
use flashsale::{Clock, Strategy};
use http_support::Server;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Starts headless chromium on `url`; returns it and its DevTools port.
fn launch(binary: &str, url: &str) -> (Browser, u16) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--remote-debugging-port=0",
            "--window-size=400,800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                let port = rest.split('/').next().unwrap_or("").parse::<u16>();
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("chromium printed its DevTools address")
        .expect("a port");
    (
        Browser {
            child,
            _profile: profile,
        },
        port,
    )
}

struct Page {
    ws: WebSocket<TcpStream>,
    next: u64,
}

impl Page {
    /// The DevTools socket of the page showing `url`.
    fn attach(port: u16, url: &str) -> Page {
        let client = http_support::Client::new(&format!("http://127.0.0.1:{port}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let ws_url = loop {
            let list = client.send("GET", "/json/list", &[], None).json;
            let found = list.as_array().and_then(|pages| {
                pages.iter().find_map(|p| {
                    (p["type"] == "page" && p["url"].as_str().is_some_and(|u| u.starts_with(url)))
                        .then(|| p["webSocketDebuggerUrl"].as_str().map(str::to_owned))
                        .flatten()
                })
            });
            if let Some(u) = found {
                break u;
            }
            assert!(Instant::now() < deadline, "no page for {url} in {list}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(ws_url.as_str(), stream).expect("DevTools handshake");
        Page { ws, next: 1 }
    }

    /// `Runtime.evaluate` of `expression`; its value.
    fn eval(&mut self, expression: &str) -> Value {
        let id = self.next;
        self.next += 1;
        let call = json!({"id": id, "method": "Runtime.evaluate",
                          "params": {"expression": expression, "returnByValue": true}});
        self.ws.send(Message::text(call.to_string())).unwrap();
        loop {
            let message = self.ws.read().expect("a DevTools answer");
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] == id {
                return answer["result"]["result"]["value"].clone();
            }
        }
    }

    /// Polls `expression` until it is true (the page updates on its own).
    fn wait_for(&mut self, what: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(expression) != json!(true) {
            assert!(Instant::now() < deadline, "the page never showed {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn the_storefront_shows_live_stock_and_a_click_takes_a_hold() {
    let Some(binary) = chromium() else {
        println!(
            "skipped: chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
        );
        return;
    };
    let db = common::db_with("ITEM", 10, 1);
    let engine = common::engine(&db.path, Strategy::Queue, Clock::manual(common::START));
    let srv = Server::start(engine, ServeConfig::default());
    let url = format!("{}/", srv.base);
    let (_browser, port) = launch(binary, &url);
    let mut page = Page::attach(port, &url);
    let stock = "document.querySelector('#product-ITEM .stock')?.textContent ?? ''";
    page.wait_for(
        "the stock",
        &format!("({stock}).startsWith('10 of 10 left')"),
    );

    // Someone else buys: the page's stock follows over SSE, without a reload.
    let other = srv.client();
    let token = other.buyer("bot");
    assert_eq!(other.add_to_cart(&token, "ITEM", 1).status, 201);
    page.wait_for(
        "the live stock",
        &format!("({stock}).startsWith('9 of 10 left')"),
    );

    // A real click on the button takes a hold.
    page.eval("document.querySelector('#product-ITEM button.add').click()");
    page.wait_for(
        "a hold with a countdown",
        "document.querySelectorAll('.hold[data-state=active] .countdown').length === 1",
    );
    page.wait_for(
        "the stock after the click",
        &format!("({stock}).startsWith('8 of 10 left')"),
    );
    let countdown = page.eval("document.querySelector('.hold .countdown').textContent");
    let countdown = countdown.as_str().unwrap();
    assert!(
        countdown == "10:00" || countdown.starts_with("9:5"),
        "a 10-minute hold counting down: {countdown}"
    );

    // Pay with a click: an order, and the page says so.
    page.eval("document.querySelector('.hold button.pay').click()");
    page.wait_for(
        "the paid hold",
        "document.querySelectorAll('.hold[data-state=paid]').length === 1",
    );
    let message = page.eval("document.querySelector('#message').textContent");
    assert!(
        message.as_str().unwrap().starts_with("Paid — order"),
        "{message}"
    );
    drop(srv);
    assert_eq!(common::books(&db.path, "ITEM"), (8, 1, 1, 1));
    common::audit_ok(&db.path);
}
