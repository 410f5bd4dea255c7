//! The real `flashsale serve` binary: a port from its first line, requests answered and
//! logged to its file (never the terminal), and SIGTERM drains: the open event stream
//! ends, the process exits 0, and `flashsale audit` finds the books balanced. And
//! `flashsale swarm --target` against a server.

mod common;
mod http_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flashsale::serve::ServeConfig;
use flashsale::{Clock, Strategy};
use http_support::{Client, Server};

#[test]
fn sigterm_drains_and_exits_zero_with_balanced_books() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:0", "--log"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    let c = Client::new(&format!("http://{addr}"));

    // A watcher holds an event stream open across the shutdown.
    let base = c.base.clone();
    let watcher = std::thread::spawn(move || {
        let agent = http_support::agent();
        let response = agent.get(format!("{base}/api/events")).call().unwrap();
        let mut all = String::new();
        // Ends when the server ends the stream; a timeout would be an error here.
        response
            .into_body()
            .into_reader()
            .read_to_string(&mut all)
            .map(|_| all)
    });

    let buyers: Vec<_> = (0..20).map(|i| c.buyer(&format!("b{i}"))).collect();
    for token in &buyers {
        assert_eq!(c.add_to_cart(token, "PHONE-X1", 1).status, 201);
    }
    let pay = c.as_buyer(
        &buyers[0],
        "POST",
        &format!("{}/pay", {
            let again = c.add_to_cart(&buyers[0], "BUDS-2", 1);
            again.location.unwrap()
        }),
        None,
    );
    assert_eq!(pay.status, 201);

    // Buyers keep adding to cart while the signal arrives: every 201 they were given
    // must be a committed hold, and nothing else may be.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (c, stop) = (c.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut won = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some(token) = try_buyer(&c) else { break };
                    match try_add(&c, &token) {
                        Some(201) => won += 1,
                        Some(_) => {}
                        None => break,
                    }
                }
                won
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let won: i64 = load.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(won > 0, "the load got some holds before the signal");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.is_empty(),
        "nothing but the address goes to the terminal: {stderr}"
    );
    let stream = watcher
        .join()
        .unwrap()
        .expect("the event stream ended cleanly");
    assert!(stream.contains("event: stock"), "{stream}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let load_holds: i64 = conn
        .query_row(
            "SELECT count(*) FROM holds h JOIN products p ON p.id = h.product_id
             WHERE p.sku = 'BUDS-2' AND h.buyer LIKE 'web-load%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        load_holds, won,
        "every 201 is a committed hold, and only those"
    );

    let logged = std::fs::read_to_string(&log).unwrap();
    let answered = |path: &str| {
        logged
            .lines()
            .filter(|l| l.contains("finished processing request") && l.contains(path))
            .count()
    };
    // One line per request: the first 20 buyers' holds and one more, a payment.
    assert!(answered("uri=/api/holds ") >= 21 + usize::try_from(won).unwrap());
    assert_eq!(answered("/pay "), 1, "{logged}");
    assert_eq!(answered("uri=/api/events "), 1, "{logged}");

    let audit = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .arg("--db")
        .arg(&db)
        .arg("audit")
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

/// A new buyer for the load, or None once the server has stopped answering.
fn try_buyer(c: &Client) -> Option<String> {
    let agent = http_support::agent();
    let mut r = agent
        .post(format!("{}/api/buyers", c.base))
        .send("{\"name\":\"load\"}")
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
    v["token"].as_str().map(str::to_owned)
}

/// One add-to-cart's status, or None if the server did not answer it.
fn try_add(c: &Client, token: &str) -> Option<u16> {
    let agent = http_support::agent();
    let r = agent
        .post(format!("{}/api/holds", c.base))
        .header("authorization", &format!("Bearer {token}"))
        .send("{\"sku\":\"BUDS-2\",\"qty\":1}")
        .ok()?;
    Some(r.status().as_u16())
}

#[test]
fn swarm_target_sends_the_bots_over_http_and_reports_from_the_server() {
    let db = common::db_with("RACE", 50, 1);
    let engine = common::engine(&db.path, Strategy::Queue, Clock::manual(common::START));
    let srv = Server::start(engine, ServeConfig::default());
    let out = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .current_dir(db.dir.path())
        .args([
            "swarm",
            "--target",
            &srv.base,
            "--buyers",
            "200",
            "--threads",
            "32",
        ])
        .args(["--pay", "4", "--cancel", "1", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sku"], "RACE", "the target's first product");
    assert_eq!(report["strategy"], "queue over HTTP");
    assert_eq!(report["attempts"], 200);
    assert_eq!(report["oversold"], 0);
    assert_eq!(report["undersold"], 0);
    let sold = report["sold"].as_i64().unwrap();
    let released = report["released"].as_i64().unwrap();
    assert!(sold > 0 && released > 0, "{report}");
    // Cancelled units went back on sale and later buyers took them.
    assert_eq!(
        report["holds_taken"].as_i64().unwrap(),
        50 + released,
        "{report}"
    );
    assert_eq!(
        report["rejected_sold_out"].as_i64().unwrap(),
        200 - 50 - released
    );
    drop(srv);
    let (available, active, paid, orders) = common::books(&db.path, "RACE");
    assert_eq!((available, active, paid, orders), (0, 0, sold, sold));
    assert_eq!(sold, 50);
    common::audit_ok(&db.path);
}

#[test]
fn bad_serve_usage_exits_2_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    for (args, says) in [
        (
            vec!["serve", "--strategy", "pay-first"],
            "pay-first takes no hold",
        ),
        (vec!["serve", "--listen", port.as_str()], "cannot listen on"),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log",
                "/no/such/dir/serve.log",
            ],
            "cannot write the log",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_flashsale"))
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
