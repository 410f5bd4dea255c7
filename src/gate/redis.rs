//! The gate in Redis: one count of units that may still be held per product, shared by
//! every process that sells the same stock (`--gate redis://HOST:PORT`).
//!
//! Still a cache, never the truth: a winner here only gets to *ask* the database, whose
//! conditional transition grants or refuses the hold. So Redis can be flushed, restarted
//! or lost at any moment without an oversell; at worst the gate refuses too much until it
//! is rebuilt from the database. An epoch key tells an empty Redis from a sold-out one:
//! every rebuild writes it, and a script that finds it missing answers [`Admit::Lost`]
//! so the engine rebuilds the gate from the database before it answers anyone. Each
//! granted hold also gets a key of its own that expires with it, so `redis-cli` shows
//! the live holds of every process.
//!
//! Each decision is one Lua script, so the check and the decrement are one step for
//! Redis (no other client runs between them) and a sold-out answer writes nothing.

use std::time::Duration;

use ::redis::{Client, Script, Value};

mod batch;

pub use super::GateError;
use super::{Admit, Gate};
use crate::hold::Hold;
use crate::ids::{HoldId, ProductId};
use crate::sql::Result;

/// How long a command may wait for Redis before the gate gives up: a Redis that is down
/// or stuck turns into an error a person can read, never a hang.
const TIMEOUT: Duration = Duration::from_millis(1_000);

/// Connections kept open: enough for the buyers' threads to overlap their round trips
/// (the sold-out path is one round trip and no write).
const POOL_SIZE: u32 = 32;

/// How long a buyer may wait for a free connection of the pool. Longer than a command's
/// timeout: with a thousand buyer threads on 32 connections a turn can take a while,
/// and a Redis that is down is told by its refused connections and command timeouts.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// After a failed command, how long every caller is told at once that Redis does not
/// answer, instead of each waiting on the pool for a connection that cannot be made.
const DOWN_FOR: Duration = Duration::from_millis(1_000);

/// `KEYS`: permits hash, epoch. `ARGV`: product, qty. Answers `{1, left}` granted,
/// `{0, permits}` sold out, `{-1, 0}` Redis lost its state.
const ACQUIRE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0} end
local permits = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local qty = tonumber(ARGV[2])
if permits < qty then return {0, permits} end
redis.call('HINCRBY', KEYS[1], ARGV[1], -qty)
return {1, permits - qty}
";

/// `KEYS`: permits hash, epoch. `ARGV`: product, qty. Gives units back unless Redis
/// lost its state (the next rebuild reads them from the database).
const RELEASE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// `KEYS`: permits hash. `ARGV`: product, available. Never promises more than the
/// database has.
const CLAMP: &str = r"
local permits = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local available = tonumber(ARGV[2])
if permits > available then redis.call('HSET', KEYS[1], ARGV[1], available) end
return 1
";

/// `KEYS`: permits hash, epoch. `ARGV`: the new epoch, then product/permits pairs.
/// Replaces every count at once and marks Redis as holding the gate again.
const REBUILD: &str = r"
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[2], ARGV[1])
return 1
";

pub struct RedisGate {
    url: String,
    /// When a command last failed to reach Redis (`None` while it answers), and why:
    /// while that is recent, callers fail fast with the same sentence.
    down: parking_lot::Mutex<Option<(std::time::Instant, String)>>,
    pool: r2d2::Pool<Client>,
    /// Key prefix: one sale's gate, so several sales can share one Redis.
    prefix: String,
    /// Add-to-carts asking at the same moment, in one pipeline (the ACQUIRE script).
    batcher: batch::Batcher,
    release: Script,
    clamp: Script,
    rebuild: Script,
}

/// Sets the timeouts on every connection the pool opens.
#[derive(Debug)]
struct Timeouts;

impl r2d2::CustomizeConnection<::redis::Connection, ::redis::RedisError> for Timeouts {
    fn on_acquire(&self, conn: &mut ::redis::Connection) -> Result<(), ::redis::RedisError> {
        conn.set_read_timeout(Some(TIMEOUT))?;
        conn.set_write_timeout(Some(TIMEOUT))
    }
}

impl RedisGate {
    /// Connects to Redis for the sale `sale` (the key prefix), checking that it answers.
    pub fn connect(url: &str, sale: &str) -> Result<RedisGate, GateError> {
        let client = Client::open(url).map_err(|e| GateError::BadUrl {
            url: url.to_owned(),
            why: e.to_string(),
        })?;
        // One connection first, with the short timeout: a Redis that is not there is
        // said at once, not after the pool's longer wait.
        let first = client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|e| unavailable(url, &e))?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            // No PING before every use: it doubled the round trips. A broken connection
            // fails its command within TIMEOUT and the pool replaces it.
            .test_on_check_out(false)
            .connection_timeout(POOL_WAIT)
            .connection_customizer(Box::new(Timeouts))
            .build(client)
            .map_err(|e| unavailable(url, &e))?;
        let prefix = format!("flashsale:{sale}:");
        let acquire = Script::new(ACQUIRE);
        let batcher = batch::Batcher::start(batch::Pipe {
            pool: pool.clone(),
            script: ACQUIRE.to_owned(),
            hash: acquire.get_hash().to_owned(),
            permits: format!("{prefix}permits"),
            epoch: format!("{prefix}epoch"),
        })
        .map_err(|e| unavailable(url, &e))?;
        Ok(RedisGate {
            url: url.to_owned(),
            down: parking_lot::Mutex::new(None),
            pool,
            prefix,
            batcher,
            release: Script::new(RELEASE),
            clamp: Script::new(CLAMP),
            rebuild: Script::new(REBUILD),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn hold_key(&self, hold: HoldId) -> String {
        format!("{}hold:{hold}", self.prefix)
    }

    fn run<T: ::redis::FromRedisValue>(
        &self,
        f: impl FnOnce(&mut ::redis::Connection) -> ::redis::RedisResult<T>,
    ) -> Result<T, GateError> {
        if let Some((since, why)) = &*self.down.lock()
            && since.elapsed() < DOWN_FOR
        {
            return Err(unavailable(&self.url, why));
        }
        let result = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| f(&mut conn).map_err(|e| e.to_string()));
        match result {
            Ok(value) => Ok(value),
            Err(why) => {
                let err = unavailable(&self.url, &why);
                *self.down.lock() = Some((std::time::Instant::now(), why));
                Err(err)
            }
        }
    }

    /// Takes `qty` permits if there are that many. A sold-out answer only reads.
    pub fn acquire(&self, product: ProductId, qty: i64) -> Result<Admit, GateError> {
        if let Some((since, why)) = &*self.down.lock()
            && since.elapsed() < DOWN_FOR
        {
            return Err(unavailable(&self.url, why));
        }
        let answer = self.batcher.ask(product, qty).map_err(|why| {
            let err = unavailable(&self.url, &why);
            *self.down.lock() = Some((std::time::Instant::now(), why));
            err
        })?;
        Ok(match answer.as_slice() {
            [1, _] => Admit::Granted,
            [0, permits] => Admit::SoldOut { permits: *permits },
            _ => Admit::Lost,
        })
    }

    /// Records a granted hold under a key of its own that expires with it.
    pub fn record(&self, hold: HoldId, qty: i64, ttl_ms: i64) -> Result<(), GateError> {
        self.run(|conn| {
            ::redis::cmd("SET")
                .arg(self.hold_key(hold))
                .arg(qty)
                .arg("PX")
                .arg(ttl_ms.max(1))
                .query::<()>(conn)
        })
    }

    /// Gives `qty` permits back (unless Redis lost its state: the next rebuild reads
    /// them from the database).
    pub fn give_back(&self, product: ProductId, qty: i64) -> Result<(), GateError> {
        self.run(|conn| {
            self.release
                .key(self.key("permits"))
                .key(self.key("epoch"))
                .arg(product.0)
                .arg(qty)
                .invoke::<i64>(conn)
        })?;
        Ok(())
    }

    /// Deletes the keys of holds that closed, in one command.
    pub fn drop_holds(&self, holds: &[HoldId]) -> Result<(), GateError> {
        if holds.is_empty() {
            return Ok(());
        }
        self.run(|conn| {
            let mut del = ::redis::cmd("DEL");
            for hold in holds {
                del.arg(self.hold_key(*hold));
            }
            del.query::<i64>(conn)
        })?;
        Ok(())
    }

    /// The database said only `available` units are left: never promise more.
    pub fn lower(&self, product: ProductId, available: i64) -> Result<(), GateError> {
        self.run(|conn| {
            self.clamp
                .key(self.key("permits"))
                .arg(product.0)
                .arg(available.max(0))
                .invoke::<i64>(conn)
        })?;
        Ok(())
    }

    /// Sets every product's permits from the database's `stock_available` and writes a
    /// new epoch: at start, after a restock or reset, and when Redis came back empty.
    pub fn reset(&self, available: &[(ProductId, i64)]) -> Result<(), GateError> {
        let epoch = uuid::Uuid::now_v7().to_string();
        self.run(|conn| {
            let mut call = self.rebuild.key(self.key("permits"));
            call.key(self.key("epoch")).arg(epoch);
            for (product, permits) in available {
                call.arg(product.0).arg((*permits).max(0));
            }
            call.invoke::<i64>(conn)
        })?;
        Ok(())
    }

    /// A product's permits now (`None` when Redis holds no gate).
    pub fn count(&self, product: ProductId) -> Result<Option<i64>, GateError> {
        let (epoch, permits): (Value, Option<i64>) = self.run(|conn| {
            ::redis::pipe()
                .cmd("EXISTS")
                .arg(self.key("epoch"))
                .cmd("HGET")
                .arg(self.key("permits"))
                .arg(product.0)
                .query(conn)
        })?;
        let present = matches!(epoch, Value::Int(1));
        Ok(present.then_some(permits.unwrap_or(0)))
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A cache correction that could not reach Redis: said once in the log, and the sale
/// goes on (the database decides every hold; the next rebuild puts the count right).
fn logged(what: &str, result: Result<(), GateError>) {
    if let Err(e) = result {
        tracing::warn!("gate: {what} skipped: {e}");
    }
}

impl Gate for RedisGate {
    fn try_acquire(&self, product: ProductId, qty: i64) -> crate::error::Result<Admit> {
        Ok(self.acquire(product, qty)?)
    }

    fn held(&self, hold: &Hold) {
        logged(
            "hold key",
            self.record(hold.id, hold.qty, hold.expires_at - hold.created_at),
        );
    }

    fn release(&self, product: ProductId, qty: i64) {
        logged("release", self.give_back(product, qty));
    }

    fn forget(&self, holds: &[HoldId]) {
        logged("hold keys", self.drop_holds(holds));
    }

    fn clamp(&self, product: ProductId, available: i64) {
        logged("clamp", self.lower(product, available));
    }

    fn rebuild(&self, available: &[(ProductId, i64)]) -> crate::error::Result<()> {
        Ok(self.reset(available)?)
    }

    fn permits(&self, product: ProductId) -> Option<i64> {
        self.count(product).ok().flatten()
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

fn unavailable(url: &str, e: &dyn std::fmt::Display) -> GateError {
    GateError::Unavailable {
        url: url.to_owned(),
        why: e.to_string(),
    }
}
