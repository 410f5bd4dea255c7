//! The HTTP API on both stores from one test body: 400 buyers race for 50 units through
//! a real server on an ephemeral port (exactly 50 × 201 and 350 × 409 `sold_out`), and
//! Idempotency-Key replays, with the server's sale on an SQLite file and on PostgreSQL.

mod common;
mod http_support;

use std::sync::{Arc, Barrier};

use common::START;
use common::both::stores;
use common::servers::Postgres;
use flashsale::serve::ServeConfig;
use flashsale::{Clock, Strategy};
use http_support::Server;

#[test]
fn four_hundred_buyers_race_for_fifty_units_on_both_stores() {
    let pg = Postgres::start();
    for sale in stores(pg.as_ref(), "http_race", "RACE", 50, 1) {
        let on = sale.name();
        let engine = sale.engine(Strategy::Queue, Clock::manual(START));
        let srv = Server::start(engine, ServeConfig::default());
        // Tokens first: a buyer thread that failed before the barrier would leave the
        // others waiting at it forever.
        let buyers: Vec<String> = (0..400)
            .map(|i| srv.client().buyer(&format!("r{i}")))
            .collect();
        let gate = Arc::new(Barrier::new(400));
        let racers: Vec<_> = buyers
            .into_iter()
            .map(|token| {
                let client = srv.client();
                let gate = Arc::clone(&gate);
                std::thread::spawn(move || {
                    gate.wait();
                    client.add_to_cart(&token, "RACE", 1)
                })
            })
            .collect();
        let answers: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let won = answers.iter().filter(|a| a.status == 201).count();
        let sold_out = answers
            .iter()
            .filter(|a| a.status == 409 && a.code() == "sold_out")
            .count();
        assert_eq!((won, sold_out), (50, 350), "{on}");
        let loser = answers.iter().find(|a| a.status == 409).unwrap();
        assert_eq!(loser.content_type, "application/problem+json", "{on}");
        assert_eq!(loser.json["available"], 0, "{on}");
        assert_eq!(loser.json["requested"], 1, "{on}");
        let detail = loser.json["detail"].as_str().unwrap();
        assert!(
            detail.contains("available: 0, requested: 1"),
            "{on}: {detail}"
        );
        assert_eq!(loser.json["holds_may_return"], 50, "{on}");
        let products = srv.client().send("GET", "/api/products", &[], None);
        let race = &products.json[0];
        assert_eq!(
            (race["available"].as_i64(), race["held"].as_i64()),
            (Some(0), Some(50)),
            "{on}"
        );
        drop(srv);
        let stock = sale.stock("RACE");
        assert_eq!((stock.available, stock.held), (0, 50), "{on}");
        assert!(sale.audit().ok, "{on}");
    }
}

#[test]
fn idempotency_keys_replay_on_both_stores() {
    let pg = Postgres::start();
    for sale in stores(pg.as_ref(), "http_keys", "ITEM", 10, 2) {
        let on = sale.name();
        let engine = sale.engine(Strategy::Queue, Clock::manual(START));
        let srv = Server::start(engine, ServeConfig::default());
        let c = srv.client();
        let auth = format!("Bearer {}", c.buyer("ann"));
        let headers = [("authorization", auth.as_str()), ("idempotency-key", "k-1")];
        let body = "{\"sku\":\"ITEM\",\"qty\":1}";
        let first = c.send("POST", "/api/holds", &headers, Some(body));
        let second = c.send("POST", "/api/holds", &headers, Some(body));
        assert_eq!((first.status, second.status), (201, 201), "{on}");
        assert_eq!(first.json, second.json, "{on}: the same answer, replayed");
        let other = c.send(
            "POST",
            "/api/holds",
            &headers,
            Some("{\"sku\":\"ITEM\",\"qty\":2}"),
        );
        assert_eq!((other.status, other.code()), (422, "bad_request"), "{on}");
        let pay = format!("{}/pay", first.location.unwrap());
        let pay_headers = [("authorization", auth.as_str()), ("idempotency-key", "p-1")];
        let paid = c.send("POST", &pay, &pay_headers, Some(""));
        let replay = c.send("POST", &pay, &pay_headers, Some(""));
        assert_eq!((paid.status, replay.status), (201, 201), "{on}");
        assert_eq!(paid.json, replay.json, "{on}");
        drop(srv);
        let stock = sale.stock("ITEM");
        assert_eq!((stock.available, stock.held, stock.sold), (9, 0, 1), "{on}");
        assert!(sale.audit().ok, "{on}");
    }
}
