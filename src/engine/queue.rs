//! The queue strategy: the writer thread takes add-to-cart requests first-in first-out
//! and commits whatever is waiting (up to a batch) in one transaction — group commit
//! (`group.rs`, which payments and other changes join). One fsync covers hundreds of
//! holds, and nobody waits in SQLite's busy handler.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{Connection, params};

use super::reply::{self, Reply};
use super::rows;
use super::writer::{Job, WriterHandle};
use crate::clock::Millis;
use crate::error::Error;
use crate::hold::{self, Hold, HoldKind, ProductInfo, Returned};
use crate::ids::{HoldId, ProductId};
use crate::sql::Result;
use flashsale_core::store::{Take, Taken, Then};

pub(super) struct Request {
    product: Arc<ProductInfo>,
    buyer: String,
    qty: i64,
    /// The hold TTL on the sale clock when the buyer asked.
    ttl: Millis,
    reply: Reply<Hold>,
}

/// Sends the request down the writer's queue and waits for the answer, which comes only
/// after the batch holding it committed. (The hold is stamped when its group is
/// decided, not when the buyer asked: the FIFO's order is the order of the stamps.)
pub(super) fn reserve(writer: &WriterHandle, take: &Take) -> Result<Hold> {
    let (reply, answer) = reply::slot();
    writer.submit(Job::Queue(Request {
        product: Arc::clone(&take.product),
        buyer: take.buyer.clone(),
        qty: take.qty,
        ttl: take.ttl_ms,
        reply,
    }))?;
    answer.wait()
}

/// As [`reserve`], without waiting: `then` gets the answer on the writer's thread when
/// the batch holding it committed (an async server's add-to-cart).
pub(super) fn start(writer: &WriterHandle, take: Take, then: Then) {
    let reply = reply::call(move |result: Result<Hold>| {
        then(result.map(Taken::held).map_err(Error::from));
    });
    // Refused, the request is dropped with its reply, which answers `Stopped`.
    let _ = writer.submit(Job::Queue(Request {
        product: take.product,
        buyer: take.buyer,
        qty: take.qty,
        ttl: take.ttl_ms,
        reply,
    }));
}

impl Request {
    /// Hands the answer over; returns whom to wake.
    pub(super) fn answer(self, result: Result<Hold>) -> Option<reply::Wake> {
        self.reply.fill(result)
    }
}

/// One product's books within a group commit, kept in memory: the writer holds the
/// write lock for the whole transaction, so nobody else can change them meanwhile.
struct Books<'b> {
    id: ProductId,
    /// Units on sale: the database's number minus what this group granted and has not
    /// written yet.
    left: i64,
    /// Units granted and not written yet (written back with one UPDATE).
    used: i64,
    /// Lazy expiry ran for this product in this group (once is enough).
    swept: bool,
    /// Live units per buyer: the database's, plus this group's grants. A buyer missing
    /// here (not asked yet, or a change of theirs ran) is read when needed.
    live: HashMap<&'b str, Live>,
    /// `live` dropped buyers (lazy expiry, a change) since the grants were last
    /// written: a buyer missing from it may have some among them.
    forgot: bool,
}

/// A buyer's live units as the decisions know them.
#[derive(Clone, Copy)]
struct Live {
    units: i64,
    /// Read from the database (plus this group's grants since). Otherwise only this
    /// group's grants are counted, and the per-buyer trigger checks the rest.
    exact: bool,
}

/// The add-to-carts of one group commit, decided one by one in arrival order and
/// written together. The writer decides each in memory, against the stock and the
/// per-buyer units left by the ones before it, read once per group; it writes one stock
/// UPDATE per product and the granted holds with multi-row INSERTs (`rows.rs`) when the
/// group ends or a change needs the database exact. The schema's CHECKs and triggers
/// still check every row.
///
/// The per-buyer limit, two ways. Exact: a buyer's live units are read (one indexed
/// SELECT) before their first request of the group is decided. By the trigger: only
/// the group's own grants are counted, and the schema's per-buyer trigger, which runs
/// for every row inserted in this same transaction, refuses a grant the database's
/// units make too many; then the caller rolls the group back and decides it again,
/// exactly. Counting fewer units can only grant more, never refuse more, so when the
/// trigger accepts every row the answers are the exact ones, in the same order (a
/// refusal reads the buyer exactly first, so its numbers are right too). That SELECT
/// was a sixth of the writer's instructions per hold (callgrind), and a buyer who
/// already holds their limit and asks again is rare.
pub(super) struct Decisions<'b> {
    books: Vec<Books<'b>>,
    granted: Vec<Hold>,
    pub(super) returned: Vec<Returned>,
    now: Millis,
    /// The limit is left to the trigger (see above).
    by_trigger: bool,
}

impl<'b> Decisions<'b> {
    /// Reads the stock of every product the requests ask for (usually one). Buyers'
    /// live units are read as their requests come (one indexed lookup each: cheaper, by
    /// callgrind, than one query for 64 buyers with an `IN` list and a `GROUP BY`).
    pub(super) fn new(
        tx: &Connection,
        requests: &[&'b Request],
        now: Millis,
        by_trigger: bool,
    ) -> Result<Self> {
        let mut books: Vec<Books<'b>> = Vec::new();
        for r in requests {
            if !books.iter().any(|b| b.id == r.product.id) {
                books.push(Books {
                    id: r.product.id,
                    left: hold::available(tx, r.product.id)?.0,
                    used: 0,
                    swept: false,
                    live: HashMap::new(),
                    forgot: false,
                });
            }
        }
        Ok(Decisions {
            books,
            granted: Vec::with_capacity(requests.len()),
            returned: Vec::new(),
            now,
            by_trigger,
        })
    }

    /// Decides one request (in arrival order).
    pub(super) fn decide(&mut self, tx: &Connection, r: &'b Request) -> Result<Result<Hold>> {
        let Some(at) = self.books.iter().position(|b| b.id == r.product.id) else {
            return Err(Error::BatchFailed {
                why: format!("no books for product #{}", r.product.id.0),
            }
            .into());
        };
        if self.books[at].left < r.qty && !self.books[at].swept {
            self.books[at].swept = true;
            self.lazy_expiry(tx, at)?;
        }
        let b = &mut self.books[at];
        if b.left < r.qty {
            return Ok(Err(hold::sold_out(&r.product, b.left, r.qty).into()));
        }
        let buyer = r.buyer.as_str();
        let known = b.live.get(buyer).copied();
        let mut live = match known {
            Some(live) => live,
            None => {
                // The books know a buyer from their first grant on: one they do not
                // know has none unwritten, unless they forgot buyers since the last
                // write. (Searching the grants for every new buyer was quadratic in
                // the group's size.)
                let units = if b.forgot {
                    unwritten(&self.granted, b.id, buyer)
                } else {
                    0
                };
                if self.by_trigger {
                    Live {
                        units,
                        exact: false,
                    }
                } else {
                    Live {
                        units: hold::live_units(tx, b.id, buyer)? + units,
                        exact: true,
                    }
                }
            }
        };
        if live.units + r.qty > r.product.max_per_buyer && !live.exact {
            live = Live {
                units: hold::live_units(tx, b.id, buyer)? + unwritten(&self.granted, b.id, buyer),
                exact: true,
            };
        }
        if live.units + r.qty > r.product.max_per_buyer {
            b.live.insert(buyer, live);
            return Ok(Err(Error::LimitReached {
                product: r.product.name.clone(),
                buyer: r.buyer.clone(),
                held: live.units,
                limit: r.product.max_per_buyer,
                requested: r.qty,
            }
            .into()));
        }
        b.left -= r.qty;
        b.used += r.qty;
        live.units += r.qty;
        b.live.insert(buyer, live);
        let hold = Hold {
            id: HoldId::at(self.now),
            product_id: b.id,
            buyer: r.buyer.clone(),
            qty: r.qty,
            created_at: self.now,
            expires_at: self.now + r.ttl.max(1),
            kind: HoldKind::Held,
        };
        self.granted.push(hold.clone());
        Ok(Ok(hold))
    }

    /// Lazy expiry, once per product and group: units come back, and buyers' live
    /// units change, so both are read again (plus what this group has not written).
    fn lazy_expiry(&mut self, tx: &Connection, at: usize) -> Result<()> {
        let id = self.books[at].id;
        let back = hold::expire_product(tx, id, self.now)?;
        if back.is_empty() {
            return Ok(());
        }
        self.returned.extend(back);
        let b = &mut self.books[at];
        b.left = hold::available(tx, id)?.0 - b.used;
        b.live.clear();
        b.forgot = true;
        Ok(())
    }

    /// A change of `buyer`'s ran beside the decisions (a release, an expired checkout,
    /// a payment): the stock is read again, and the buyer's live units when next needed.
    pub(super) fn changed(&mut self, tx: &Connection, buyer: &str) -> Result<()> {
        for b in &mut self.books {
            b.left = hold::available(tx, b.id)?.0 - b.used;
            b.live.remove(buyer);
            b.forgot = true;
        }
        Ok(())
    }

    /// Writes what was granted so far: the database is exact again, and the books
    /// stay right (they counted the grants already). False when the per-buyer trigger
    /// refused a grant left to it: the group must be rolled back and decided exactly.
    pub(super) fn write(&mut self, tx: &Connection) -> Result<bool> {
        for b in self.books.iter_mut().filter(|b| b.used > 0) {
            tx.prepare_cached(
                "UPDATE products SET stock_available = stock_available - ?1, version = version + 1 WHERE id = ?2",
            )?
            .execute(params![b.used, b.id.0])?;
            b.used = 0;
        }
        if !rows::insert_holds(tx, &self.granted)? {
            if self.by_trigger {
                return Ok(false);
            }
            return Err(refused_by_trigger().into());
        }
        self.granted.clear();
        for b in &mut self.books {
            b.forgot = false;
        }
        Ok(true)
    }
}

/// The per-buyer trigger refused a hold whose buyer the writer had read: a bug, loud.
pub(super) fn refused_by_trigger() -> Error {
    Error::BatchFailed {
        why: "the per-buyer trigger refused a hold the writer had checked".into(),
    }
}

/// Units granted to `buyer` in this group and not written yet.
fn unwritten(granted: &[Hold], product: ProductId, buyer: &str) -> i64 {
    granted
        .iter()
        .filter(|h| h.product_id == product && h.buyer == buyer)
        .map(|h| h.qty)
        .sum()
}
