//! Add-to-carts that reach the Redis gate at the same moment share one round trip: a
//! thread of the gate takes every request waiting, sends their scripts in one pipeline,
//! and answers each. With one buyer it costs a hand-off between threads; with hundreds it
//! turns hundreds of round trips into one, which is what lets one process answer tens of
//! thousands of sold-out buyers a second on two cores (each buyer on its own connection
//! made Redis and the clients take turns on them, one small reply at a time).

use ::redis::{Client, Value};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use crate::ids::ProductId;

/// Requests per pipeline, at most.
const MAX_BATCH: usize = 512;

/// One add-to-cart's question: `qty` permits of `product`.
pub(super) struct Ask {
    product: ProductId,
    qty: i64,
    reply: Sender<Result<Vec<i64>, String>>,
}

/// The door to the gate's batching thread.
pub(super) struct Batcher {
    asks: Sender<Ask>,
}

impl Batcher {
    /// Starts the thread; it ends when the gate (and so this door) is dropped.
    pub(super) fn start(pipe: Pipe) -> std::io::Result<Batcher> {
        let (asks, incoming) = unbounded();
        std::thread::Builder::new()
            .name("redis-gate".into())
            .spawn(move || serve(&pipe, &incoming))?;
        Ok(Batcher { asks })
    }

    /// The script's answer to this request, after the next pipeline.
    pub(super) fn ask(&self, product: ProductId, qty: i64) -> Result<Vec<i64>, String> {
        let (reply, answer) = bounded(1);
        self.asks
            .send(Ask {
                product,
                qty,
                reply,
            })
            .map_err(|_| "the gate has stopped".to_owned())?;
        answer
            .recv()
            .map_err(|_| "the gate has stopped".to_owned())?
    }
}

/// What the batching thread needs of the gate: the pool, the script and its keys.
pub(super) struct Pipe {
    pub(super) pool: r2d2::Pool<Client>,
    pub(super) script: String,
    pub(super) hash: String,
    pub(super) permits: String,
    pub(super) epoch: String,
}

fn serve(pipe: &Pipe, incoming: &Receiver<Ask>) {
    while let Ok(first) = incoming.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => break,
            }
        }
        match pipe.send(&batch) {
            Ok(answers) => {
                for (ask, answer) in batch.into_iter().zip(answers) {
                    let _ = ask.reply.send(Ok(answer));
                }
            }
            Err(why) => {
                for ask in batch {
                    let _ = ask.reply.send(Err(why.clone()));
                }
            }
        }
    }
}

impl Pipe {
    /// Every request's ACQUIRE script in one pipeline (EVALSHA; the script is loaded
    /// first when Redis does not know it, after a restart).
    fn send(&self, batch: &[Ask]) -> Result<Vec<Vec<i64>>, String> {
        let run = |conn: &mut ::redis::Connection| -> ::redis::RedisResult<Vec<Value>> {
            let mut pipe = ::redis::pipe();
            for ask in batch {
                pipe.cmd("EVALSHA")
                    .arg(&self.hash)
                    .arg(2)
                    .arg(&self.permits)
                    .arg(&self.epoch)
                    .arg(ask.product.0)
                    .arg(ask.qty);
            }
            pipe.query(conn)
        };
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let answers = match run(&mut conn) {
            Err(e)
                if e.kind() == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript) =>
            {
                ::redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(&self.script)
                    .query::<String>(&mut *conn)
                    .and_then(|_| run(&mut conn))
            }
            other => other,
        }
        .map_err(|e| e.to_string())?;
        answers
            .into_iter()
            .map(|v| ::redis::from_redis_value::<Vec<i64>>(v).map_err(|e| e.to_string()))
            .collect()
    }
}
