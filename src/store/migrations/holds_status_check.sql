-- flashsale schema step: hold statuses checked without a temporary table per write.
--
-- `CHECK (status IN ('active', 'paid', 'expired', 'released'))` compiles, like any IN
-- list of more than two constants, to an ephemeral table that SQLite builds again for
-- every statement that inserts or updates a hold: about a fifth of SQLite's instructions
-- per inserted hold (callgrind, issue 13). The same rule written as comparisons costs a
-- few string compares. (Two-value lists such as the partial index's are compiled as
-- comparisons already.)
--
-- SQLite cannot change a CHECK in place, so the table is rebuilt with its rows, indexes
-- and triggers (https://sqlite.org/lang_altertable.html#otheralter). The migration runs
-- with foreign keys off, in one IMMEDIATE transaction with its version bump; the trigger
-- on orders that names holds is dropped first and made again after, so nothing refers to
-- a missing table while the new one takes the old one's name.

DROP TRIGGER orders_match_paid_hold;

CREATE TABLE holds_next (
    id          TEXT    PRIMARY KEY,                -- UUID v7: time-ordered, unguessable
    product_id  INTEGER NOT NULL REFERENCES products (id),
    buyer       TEXT    NOT NULL CHECK (length(buyer) > 0),
    qty         INTEGER NOT NULL CHECK (qty > 0),
    status      TEXT    NOT NULL DEFAULT 'active'
                CHECK (status = 'active' OR status = 'paid'
                       OR status = 'expired' OR status = 'released'),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL CHECK (expires_at > created_at),
    closed_at   INTEGER,
    extensions  INTEGER NOT NULL DEFAULT 0 CHECK (extensions >= 0),
    -- An open hold has no closing time; a closed one always has one.
    CHECK ((status = 'active') = (closed_at IS NULL))
);

INSERT INTO holds_next (id, product_id, buyer, qty, status, created_at, expires_at,
                        closed_at, extensions)
SELECT id, product_id, buyer, qty, status, created_at, expires_at, closed_at, extensions
FROM holds;

DROP TABLE holds;
ALTER TABLE holds_next RENAME TO holds;

-- The sweeper's and lazy expiry's scan: active holds by deadline.
CREATE INDEX holds_active_by_expiry ON holds (expires_at) WHERE status = 'active';
-- Per-buyer limit and the console's per-product lists.
CREATE INDEX holds_live_by_buyer ON holds (product_id, buyer) WHERE status IN ('active', 'paid');

-- The triggers of step 1, unchanged (dropping the table dropped its own).

-- A hold changes status once: active -> paid | expired | released, never back.
CREATE TRIGGER holds_status_once
BEFORE UPDATE OF status ON holds
WHEN OLD.status <> 'active' AND NEW.status <> OLD.status
BEGIN
    SELECT RAISE(ABORT, 'hold_closed: a hold changes status only once');
END;

-- A hold is paid only before it expires.
CREATE TRIGGER holds_paid_in_time
BEFORE UPDATE OF status ON holds
WHEN NEW.status = 'paid' AND NEW.closed_at >= OLD.expires_at
BEGIN
    SELECT RAISE(ABORT, 'hold_expired: a hold is paid only before it expires');
END;

-- At most max_per_buyer live (active or paid) units per buyer and product.
CREATE TRIGGER holds_per_buyer_limit
BEFORE INSERT ON holds
WHEN NEW.qty + (SELECT coalesce(sum(qty), 0) FROM holds
                WHERE product_id = NEW.product_id AND buyer = NEW.buyer
                  AND status IN ('active', 'paid'))
     > (SELECT max_per_buyer FROM products WHERE id = NEW.product_id)
BEGIN
    SELECT RAISE(ABORT, 'per_buyer_limit: a buyer holds at most max_per_buyer units');
END;

-- An order is only ever the record of a paid hold, for its buyer, product and quantity.
CREATE TRIGGER orders_match_paid_hold
BEFORE INSERT ON orders
WHEN NOT EXISTS (SELECT 1 FROM holds h
                 WHERE h.id = NEW.hold_id AND h.status = 'paid' AND h.buyer = NEW.buyer
                   AND h.product_id = NEW.product_id AND h.qty = NEW.qty
                   AND h.created_at = NEW.held_at AND NEW.paid_at < h.expires_at)
BEGIN
    SELECT RAISE(ABORT, 'order_without_paid_hold: an order records a paid hold');
END;
