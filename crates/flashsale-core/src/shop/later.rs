//! Add-to-cart that answers later, for a front end that must not block a thread per
//! request in flight (the HTTP server on tokio). Only `queue` on a store that groups
//! answers this way: its request waits in the writer's queue anyway, and the writer
//! hands the answer over when the group commits.

use std::sync::Arc;

use super::Shop;
use crate::error::{Error, Result};
use crate::events::ReturnReason;
use crate::model::Hold;
use crate::store::Then;
use crate::strategy::Strategy;

/// What an add-to-cart started with [`Shop::start_reserve`] came to.
#[derive(Debug)]
pub enum Later {
    /// The answer, as [`Shop::reserve`] would have given it.
    Answer(Result<Hold>),
    /// Sold out while a hold this process knows of is due: ask again with
    /// [`Shop::reserve`] on a thread that may block (it sweeps first).
    AskAgain,
}

/// Gets the answer, once, on the store's thread: quick, never blocking.
pub type Answered = Box<dyn FnOnce(Later) + Send>;

impl Shop {
    /// Starts an add-to-cart whose answer `then` gets later. `Err` gives `then` back
    /// when this strategy on this store cannot answer later: call [`Shop::reserve`]
    /// where blocking is allowed.
    pub fn start_reserve(
        &self,
        sku: &str,
        buyer: &str,
        qty: i64,
        then: Answered,
    ) -> std::result::Result<(), Answered> {
        if self.strategy() != Strategy::Queue || !self.inner.store.groups() {
            return Err(then);
        }
        let take = match self.take(sku, buyer, qty) {
            Ok(take) => take,
            Err(e) => {
                then(Later::Answer(Err(e)));
                return Ok(());
            }
        };
        let inner = Arc::clone(&self.inner);
        let answered: Then = Box::new(move |taken| {
            let result = match taken {
                Err(Error::SoldOut { .. }) if inner.due() => return then(Later::AskAgain),
                Err(e) => Err(e),
                Ok(taken) => {
                    inner.returned(taken.returned, ReturnReason::Expired);
                    Ok(taken.hold)
                }
            };
            inner.after_reserve(&result);
            then(Later::Answer(result));
        });
        self.inner.store.start_queued(take, answered);
        Ok(())
    }
}
