//! The shop's catalog: the facts about each product that never change during a sale,
//! cached from the store (a miss reloads once before `UnknownSku`), with a small
//! per-thread copy for the buyers' hot path.

use std::sync::Arc;

use super::Shop;
use crate::error::{Error, Result};
use crate::ids::ProductId;
use crate::model::ProductInfo;

/// Products a thread remembers in [`Shop::product_here`] (shops in tests come and go:
/// the oldest entry makes room).
const PRODUCTS_PER_THREAD: usize = 16;

/// `(shop id, sku, this thread's copy of the product)`.
type KnownProduct = (u64, Box<str>, Arc<ProductInfo>);

thread_local! {
    static PRODUCTS: std::cell::RefCell<Vec<KnownProduct>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Shop {
    pub fn products(&self) -> Vec<Arc<ProductInfo>> {
        self.inner.products.read().clone()
    }

    /// The product with this SKU (read again from the store when not known yet).
    pub fn product(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        if let Some(p) = self.inner.products.read().iter().find(|p| p.sku == sku) {
            return Ok(Arc::clone(p));
        }
        let fresh: Vec<_> = self
            .inner
            .store
            .products()?
            .into_iter()
            .map(Arc::new)
            .collect();
        let found = fresh.iter().find(|p| p.sku == sku).cloned();
        let known = fresh
            .iter()
            .map(|p| p.sku.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        *self.inner.products.write() = fresh.clone();
        found.ok_or_else(|| Error::UnknownSku {
            sku: sku.to_owned(),
            known,
        })
    }

    pub(super) fn product_by_id(&self, id: ProductId) -> Result<Arc<ProductInfo>> {
        self.inner
            .products
            .read()
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| Error::Usage(format!("No product #{id} in this sale")))
    }

    /// [`Shop::product`] through a small per-thread cache holding this thread's own
    /// copy of the facts (they never change during a sale). The catalog's lock and a
    /// shared `Arc`'s reference count are cache lines every buyer thread writes to: on
    /// the gate's sold-out path they were most of the cost, and the two cores took turns.
    pub(super) fn product_here(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        let id = self.inner.id;
        let cached = PRODUCTS.with(|c| {
            c.borrow()
                .iter()
                .find(|(shop, known, _)| *shop == id && **known == *sku)
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
}
