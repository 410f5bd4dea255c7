//! The queue's group commit on PostgreSQL: a batch of add-to-carts, in arrival order, in
//! one transaction. Each product row is locked once (`FOR UPDATE`, in id order, so two
//! processes' batches never wait for each other in a circle), the grants are decided in
//! memory against that locked stock, the holds go in with one multi-row `INSERT` (the
//! per-buyer trigger still checks each row), and each product's stock is written once.
//! A refusal (sold out, a buyer's limit) is that request's answer; the others commit.

use std::collections::HashMap;

use flashsale_core::store::{Batch, Take};
use postgres::GenericClient;
use postgres::types::Type;

use super::expire_product;
use crate::hold::{self, Hold, HoldKind};
use crate::ids::{HoldId, ProductId};
use crate::sql::Result;

pub fn reserve_batch(c: &mut impl GenericClient, takes: &[Take]) -> Result<Batch> {
    let mut products: Vec<ProductId> = takes.iter().map(|t| t.product.id).collect();
    products.sort_unstable();
    products.dedup();
    let mut left: HashMap<ProductId, i64> = HashMap::new();
    for &p in &products {
        let available: i64 = c
            .query_typed_one(
                "SELECT stock_available FROM products WHERE id = $1 FOR UPDATE",
                &[(&p.0, Type::INT8)],
            )?
            .get(0);
        left.insert(p, available);
    }
    let mut live = live_units(c, &products, takes)?;
    let mut returned = Vec::new();
    let mut expired: Vec<ProductId> = Vec::new();
    let mut used: HashMap<ProductId, i64> = HashMap::new();
    let mut granted: Vec<Hold> = Vec::new();
    let mut answers = Vec::with_capacity(takes.len());
    for t in takes {
        let p = t.product.id;
        let mut stock = left.get(&p).copied().unwrap_or(0);
        if stock < t.qty && !expired.contains(&p) {
            // Lazy expiry, once per product and batch: due holds give their units back.
            let back = expire_product(c, p, t.now)?;
            stock += back.iter().map(|r| r.back()).sum::<i64>();
            returned.extend(back);
            expired.push(p);
        }
        if stock < t.qty {
            answers.push(Err(hold::sold_out(&t.product, stock, t.qty)));
            left.insert(p, stock);
            continue;
        }
        let held = live.entry((p, t.buyer.clone())).or_insert(0);
        if *held + t.qty > t.product.max_per_buyer {
            answers.push(Err(hold::limit_reached(&t.product, &t.buyer, *held, t.qty)));
            left.insert(p, stock);
            continue;
        }
        *held += t.qty;
        left.insert(p, stock - t.qty);
        *used.entry(p).or_insert(0) += t.qty;
        let hold = Hold {
            id: HoldId::at(t.now),
            product_id: p,
            buyer: t.buyer.clone(),
            qty: t.qty,
            created_at: t.now,
            expires_at: hold::deadline(t.now, t.ttl_ms)?,
            kind: HoldKind::Held,
        };
        granted.push(hold.clone());
        answers.push(Ok(hold));
    }
    insert_holds(c, &granted)?;
    for p in products {
        if let Some(qty) = used.get(&p) {
            c.execute_typed(
                "UPDATE products SET stock_available = stock_available - $2, version = version + 1
                 WHERE id = $1",
                &[(&p.0, Type::INT8), (qty, Type::INT8)],
            )?;
        }
    }
    Ok(Batch { answers, returned })
}

/// Live units (active or paid) of every buyer in the batch, per product: one query.
fn live_units(
    c: &mut impl GenericClient,
    products: &[ProductId],
    takes: &[Take],
) -> Result<HashMap<(ProductId, String), i64>> {
    let mut buyers: Vec<&str> = takes.iter().map(|t| t.buyer.as_str()).collect();
    buyers.sort_unstable();
    buyers.dedup();
    let products: Vec<i64> = products.iter().map(|p| p.0).collect();
    // Product and buyer both: the partial index of live holds by (product, buyer)
    // finds them without reading the table.
    let rows = c.query_typed(
        "SELECT product_id, buyer, coalesce(sum(qty), 0)::BIGINT FROM holds
         WHERE product_id = ANY($1) AND buyer = ANY($2) AND status IN ('active', 'paid')
         GROUP BY product_id, buyer",
        &[(&products, Type::INT8_ARRAY), (&buyers, Type::TEXT_ARRAY)],
    )?;
    Ok(rows
        .iter()
        .map(|r| ((ProductId(r.get(0)), r.get(1)), r.get(2)))
        .collect())
}

/// The granted holds in one statement (arrays unnested into rows).
fn insert_holds(c: &mut impl GenericClient, holds: &[Hold]) -> Result<()> {
    if holds.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = holds.iter().map(|h| h.id.to_string()).collect();
    let products: Vec<i64> = holds.iter().map(|h| h.product_id.0).collect();
    let buyers: Vec<&str> = holds.iter().map(|h| h.buyer.as_str()).collect();
    let qtys: Vec<i64> = holds.iter().map(|h| h.qty).collect();
    let created: Vec<i64> = holds.iter().map(|h| h.created_at).collect();
    let expires: Vec<i64> = holds.iter().map(|h| h.expires_at).collect();
    c.execute_typed(
        "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
         SELECT id, product_id, buyer, qty, 'active', created_at, expires_at
         FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
              AS t(id, product_id, buyer, qty, created_at, expires_at)",
        &[
            (&ids, Type::TEXT_ARRAY),
            (&products, Type::INT8_ARRAY),
            (&buyers, Type::TEXT_ARRAY),
            (&qtys, Type::INT8_ARRAY),
            (&created, Type::INT8_ARRAY),
            (&expires, Type::INT8_ARRAY),
        ],
    )?;
    Ok(())
}
