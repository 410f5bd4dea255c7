//! The HTTP API against a real server on an ephemeral 127.0.0.1 port, with a real
//! client: the race, every status of DESIGN.md's table, idempotency, tokens, SSE, and
//! the books balancing afterwards. The manual clock moves time; no test sleeps for it.

mod common;
mod http_support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use flashsale::serve::ServeConfig;
use flashsale::{Clock, Strategy};
use http_support::Server;

fn server(db: &common::Db, strategy: Strategy, clock: Clock) -> Server {
    let engine = common::engine(&db.path, strategy, clock);
    Server::start(engine, ServeConfig::default())
}

// The 400-buyer race runs on both stores: `tests/http_stores.rs`.

#[test]
fn every_status_in_the_table() {
    let db = common::db_with("ITEM", 10, 1);
    let clock = Clock::manual(common::START);
    let srv = server(&db, Strategy::Immediate, clock.clone());
    let c = srv.client();
    let ann = c.buyer("ann");
    let bob = c.buyer("bob");

    // Public routes.
    assert_eq!(c.send("GET", "/healthz", &[], None).status, 200);
    let page = c.send("GET", "/", &[], None);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert_eq!(c.send("GET", "/api/products", &[], None).status, 200);
    let missing = c.send("GET", "/no/such/route", &[], None);
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    let wrong = c.send("PUT", "/api/products", &[], Some("{}"));
    assert_eq!(
        (wrong.status, wrong.content_type.as_str()),
        (405, "application/problem+json")
    );

    // 201 with Location, then the per-buyer limit.
    let held = c.add_to_cart(&ann, "ITEM", 1);
    assert_eq!(held.status, 201, "{}", held.text);
    let id = held.json["hold"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        held.location.as_deref(),
        Some(format!("/api/holds/{id}").as_str())
    );
    assert_eq!(held.json["hold"]["status"], "active");
    assert_eq!(held.json["hold"]["expires_in_ms"], 600_000);
    let again = c.add_to_cart(&ann, "ITEM", 1);
    assert_eq!((again.status, again.code()), (409, "per_buyer_limit"));

    // Someone else's hold is not found, exactly like an unknown one.
    let path = format!("/api/holds/{id}");
    assert_eq!(c.as_buyer(&ann, "GET", &path, None).status, 200);
    let theirs = c.as_buyer(&bob, "GET", &path, None);
    let unknown = c.as_buyer(
        &bob,
        "GET",
        "/api/holds/00000000-0000-4000-8000-000000000000",
        None,
    );
    assert_eq!((theirs.status, theirs.code()), (404, "not_found"));
    assert_eq!(unknown.status, 404);
    assert!(!theirs.text.contains("another buyer"), "{}", theirs.text);
    assert_eq!(
        c.as_buyer(&bob, "POST", &format!("{path}/pay"), None)
            .status,
        404
    );
    assert_eq!(c.as_buyer(&bob, "DELETE", &path, None).status, 404);
    let bad_id = c.as_buyer(&ann, "GET", "/api/holds/not-a-uuid", None);
    assert_eq!((bad_id.status, bad_id.code()), (404, "not_found"));

    // Extend: not yet (it already runs to now + TTL), then after a minute.
    let early = c.as_buyer(&ann, "POST", &format!("{path}/extend"), None);
    assert_eq!((early.status, early.code()), (409, "extension_limit"));
    clock.advance(Duration::from_secs(60));
    let extended = c.as_buyer(&ann, "POST", &format!("{path}/extend"), None);
    assert_eq!(extended.status, 200, "{}", extended.text);
    assert_eq!(extended.json["hold"]["expires_at"], common::START + 660_000);

    // Pay: 201, then 200 with the same order; a paid hold cannot be cancelled.
    let paid = c.as_buyer(&ann, "POST", &format!("{path}/pay"), None);
    assert_eq!(paid.status, 201, "{}", paid.text);
    let repaid = c.as_buyer(&ann, "POST", &format!("{path}/pay"), None);
    assert_eq!(repaid.status, 200);
    assert_eq!(repaid.json["order"]["id"], paid.json["order"]["id"]);
    let closed = c.as_buyer(&ann, "DELETE", &path, None);
    assert_eq!((closed.status, closed.code()), (409, "hold_closed"));
    let closed = c.as_buyer(&ann, "POST", &format!("{path}/extend"), None);
    assert_eq!((closed.status, closed.code()), (409, "hold_closed"));

    // Cancel: 204 and the unit is back at once.
    let b = c.add_to_cart(&bob, "ITEM", 1);
    let bpath = b.location.clone().unwrap();
    assert_eq!(common::books(&db.path, "ITEM").0, 8);
    assert_eq!(c.as_buyer(&bob, "DELETE", &bpath, None).status, 204);
    assert_eq!(common::books(&db.path, "ITEM").0, 9);

    // Expiry on the manual clock: 410 to pay or extend.
    let b = c.add_to_cart(&bob, "ITEM", 1);
    let bpath = b.location.clone().unwrap();
    clock.advance(Duration::from_secs(601));
    let gone = c.as_buyer(&bob, "POST", &format!("{bpath}/extend"), None);
    assert_eq!((gone.status, gone.code()), (410, "hold_expired"));
    let gone = c.as_buyer(&bob, "POST", &format!("{bpath}/pay"), None);
    assert_eq!((gone.status, gone.code()), (410, "hold_expired"));
    assert_eq!(
        c.as_buyer(&bob, "GET", &bpath, None).json["hold"]["status"],
        "expired"
    );

    // Bad requests.
    let unknown = c.add_to_cart(&ann, "NOPE", 1);
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    let zero = c.add_to_cart(&ann, "ITEM", 0);
    assert_eq!((zero.status, zero.code()), (422, "bad_request"));
    let malformed = c.as_buyer(&ann, "POST", "/api/holds", Some("{\"sku\": "));
    assert_eq!((malformed.status, malformed.code()), (400, "bad_request"));
    let big = format!("{{\"sku\":\"ITEM\",\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let big = c.as_buyer(&ann, "POST", "/api/holds", Some(&big));
    assert_eq!(big.status, 413);
    assert_eq!(big.content_type, "application/problem+json");

    // Tokens.
    let none = c.send("POST", "/api/holds", &[], Some("{\"sku\":\"ITEM\"}"));
    assert_eq!((none.status, none.code()), (401, "unauthorized"));
    assert_eq!(
        c.add_to_cart("", "ITEM", 1).status,
        401,
        "an empty bearer token"
    );
    let tampered = format!("{}x", &ann[..ann.len() - 1]);
    let t = c.add_to_cart(&tampered, "ITEM", 1);
    assert_eq!((t.status, t.code()), (401, "unauthorized"));
    let cookie = format!("flashsale_token={bob}");
    let by_cookie = c.send("GET", &bpath, &[("cookie", &cookie)], None);
    assert_eq!(by_cookie.status, 200, "the cookie is a token too");

    // Everything every answer said adds up in the file.
    drop(srv);
    common::audit_ok(&db.path);
}

#[test]
fn overloaded_answers_429_with_retry_after() {
    let db = common::db_with("ITEM", 10, 1);
    let engine = common::engine(&db.path, Strategy::Queue, Clock::manual(common::START));
    let srv = Server::start(
        engine,
        ServeConfig {
            queue_bound: 0,
            ..ServeConfig::default()
        },
    );
    let c = srv.client();
    let token = c.buyer("ann");
    let a = c.add_to_cart(&token, "ITEM", 1);
    assert_eq!((a.status, a.code()), (429, "overloaded"));
    assert_eq!(a.retry_after.as_deref(), Some("1"));
    drop(srv);
    assert_eq!(
        common::books(&db.path, "ITEM"),
        (10, 0, 0, 0),
        "nothing was taken"
    );
}

#[test]
fn idempotency_keys_replay_and_refuse_another_body() {
    let db = common::db_with("ITEM", 10, 2);
    let srv = server(&db, Strategy::Queue, Clock::manual(common::START));
    let c = srv.client();
    let ann = c.buyer("ann");
    let auth = format!("Bearer {ann}");
    let headers = [("authorization", auth.as_str()), ("idempotency-key", "k-1")];
    let body = "{\"sku\":\"ITEM\",\"qty\":1}";
    let first = c.send("POST", "/api/holds", &headers, Some(body));
    let second = c.send("POST", "/api/holds", &headers, Some(body));
    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(first.json, second.json, "the same answer, replayed");
    assert_eq!(first.location, second.location);
    assert_eq!(common::books(&db.path, "ITEM").1, 1, "one hold, not two");
    let other = c.send(
        "POST",
        "/api/holds",
        &headers,
        Some("{\"sku\":\"ITEM\",\"qty\":2}"),
    );
    assert_eq!((other.status, other.code()), (422, "bad_request"));
    // Another buyer's key of the same name is another key.
    let bob = format!("Bearer {}", c.buyer("bob"));
    let theirs = c.send(
        "POST",
        "/api/holds",
        &[("authorization", &bob), ("idempotency-key", "k-1")],
        Some(body),
    );
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.json["hold"]["id"], first.json["hold"]["id"]);

    let pay = format!("{}/pay", first.location.unwrap());
    let pay_headers = [("authorization", auth.as_str()), ("idempotency-key", "p-1")];
    let paid = c.send("POST", &pay, &pay_headers, Some(""));
    let replay = c.send("POST", &pay, &pay_headers, Some(""));
    assert_eq!(
        (paid.status, replay.status),
        (201, 201),
        "a replay is the first answer"
    );
    assert_eq!(paid.json, replay.json);
    drop(srv);
    assert_eq!(common::books(&db.path, "ITEM"), (8, 1, 1, 1));
    common::audit_ok(&db.path);
}

#[test]
fn tokens_survive_a_restart_on_the_same_database() {
    let db = common::db_with("ITEM", 10, 1);
    let srv = server(&db, Strategy::Immediate, Clock::manual(common::START));
    let token = srv.client().buyer("ann");
    drop(srv);
    let srv = server(&db, Strategy::Immediate, Clock::manual(common::START));
    assert_eq!(srv.client().add_to_cart(&token, "ITEM", 1).status, 201);
}

#[test]
fn events_stream_the_stock_then_holds() {
    let db = common::db_with("ITEM", 10, 1);
    let srv = server(&db, Strategy::Immediate, Clock::manual(common::START));
    let agent = http_support::agent();
    let response = agent
        .get(format!("{}/api/events", srv.base))
        .call()
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let mut next_event = |kind: &str| -> (String, String) {
        let mut id = String::new();
        let mut event = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(data) = line.strip_prefix("data:")
                && event == kind
            {
                return (id, data.trim().to_owned());
            }
        }
        panic!("the stream ended before a {kind} event");
    };
    let (first_id, stock) = next_event("stock");
    assert!(!first_id.is_empty(), "every event has an id");
    assert!(stock.contains("\"available\":10"), "{stock}");
    let c = srv.client();
    let token = c.buyer("ann");
    assert_eq!(c.add_to_cart(&token, "ITEM", 1).status, 201);
    let (_, hold) = next_event("hold");
    assert!(
        hold.contains("\"sku\":\"ITEM\"") && !hold.contains("web-ann"),
        "{hold}"
    );
    let (stock_id, stock) = next_event("stock");
    assert!(stock.contains("\"available\":9"), "{stock}");
    assert!(stock_id.parse::<u64>().unwrap() > first_id.parse::<u64>().unwrap());
}

#[test]
fn an_unpaid_hold_comes_back_within_a_second_and_metrics_show_the_lag() {
    // The one test on the real clock: a 1 s TTL and the real sweeper.
    let db = common::db_with("ITEM", 1, 1);
    let (store, _) = flashsale::Store::open(&db.path, common::options()).unwrap();
    let engine = flashsale::Engine::open(
        store,
        flashsale::EngineConfig {
            strategy: Strategy::Queue,
            hold_ttl: Some(Duration::from_secs(1)),
            ..flashsale::EngineConfig::default()
        },
    )
    .unwrap();
    let srv = Server::start(engine, ServeConfig::default());
    let c = srv.client();
    let ann = c.buyer("ann");
    assert_eq!(c.add_to_cart(&ann, "ITEM", 1).status, 201);
    let bob = c.buyer("bob");
    assert_eq!(c.add_to_cart(&bob, "ITEM", 1).code(), "sold_out");
    let mut back = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(100));
        let p = c.send("GET", "/api/products", &[], None);
        if p.json[0]["available"] == 1 {
            back = true;
            break;
        }
    }
    assert!(back, "the unit is back on sale within 2 s of a 1 s hold");
    assert_eq!(c.add_to_cart(&bob, "ITEM", 1).status, 201);
    let metrics = c.send("GET", "/metrics", &[], None);
    assert!(metrics.content_type.starts_with("text/plain"));
    let lag_count = metrics
        .text
        .lines()
        .find(|l| l.starts_with("flashsale_expiry_lag_seconds_count"))
        .unwrap();
    assert_eq!(
        lag_count, "flashsale_expiry_lag_seconds_count 1",
        "{}",
        metrics.text
    );
    let p99: f64 = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("flashsale_expiry_lag_seconds{quantile=\"0.99\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(p99 < 1.0, "expiry lag {p99} s");
    assert!(
        metrics.text.contains("flashsale_holds_total 2"),
        "{}",
        metrics.text
    );
    // The writer thread wrote those holds: it has been on a core.
    if std::path::Path::new("/proc/self/schedstat").exists() {
        let on_cpu: f64 = metrics
            .text
            .lines()
            .find_map(|l| l.strip_prefix("flashsale_writer_cpu_seconds_total "))
            .expect("the writer's seconds on a core")
            .parse()
            .unwrap();
        assert!(on_cpu > 0.0, "{}", metrics.text);
    }
    drop(srv);
    common::audit_ok(&db.path);
}

#[test]
fn two_servers_on_one_file_share_tokens_and_idempotency_keys() {
    let db = common::db_with("ITEM", 10, 2);
    let clock = Clock::manual(common::START);
    let a = server(&db, Strategy::Immediate, clock.clone());
    let b = server(&db, Strategy::Immediate, clock);
    let (ca, cb) = (a.client(), b.client());
    let token = ca.buyer("ann");
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "phone-retry"),
    ];
    let body = "{\"sku\":\"ITEM\",\"qty\":1}";
    let first = ca.send("POST", "/api/holds", &headers, Some(body));
    assert_eq!(first.status, 201, "{}", first.text);
    // The phone's retry lands on the other server: the same hold, not a second one.
    let retry = cb.send("POST", "/api/holds", &headers, Some(body));
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.json, first.json);
    let path = first.location.unwrap();
    assert_eq!(cb.as_buyer(&token, "GET", &path, None).status, 200);
    drop((a, b));
    assert_eq!(common::books(&db.path, "ITEM"), (9, 1, 0, 0));
}

#[test]
fn a_phone_that_drops_the_connection_gets_its_hold_on_retry_not_a_second_one() {
    use std::io::Write;
    let db = common::db_with("ITEM", 10, 2);
    let srv = server(&db, Strategy::Queue, Clock::manual(common::START));
    let c = srv.client();
    let token = c.buyer("ann");
    let body = "{\"sku\":\"ITEM\",\"qty\":1}";
    let addr = srv.base.trim_start_matches("http://");
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    write!(
        raw,
        "POST /api/holds HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: flaky\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    drop(raw); // gone before the answer
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "flaky"),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let retry = loop {
        let a = c.send("POST", "/api/holds", &headers, Some(body));
        if a.code() != "in_progress" || std::time::Instant::now() > deadline {
            break a;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(retry.status, 201, "{}", retry.text);
    drop(srv);
    assert_eq!(common::books(&db.path, "ITEM").1, 1, "one hold for one key");
}
