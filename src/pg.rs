//! PostgreSQL as the store of a sale that outgrows one file (`--db postgres://…`): many
//! processes on many machines share one database server. The schema contract is the
//! same as on SQLite; this module opens the database, migrates it, and turns what
//! PostgreSQL says when it cannot be reached into sentences a person can act on.
//!
//! The client is the synchronous `postgres` crate behind an r2d2 pool, the same shape
//! as the SQLite store: the engine's callers are plain threads (buyers, the writer, the
//! sweeper), and a blocking call on a pooled connection is what they need; the HTTP
//! server reaches the engine through `spawn_blocking` either way.

pub mod audit;
pub mod hold;
pub mod journal;
pub mod migrate;
pub mod monitor;
pub mod sale;
mod store;

use std::time::Duration;

use postgres::config::Host;
use postgres::error::SqlState;
use postgres::{Config, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use crate::error::Error;
use crate::sql::Result;

pub type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// How long opening a connection may take before the store says the server is away.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per process: enough for the buyers' threads to overlap their round trips,
/// well under a default server's `max_connections` when several processes share it.
const POOL_SIZE: u32 = 16;

/// A flashsale database on a PostgreSQL server.
pub struct PgStore {
    /// The URL without its password, for messages.
    shown: String,
    pool: Pool,
    /// How long `naive` waits between reading and writing the stock (as on SQLite).
    race_window: Duration,
}

/// True for the URLs this module serves.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

impl PgStore {
    /// Connects, checks that the database is flashsale's (or empty) and brings its schema
    /// up to date.
    pub fn open(url: &str) -> crate::error::Result<PgStore> {
        let mut config: Config = url.parse().map_err(|e| {
            Error::Usage(format!(
                "{} is not a PostgreSQL URL ({e}); write it like postgres://USER@HOST:PORT/DATABASE",
                redact(url)
            ))
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("flashsale");
        }
        let shown = shown(&config);
        let mut client = config
            .connect(NoTls)
            .map_err(|e| classify(&shown, &config, &e))?;
        let from = migrate::check_ours(&mut client, &shown)?;
        migrate::apply(&mut client, from)?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            // No empty query before every use: it was one more round trip per hold. A
            // connection the server closed fails its statement, and the pool drops it.
            .test_on_check_out(false)
            .connection_timeout(CONNECT_TIMEOUT)
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| Error::ServerUnreachable {
                what: shown.clone(),
                why: e.to_string(),
            })?;
        Ok(PgStore {
            shown,
            pool,
            race_window: Duration::from_millis(1),
        })
    }

    /// A pooled connection.
    pub fn conn(&self) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>> {
        Ok(self.pool.get()?)
    }

    /// Loads `sale` unless the database already holds one (then keeps that one).
    pub fn load_if_empty(
        &self,
        sale: &crate::sale::SaleFile,
        now: crate::clock::Millis,
    ) -> crate::error::Result<()> {
        Ok(sale::load_as(
            &mut *self.conn()?,
            sale,
            now,
            sale::Existing::Keep,
        )?)
    }

    /// How long `naive` waits between its read and its write.
    pub fn set_race_window(&mut self, window: Duration) {
        self.race_window = window;
    }

    /// `postgres://USER@HOST/DATABASE`, without the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// What PostgreSQL said when it would not let us in, as one sentence.
fn classify(shown: &str, config: &Config, e: &postgres::Error) -> Error {
    match e.code() {
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => Error::NoSuchDatabase {
            what: shown.to_owned(),
            // PostgreSQL's default database is the user's name.
            db: config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or_default()
                .to_owned(),
        },
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            Error::LoginRefused {
                what: shown.to_owned(),
                why: db_message(e),
            }
        }
        _ if source_message(e).contains("password missing") => Error::LoginRefused {
            what: shown.to_owned(),
            why: "the server asks for a password and the URL gives none".into(),
        },
        _ => Error::ServerUnreachable {
            what: shown.to_owned(),
            why: source_message(e),
        },
    }
}

fn db_message(e: &postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned())
}

/// The innermost cause ("Connection refused (os error 111)"), not the wrapper's words.
fn source_message(e: &postgres::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The URL as the config understood it, without the password.
fn shown(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(dir)) => dir.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .map_or(String::new(), |p| format!(":{p}"));
    let user = config.get_user().map_or(String::new(), |u| format!("{u}@"));
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}{port}/{db}")
}

/// A URL for a message: the password hidden.
pub fn shown_url(url: &str) -> String {
    match url.parse::<Config>() {
        Ok(config) => shown(&config),
        Err(_) => redact(url),
    }
}

/// A URL we could not parse, with anything between `:` and `@` hidden.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://ann:secret@db/sale"),
            "postgres://ann:***@db/sale"
        );
        assert_eq!(redact("postgres://ann@db/sale"), "postgres://ann@db/sale");
        let config: Config = "postgres://ann:secret@db:5433/sale".parse().unwrap();
        assert_eq!(shown(&config), "postgres://ann@db:5433/sale");
    }
}
