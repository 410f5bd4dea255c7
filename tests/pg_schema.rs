//! The PostgreSQL store's schema on a real server: versioned migrations that run once,
//! databases of other programs left alone, one sentence for each way a login fails, and
//! constraints that hold under concurrency — the per-buyer limit with real threads racing
//! real transactions.

mod common;

use std::sync::{Arc, Barrier};

use common::servers::Postgres;
use flashsale::Error;
use flashsale::pg::{PgStore, migrate};

/// What the server said, in its own words (`postgres::Error` shows only "db error").
fn said(result: Result<u64, postgres::Error>) -> String {
    let err = result.expect_err("the database refuses this");
    err.as_db_error()
        .map_or_else(|| err.to_string(), |d| d.message().to_owned())
}

fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

#[test]
fn opening_twice_migrates_once_and_keeps_the_data() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("twice");
    PgStore::open(&url).expect("first open");
    let mut c = client(&url);
    c.execute(
        "INSERT INTO products (sku, name, price_cents, stock_total, stock_available) VALUES ('A', 'a', 1, 5, 5)",
        &[],
    )
    .unwrap();
    PgStore::open(&url).expect("second open");
    let products: i64 = c
        .query_one("SELECT count(*) FROM products", &[])
        .unwrap()
        .get(0);
    assert_eq!(products, 1, "a second open keeps the data");
    let version: i32 = c
        .query_one("SELECT version FROM flashsale_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, migrate::SCHEMA_VERSION);
}

#[test]
fn many_processes_opening_a_new_database_at_once_migrate_it_once() {
    let Some(pg) = Postgres::start() else { return };
    let url = Arc::new(pg.database("together"));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                PgStore::open(&url).map(|_| ())
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().expect("every opener succeeds");
    }
    let rows: i64 = client(&url)
        .query_one("SELECT count(*) FROM flashsale_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn another_programs_database_is_refused_and_left_untouched() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("theirs");
    let mut c = client(&url);
    c.batch_execute("CREATE TABLE invoices (id INT); INSERT INTO invoices VALUES (7);")
        .unwrap();
    let Err(err) = PgStore::open(&url) else {
        panic!("opened another program's database")
    };
    assert!(matches!(err, Error::NotADatabase { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("other program") && text.contains("untouched"),
        "{text}"
    );
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "nothing was created beside their table");
}

#[test]
fn each_failed_login_is_one_sentence_with_the_fix() {
    let Some(pg) = Postgres::start() else { return };
    let missing = pg.database("exists").replace("/exists", "/no_such_sale");
    let err = PgStore::open(&missing).err().expect("no such database");
    assert!(matches!(err, Error::NoSuchDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("createdb no_such_sale"), "{err}");

    let user = pg.password_user("right");
    let wrong = user.replace("flashsale_pw@", "flashsale_pw:wrong@");
    let err = PgStore::open(&wrong).err().expect("wrong password");
    assert!(matches!(err, Error::LoginRefused { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("wrong"),
        "the password never reaches a message: {err}"
    );
    let err = PgStore::open(&user).err().expect("no password");
    assert!(matches!(err, Error::LoginRefused { .. }), "{err:?}");
    let right = user.replace("flashsale_pw@", "flashsale_pw:right@");
    assert!(
        !matches!(PgStore::open(&right), Err(Error::LoginRefused { .. })),
        "the right password logs in"
    );

    let err = PgStore::open("postgres://nobody@127.0.0.1:1/sale")
        .err()
        .expect("nothing listens");
    assert!(matches!(err, Error::ServerUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");

    let err = PgStore::open("postgres://ann:secret@db:notaport/sale")
        .err()
        .expect("bad URL");
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

/// Inserts a hold for `buyer` in its own transaction, the way a hand-written statement
/// would: without first locking the product. The trigger must serialise it anyway.
fn insert_hold(url: &str, buyer: &str, id: &str, start: &Barrier) -> bool {
    let mut c = client(url);
    let mut tx = c.transaction().unwrap();
    start.wait();
    let inserted = tx.execute(
        "INSERT INTO holds (id, product_id, buyer, qty, created_at, expires_at)
         VALUES ($1, 1, $2, 1, 1000, 2000)",
        &[&id, &buyer],
    );
    if inserted.is_err() {
        return false;
    }
    // Keep the transaction open a moment, so the others' triggers run while this hold
    // is not yet committed: without the trigger's row lock they would not see it.
    tx.execute("SELECT pg_sleep(0.05)", &[]).unwrap();
    tx.commit().is_ok()
}

#[test]
fn the_per_buyer_limit_holds_under_concurrent_transactions() {
    let Some(pg) = Postgres::start() else { return };
    let url = Arc::new(pg.database("limit"));
    PgStore::open(&url).unwrap();
    client(&url)
        .execute(
            "INSERT INTO products (sku, name, price_cents, stock_total, stock_available, max_per_buyer)
             VALUES ('PHONE', 'Phone', 100, 50, 50, 1)",
            &[],
        )
        .unwrap();
    let start = Arc::new(Barrier::new(12));
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || insert_hold(&url, "ann", &format!("h{i}"), &start))
        })
        .collect();
    let won = threads
        .into_iter()
        .filter(|_| true)
        .map(|t| t.join().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(
        won, 1,
        "one buyer, limit 1: exactly one of 12 concurrent inserts commits"
    );
    let live: i64 = client(&url)
        .query_one("SELECT count(*) FROM holds WHERE buyer = 'ann'", &[])
        .unwrap()
        .get(0);
    assert_eq!(live, 1);
}

#[test]
fn holds_change_status_once_and_orders_record_paid_holds_only() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("rules");
    PgStore::open(&url).unwrap();
    let mut c = client(&url);
    c.batch_execute(
        "INSERT INTO products (sku, name, price_cents, stock_total, stock_available, max_per_buyer)
             VALUES ('PHONE', 'Phone', 100, 5, 3, 5);
         INSERT INTO holds (id, product_id, buyer, qty, created_at, expires_at)
             VALUES ('h1', 1, 'ann', 1, 1000, 2000), ('h2', 1, 'bob', 1, 1000, 2000);",
    )
    .unwrap();
    let early = c.execute(
        "INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
         VALUES ('o1', 'h1', 1, 'ann', 1, 1000, 1500)",
        &[],
    );
    assert!(said(early).contains("order_without_paid_hold"));
    let late = c.execute(
        "UPDATE holds SET status = 'paid', closed_at = 2000 WHERE id = 'h2'",
        &[],
    );
    assert!(said(late).contains("hold_expired"));
    c.execute(
        "UPDATE holds SET status = 'paid', closed_at = 1500 WHERE id = 'h1'",
        &[],
    )
    .unwrap();
    c.execute(
        "INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
         VALUES ('o1', 'h1', 1, 'ann', 1, 1000, 1500)",
        &[],
    )
    .expect("the order of a paid hold");
    let back = c.execute(
        "UPDATE holds SET status = 'active', closed_at = NULL WHERE id = 'h1'",
        &[],
    );
    assert!(said(back).contains("hold_closed"));
    let oversell = c.execute("UPDATE products SET stock_available = 6 WHERE id = 1", &[]);
    assert!(
        said(oversell).contains("products_check"),
        "stock_available never exceeds the total"
    );
}
