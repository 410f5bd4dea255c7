//! The test harness's own servers: a real PostgreSQL and a real Redis start from
//! Debian's packages, answer, and stop when dropped.

mod common;

use common::servers::{Postgres, Redis};

#[test]
fn postgres_starts_answers_and_gives_each_test_its_own_database() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("harness_one");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let row = client
        .query_one("SELECT current_database(), 40 + 2", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "harness_one");
    assert_eq!(row.get::<_, i32>(1), 42);
    let fsync: String = client.query_one("SHOW fsync", &[]).unwrap().get(0);
    assert_eq!(fsync, "on", "the harness measures real commits");
}

#[test]
fn redis_starts_on_a_unix_socket_and_answers() {
    let Some(server) = Redis::start() else { return };
    let client = redis::Client::open(server.url.as_str()).expect("url");
    let mut conn = client.get_connection().expect("connect");
    let _: () = redis::cmd("SET").arg("k").arg(7).query(&mut conn).unwrap();
    let n: i64 = redis::cmd("INCRBY")
        .arg("k")
        .arg(35)
        .query(&mut conn)
        .unwrap();
    assert_eq!(n, 42);
}
