//! The strategies the shop builds from the ones a store takes itself: `gate` (a permit
//! first, checked against the store now and then) and `queue` (this process's writer
//! thread, committing in groups).

use std::sync::Arc;

use crossbeam_channel::bounded;

use super::{Inner, VERIFY_EVERY, threads};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::gate::Admit;
use crate::ids::ProductId;
use crate::model::{self, Hold};
use crate::store::Take;
use crate::strategy::Strategy;

impl Inner {
    /// `gate`: a permit first; sold-out answers never reach the store. The store still
    /// decides every hold: when it disagrees, the store wins and the gate is corrected.
    pub(super) fn gated(&self, take: &Take) -> Result<Hold> {
        let (product, qty) = (take.product.id, take.qty);
        crate::arrival::arrived();
        let mut admit = self.gate.try_acquire(product, qty)?;
        if admit == Admit::Lost {
            self.rebuild_gate()?;
            admit = self.gate.try_acquire(product, qty)?;
        }
        if let Admit::SoldOut { permits } = admit {
            // A sold-out answer comes from the gate alone; at most every VERIFY_EVERY it
            // is checked against the store (due holds swept, a count that lost permits
            // rebuilt), then asked once more. A hold this process knows is due is
            // swept first, without waiting for that.
            let swept = self.due() && self.sweep()? > 0;
            if swept || self.gate_undercounts(product, permits, take.now)? {
                admit = self.gate.try_acquire(product, qty)?;
            }
        }
        match admit {
            Admit::Granted => {}
            Admit::SoldOut { permits } => {
                return Err(model::sold_out(&take.product, permits, qty));
            }
            Admit::Lost => {
                return Err(Error::Usage(format!(
                    "The gate ({}) lost its count twice in a row; try again",
                    self.gate.describe()
                )));
            }
        }
        match self.direct(Strategy::Immediate, take) {
            Ok(hold) => {
                self.gate.held(&hold);
                Ok(hold)
            }
            Err(e @ Error::SoldOut { available, .. }) => {
                self.gate.clamp(product, available);
                Err(e)
            }
            Err(e) => {
                self.gate.release(product, qty);
                Err(e)
            }
        }
    }

    /// Whether the gate says fewer permits than the store has units (after sweeping
    /// what is due), checked at most once per [`VERIFY_EVERY`] per product; if so, it
    /// is rebuilt from the store. A
    /// process that died between taking a permit and its hold (kill -9) took the
    /// permit with it: without this the gate would turn buyers away from units that are
    /// there until the next start. (Rebuilding may count permits other processes hold
    /// in flight: that only sends a few more buyers to the store, which decides.)
    fn gate_undercounts(&self, product: ProductId, permits: i64, now: Millis) -> Result<bool> {
        {
            let mut checked = self.verified.lock();
            let now = std::time::Instant::now();
            match checked.iter_mut().find(|(p, _)| *p == product) {
                Some((_, at)) if now.duration_since(*at) < VERIFY_EVERY => return Ok(false),
                Some((_, at)) => *at = now,
                None => checked.push((product, now)),
            }
        }
        let due = self.store.next_deadline()?.is_some_and(|d| d <= now);
        if due && self.sweep()? > 0 {
            return Ok(true);
        }
        let available = self
            .store
            .stock()?
            .into_iter()
            .find(|s| s.product_id == product)
            .map_or(0, |s| s.available);
        if available > permits {
            tracing::info!(
                "gate: {permits} permits for product #{product} but {available} units in the store; rebuilt"
            );
            self.rebuild_gate()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `queue`: to this process's writer thread, first-in first-out, committed in
    /// groups.
    pub(super) fn queued(self: &Arc<Self>, take: Take) -> Result<Hold> {
        let queue = {
            let mut slot = self.queue.lock();
            match &*slot {
                Some(q) => q.clone(),
                None => {
                    let q = threads::spawn_queue(Arc::downgrade(self), self.config.max_batch)?;
                    *slot = Some(q.clone());
                    q
                }
            }
        };
        let (reply, answer) = bounded(1);
        queue
            .send(threads::Request { take, reply })
            .map_err(|_| Error::Stopped)?;
        answer.recv().map_err(|_| Error::Stopped)?
    }
}
