//! Every invariant of a sale on PostgreSQL, checked from the database alone, in one
//! REPEATABLE READ transaction (one snapshot for every check, while other processes go
//! on selling). The same checks and the same report as the SQLite audit
//! ([`crate::audit`]); where SQLite runs `PRAGMA integrity_check`, the schema's own
//! constraints and foreign keys are what PostgreSQL enforces on every write.

use postgres::{IsolationLevel, Row};

use super::PgStore;
use super::hold as pg;
use crate::audit::{AuditReport, Violation, books};
use crate::sql::Result;

/// One check: a query whose every row is a violation, and how to read the row.
type Check = (&'static str, fn(&Row) -> Violation);

/// Runs every check. `now` only tells overdue holds apart; it decides no violation.
pub fn audit(store: &PgStore, now: i64) -> Result<AuditReport> {
    let mut conn = store.conn()?;
    let mut tx = conn
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let products = pg::stock(&mut tx)?;
    let mut violations = books(&products);
    let checks: [Check; 7] = [
        (
            "SELECT p.sku, h.buyer, sum(h.qty)::BIGINT, p.max_per_buyer
             FROM holds h JOIN products p ON p.id = h.product_id
             WHERE h.status IN ('active', 'paid')
             GROUP BY p.sku, h.buyer, p.max_per_buyer HAVING sum(h.qty) > p.max_per_buyer",
            |r| Violation::OverLimit {
                sku: r.get(0),
                buyer: r.get(1),
                units: r.get(2),
                limit: r.get(3),
            },
        ),
        (
            "SELECT h.id FROM holds h WHERE h.status = 'paid'
             AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.id)",
            |r| Violation::PaidHoldWithoutOrder { hold_id: r.get(0) },
        ),
        (
            "SELECT o.id, o.hold_id, h.status FROM orders o LEFT JOIN holds h ON h.id = o.hold_id
             WHERE h.id IS NULL OR h.status <> 'paid'",
            |r| Violation::OrderWithoutPaidHold {
                order_id: r.get(0),
                hold_id: r.get(1),
                status: r.get(2),
            },
        ),
        (
            "SELECT o.id, o.hold_id,
                    CASE WHEN o.buyer <> h.buyer THEN 'buyer'
                         WHEN o.product_id <> h.product_id THEN 'product'
                         WHEN o.qty <> h.qty THEN 'qty'
                         WHEN o.held_at <> h.created_at THEN 'held_at'
                         ELSE 'paid_at' END
             FROM orders o JOIN holds h ON h.id = o.hold_id
             WHERE o.buyer <> h.buyer OR o.product_id <> h.product_id OR o.qty <> h.qty
                OR o.held_at <> h.created_at OR (h.status = 'paid' AND o.paid_at <> h.closed_at)",
            |r| Violation::OrderMismatch {
                order_id: r.get(0),
                hold_id: r.get(1),
                field: r.get(2),
            },
        ),
        (
            "SELECT o.id, o.paid_at, h.expires_at FROM orders o JOIN holds h ON h.id = o.hold_id
             WHERE o.paid_at >= h.expires_at",
            |r| Violation::PaidAfterExpiry {
                order_id: r.get(0),
                paid_at: r.get(1),
                expires_at: r.get(2),
            },
        ),
        (
            "SELECT hold_id, count(*) FROM orders GROUP BY hold_id HAVING count(*) > 1",
            |r| Violation::DuplicateOrders {
                hold_id: r.get(0),
                orders: r.get(1),
            },
        ),
        (
            "SELECT id, status FROM holds
             WHERE status NOT IN ('active', 'paid', 'expired', 'released')
                OR (status = 'active') <> (closed_at IS NULL)",
            |r| {
                let status: String = r.get(1);
                let hold_id = r.get(0);
                if ["active", "paid", "expired", "released"].contains(&status.as_str()) {
                    Violation::ClosedAtMismatch { hold_id, status }
                } else {
                    Violation::BadStatus { hold_id, status }
                }
            },
        ),
    ];
    for (sql, violation) in checks {
        violations.extend(tx.query(sql, &[])?.iter().map(violation));
    }
    let count = |tx: &mut postgres::Transaction<'_>, sql: &str| -> Result<i64> {
        Ok(tx.query_one(sql, &[])?.get(0))
    };
    let holds = count(&mut tx, "SELECT count(*) FROM holds")?;
    let orders = count(&mut tx, "SELECT count(*) FROM orders")?;
    let overdue_holds: i64 = tx
        .query_one(
            "SELECT count(*) FROM holds WHERE status = 'active' AND expires_at <= $1",
            &[&now],
        )?
        .get(0);
    tx.commit()?;
    Ok(AuditReport {
        ok: violations.is_empty(),
        products,
        holds,
        orders,
        overdue_holds,
        violations,
    })
}
