//! The engine's catalog: the facts about each product that never change during a sale,
//! cached from the database (a miss reloads once before `UnknownSku`), with a small
//! per-thread copy for the buyers' hot path.

use std::sync::Arc;

use super::FileEngine;
use crate::error::{Error, Result};
use crate::hold::{self, ProductInfo};
use crate::ids::ProductId;

/// Products a thread remembers in [`FileEngine::product_here`] (engines in tests come and
/// go: the oldest entry makes room).
const PRODUCTS_PER_THREAD: usize = 16;

/// `(engine id, sku, this thread's copy of the product)`.
type KnownProduct = (u64, Box<str>, Arc<ProductInfo>);

thread_local! {
    static PRODUCTS: std::cell::RefCell<Vec<KnownProduct>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl FileEngine {
    /// The product with this SKU.
    pub fn product(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        if let Some(p) = self.inner.catalog.read().get(sku) {
            return Ok(Arc::clone(p));
        }
        self.reload_catalog()?;
        let catalog = self.inner.catalog.read();
        catalog.get(sku).cloned().ok_or_else(|| {
            let mut known: Vec<_> = catalog.keys().cloned().collect();
            known.sort();
            Error::UnknownSku {
                sku: sku.to_owned(),
                known: known.join(", "),
            }
        })
    }

    /// [`FileEngine::product`] through a small per-thread cache holding this thread's own
    /// copy of the facts (they never change during a sale). The catalog's lock and a
    /// shared `Arc`'s reference count are cache lines every buyer thread writes to: on
    /// the gate's sold-out path they were most of the cost, and the two cores took turns.
    pub(super) fn product_here(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        let id = self.inner.id;
        let cached = PRODUCTS.with(|c| {
            c.borrow()
                .iter()
                .find(|(engine, known, _)| *engine == id && **known == *sku)
                .map(|(_, _, p)| Arc::clone(p))
        });
        if let Some(p) = cached {
            return Ok(p);
        }
        let shared = self.product(sku)?;
        let own = Arc::new(ProductInfo::clone(&shared));
        PRODUCTS.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= PRODUCTS_PER_THREAD {
                c.remove(0);
            }
            c.push((id, sku.into(), Arc::clone(&own)));
        });
        Ok(own)
    }

    pub fn products(&self) -> Vec<Arc<ProductInfo>> {
        let mut all: Vec<_> = self.inner.catalog.read().values().cloned().collect();
        all.sort_by_key(|p| p.id);
        all
    }

    fn reload_catalog(&self) -> Result<()> {
        let conn = self.inner.store.conn()?;
        let products = hold::all_products(&conn)?;
        let mut catalog = self.inner.catalog.write();
        for p in products {
            catalog.entry(p.sku.clone()).or_insert_with(|| Arc::new(p));
        }
        Ok(())
    }

    pub(super) fn product_by_id(&self, id: ProductId) -> Result<Arc<ProductInfo>> {
        let found = self
            .inner
            .catalog
            .read()
            .values()
            .find(|p| p.id == id)
            .cloned();
        match found {
            Some(p) => Ok(p),
            None => Err(Error::UnknownSku {
                sku: format!("#{}", id.0),
                known: String::new(),
            }),
        }
    }
}
