//! Every invariant of the sale, checked from the database alone (no engine, no cache):
//!
//! ```text
//! stock_total = stock_available + Σ qty(active holds) + Σ qty(paid holds)
//!               + Σ short(closed holds)
//! ```
//!
//! (`short`: units a closed hold could not give back because an oversell had already
//! filled the stock; zero on any sale that was never oversold.)
//!
//! plus stock never negative, the per-buyer limit, one order per paid hold and one paid
//! hold per order (matching buyer, product, quantity and times), paid before expiry, and
//! well-formed statuses. Reads in one short transaction, so the numbers are one snapshot.

use rusqlite::Connection;
use serde::Serialize;

use crate::hold;
use crate::sql::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// More units held or sold than the product has.
    Oversold {
        sku: String,
        product: String,
        excess: i64,
        total: i64,
        available: i64,
        held: i64,
        sold: i64,
        /// Units of closed holds that could not go back (see `holds.short`).
        short: i64,
    },
    /// Units neither available, held nor sold.
    LostUnits {
        sku: String,
        product: String,
        missing: i64,
    },
    NegativeStock {
        sku: String,
        available: i64,
    },
    OverLimit {
        sku: String,
        buyer: String,
        units: i64,
        limit: i64,
    },
    PaidHoldWithoutOrder {
        hold_id: String,
    },
    OrderWithoutPaidHold {
        order_id: String,
        hold_id: String,
        status: Option<String>,
    },
    OrderMismatch {
        order_id: String,
        hold_id: String,
        field: String,
    },
    PaidAfterExpiry {
        order_id: String,
        paid_at: i64,
        expires_at: i64,
    },
    DuplicateOrders {
        hold_id: String,
        orders: i64,
    },
    BadStatus {
        hold_id: String,
        status: String,
    },
    ClosedAtMismatch {
        hold_id: String,
        status: String,
    },
    Integrity {
        message: String,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Oversold {
                sku,
                product,
                excess,
                total,
                available,
                held,
                sold,
                short,
            } => {
                let never = if *short > 0 {
                    format!(" + {short} units of expired holds that never existed")
                } else {
                    String::new()
                };
                write!(
                    f,
                    "Oversold {product} ({sku}) by {excess}: total {total}, but available {available} + held {held} + sold {sold}{never} = {}",
                    available + held + sold + short
                )
            }
            Violation::LostUnits {
                sku,
                product,
                missing,
            } => {
                write!(
                    f,
                    "Lost {missing} units of {product} ({sku}): neither available, held nor sold"
                )
            }
            Violation::NegativeStock { sku, available } => {
                write!(f, "Negative stock for {sku}: {available}")
            }
            Violation::OverLimit {
                sku,
                buyer,
                units,
                limit,
            } => {
                write!(
                    f,
                    "Buyer {buyer} has {units} units of {sku}, above the limit of {limit}"
                )
            }
            Violation::PaidHoldWithoutOrder { hold_id } => {
                write!(f, "Paid hold {hold_id} has no order")
            }
            Violation::OrderWithoutPaidHold {
                order_id,
                hold_id,
                status,
            } => match status {
                Some(s) => write!(
                    f,
                    "Order {order_id} records hold {hold_id}, which is {s}, not paid"
                ),
                None => write!(
                    f,
                    "Order {order_id} records hold {hold_id}, which does not exist"
                ),
            },
            Violation::OrderMismatch {
                order_id,
                hold_id,
                field,
            } => {
                write!(
                    f,
                    "Order {order_id} disagrees with its hold {hold_id} on {field}"
                )
            }
            Violation::PaidAfterExpiry {
                order_id,
                paid_at,
                expires_at,
            } => write!(
                f,
                "Order {order_id} was paid at {paid_at}, not before its hold expired at {expires_at}"
            ),
            Violation::DuplicateOrders { hold_id, orders } => {
                write!(f, "Hold {hold_id} has {orders} orders")
            }
            Violation::BadStatus { hold_id, status } => {
                write!(f, "Hold {hold_id} has unknown status {status:?}")
            }
            Violation::ClosedAtMismatch { hold_id, status } => {
                write!(
                    f,
                    "Hold {hold_id} is {status} but its closed_at says otherwise"
                )
            }
            Violation::Integrity { message } => write!(f, "Integrity check: {message}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub ok: bool,
    pub products: Vec<hold::Stock>,
    pub holds: i64,
    pub orders: i64,
    /// Active holds past their deadline: not a violation (the sweeper will get them).
    pub overdue_holds: i64,
    pub violations: Vec<Violation>,
}

/// The books of every product: stock never negative, and every unit available, held,
/// sold or short — no more (an oversell) and no fewer (lost units). The one place the
/// equation is judged, for every store.
pub fn books(products: &[hold::Stock]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for p in products {
        if p.available < 0 {
            violations.push(Violation::NegativeStock {
                sku: p.sku.clone(),
                available: p.available,
            });
        }
        let balance = p.balance();
        if balance > 0 {
            violations.push(Violation::Oversold {
                sku: p.sku.clone(),
                product: p.name.clone(),
                excess: balance,
                total: p.total,
                available: p.available,
                held: p.held,
                sold: p.sold,
                short: p.short,
            });
        } else if balance < 0 {
            violations.push(Violation::LostUnits {
                sku: p.sku.clone(),
                product: p.name.clone(),
                missing: -balance,
            });
        }
    }
    violations
}

/// Runs every check. `now` only tells overdue holds apart; it decides no violation.
pub fn audit(conn: &mut Connection, now: i64) -> Result<AuditReport> {
    // A read transaction: one consistent snapshot for every check below.
    let tx = conn.transaction()?;
    let products = hold::stock(&tx)?;
    let mut violations = books(&products);
    rows(&tx, "SELECT p.sku, h.buyer, sum(h.qty), p.max_per_buyer FROM holds h JOIN products p ON p.id = h.product_id
               WHERE h.status IN ('active', 'paid') GROUP BY h.product_id, h.buyer HAVING sum(h.qty) > p.max_per_buyer",
        |r| Ok(Violation::OverLimit { sku: r.get(0)?, buyer: r.get(1)?, units: r.get(2)?, limit: r.get(3)? }),
        &mut violations)?;
    rows(
        &tx,
        "SELECT h.id FROM holds h WHERE h.status = 'paid' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.id)",
        |r| Ok(Violation::PaidHoldWithoutOrder { hold_id: r.get(0)? }),
        &mut violations,
    )?;
    rows(
        &tx,
        "SELECT o.id, o.hold_id, h.status FROM orders o LEFT JOIN holds h ON h.id = o.hold_id
               WHERE h.id IS NULL OR h.status <> 'paid'",
        |r| {
            Ok(Violation::OrderWithoutPaidHold {
                order_id: r.get(0)?,
                hold_id: r.get(1)?,
                status: r.get(2)?,
            })
        },
        &mut violations,
    )?;
    rows(&tx, "SELECT o.id, o.hold_id,
                 CASE WHEN o.buyer <> h.buyer THEN 'buyer' WHEN o.product_id <> h.product_id THEN 'product'
                      WHEN o.qty <> h.qty THEN 'qty' WHEN o.held_at <> h.created_at THEN 'held_at'
                      ELSE 'paid_at' END
               FROM orders o JOIN holds h ON h.id = o.hold_id
               WHERE o.buyer <> h.buyer OR o.product_id <> h.product_id OR o.qty <> h.qty
                  OR o.held_at <> h.created_at OR (h.status = 'paid' AND o.paid_at <> h.closed_at)",
        |r| Ok(Violation::OrderMismatch { order_id: r.get(0)?, hold_id: r.get(1)?, field: r.get(2)? }),
        &mut violations)?;
    rows(
        &tx,
        "SELECT o.id, o.paid_at, h.expires_at FROM orders o JOIN holds h ON h.id = o.hold_id WHERE o.paid_at >= h.expires_at",
        |r| {
            Ok(Violation::PaidAfterExpiry {
                order_id: r.get(0)?,
                paid_at: r.get(1)?,
                expires_at: r.get(2)?,
            })
        },
        &mut violations,
    )?;
    rows(
        &tx,
        "SELECT hold_id, count(*) FROM orders GROUP BY hold_id HAVING count(*) > 1",
        |r| {
            Ok(Violation::DuplicateOrders {
                hold_id: r.get(0)?,
                orders: r.get(1)?,
            })
        },
        &mut violations,
    )?;
    rows(
        &tx,
        "SELECT id, status FROM holds WHERE status NOT IN ('active', 'paid', 'expired', 'released')",
        |r| {
            Ok(Violation::BadStatus {
                hold_id: r.get(0)?,
                status: r.get(1)?,
            })
        },
        &mut violations,
    )?;
    rows(
        &tx,
        "SELECT id, status FROM holds WHERE (status = 'active') <> (closed_at IS NULL)",
        |r| {
            Ok(Violation::ClosedAtMismatch {
                hold_id: r.get(0)?,
                status: r.get(1)?,
            })
        },
        &mut violations,
    )?;
    rows(
        &tx,
        "PRAGMA integrity_check",
        |r| Ok(Violation::Integrity { message: r.get(0)? }),
        &mut violations,
    )?;
    violations.retain(|v| !matches!(v, Violation::Integrity { message } if message == "ok"));
    rows(
        &tx,
        "PRAGMA foreign_key_check",
        |r| {
            Ok(Violation::Integrity {
                message: format!(
                    "row {} of {} points at a missing {}",
                    r.get::<_, i64>(1).unwrap_or(0),
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(2)?
                ),
            })
        },
        &mut violations,
    )?;
    let count = |sql: &str| -> rusqlite::Result<i64> { tx.query_row(sql, [], |r| r.get(0)) };
    let holds = count("SELECT count(*) FROM holds")?;
    let orders = count("SELECT count(*) FROM orders")?;
    let overdue_holds = tx.query_row(
        "SELECT count(*) FROM holds WHERE status = 'active' AND expires_at <= ?1",
        [now],
        |r| r.get(0),
    )?;
    drop(tx);
    Ok(AuditReport {
        ok: violations.is_empty(),
        products,
        holds,
        orders,
        overdue_holds,
        violations,
    })
}

fn rows(
    conn: &Connection,
    sql: &str,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Violation>,
    out: &mut Vec<Violation>,
) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let found = stmt.query_map([], |r| map(r))?;
    for v in found {
        out.push(v?);
    }
    Ok(())
}

impl AuditReport {
    /// The human report: one line per product, then each violation.
    pub fn write_text(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:<12} {:<28} {:>7} {:>9} {:>6} {:>6} {:>9}",
            "sku", "product", "total", "available", "held", "sold", "balance"
        )?;
        for p in &self.products {
            let balance = p.balance();
            writeln!(
                out,
                "{:<12} {:<28} {:>7} {:>9} {:>6} {:>6} {:>9}",
                p.sku,
                truncate(&p.name, 28),
                p.total,
                p.available,
                p.held,
                p.sold,
                if balance == 0 {
                    "ok".to_owned()
                } else {
                    format!("{balance:+}")
                }
            )?;
        }
        writeln!(out, "{} holds, {} orders", self.holds, self.orders)?;
        if self.overdue_holds > 0 {
            // Not a violation: nothing is wrong with the books, but units wait to come
            // back until something sweeps (the console, a swarm, `flashsale sweep`).
            writeln!(
                out,
                "warning: {} active holds are past their deadline; their units come back when something sweeps (run `flashsale sweep`)",
                self.overdue_holds
            )?;
        }
        if self.ok {
            writeln!(out, "audit: OK — every invariant holds")?;
        } else {
            writeln!(
                out,
                "audit: FAILED — {} violation(s):",
                self.violations.len()
            )?;
            for v in &self.violations {
                writeln!(out, "  - {v}")?;
            }
        }
        Ok(())
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
