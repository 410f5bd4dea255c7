-- flashsale schema, version 1.
--
-- Applied once to a new database file and recorded with PRAGMA user_version. Shipped
-- migrations are never edited: a change to the schema is a new numbered step in
-- src/store/migrate.rs. The names of products, holds and orders and their columns are
-- a contract that outside checks rely on (shared/DESIGN.md, "Schema contract").
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC).

-- One row: the sale being run and its rules.
CREATE TABLE sale (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    name            TEXT    NOT NULL,
    hold_ttl_ms     INTEGER NOT NULL CHECK (hold_ttl_ms > 0),
    -- extend() pushes expires_at to now + ttl, at most max_extensions times and never
    -- beyond created_at + max_hold_ms, so a hold cannot be kept alive forever.
    max_extensions  INTEGER NOT NULL CHECK (max_extensions >= 0),
    max_hold_ms     INTEGER NOT NULL CHECK (max_hold_ms >= hold_ttl_ms),
    created_at      INTEGER NOT NULL
);

CREATE TABLE products (
    id              INTEGER PRIMARY KEY,
    sku             TEXT    UNIQUE NOT NULL CHECK (length(sku) > 0),
    name            TEXT    NOT NULL,
    price_cents     INTEGER NOT NULL CHECK (price_cents >= 0),
    stock_total     INTEGER NOT NULL CHECK (stock_total >= 0),
    -- Never negative, never above the total. The naive strategy can still oversell
    -- (a lost update leaves stock_available >= 0 with too many holds); the audit catches it.
    stock_available INTEGER NOT NULL CHECK (stock_available >= 0 AND stock_available <= stock_total),
    -- Bumped by every change of stock_available: the optimistic strategy's compare-and-set.
    version         INTEGER NOT NULL DEFAULT 0,
    max_per_buyer   INTEGER NOT NULL DEFAULT 1 CHECK (max_per_buyer > 0)
);

CREATE TABLE holds (
    id          TEXT    PRIMARY KEY,                -- UUID v4: unguessable
    product_id  INTEGER NOT NULL REFERENCES products (id),
    buyer       TEXT    NOT NULL CHECK (length(buyer) > 0),
    qty         INTEGER NOT NULL CHECK (qty > 0),
    status      TEXT    NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'paid', 'expired', 'released')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL CHECK (expires_at > created_at),
    closed_at   INTEGER,
    extensions  INTEGER NOT NULL DEFAULT 0 CHECK (extensions >= 0),
    -- An open hold has no closing time; a closed one always has one.
    CHECK ((status = 'active') = (closed_at IS NULL))
);

-- The sweeper's and lazy expiry's scan: active holds by deadline.
CREATE INDEX holds_active_by_expiry ON holds (expires_at) WHERE status = 'active';
-- Per-buyer limit and the console's per-product lists.
CREATE INDEX holds_live_by_buyer ON holds (product_id, buyer) WHERE status IN ('active', 'paid');

CREATE TABLE orders (
    id          TEXT    PRIMARY KEY,                -- UUID v7: sorts by time
    hold_id     TEXT    NOT NULL UNIQUE REFERENCES holds (id),
    product_id  INTEGER NOT NULL REFERENCES products (id),
    buyer       TEXT    NOT NULL,
    qty         INTEGER NOT NULL CHECK (qty > 0),
    held_at     INTEGER NOT NULL,
    paid_at     INTEGER NOT NULL CHECK (paid_at >= held_at)
);
CREATE INDEX orders_by_paid_at ON orders (paid_at);

-- Pay-first takes the money before it claims stock; a payment that finds no stock is
-- refunded, and the refund is recorded so the count survives the process.
CREATE TABLE refunds (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products (id),
    buyer       TEXT    NOT NULL,
    qty         INTEGER NOT NULL CHECK (qty > 0),
    at          INTEGER NOT NULL
);

-- What the database can enforce on its own, it does. These triggers are the backstop
-- behind the engine's own checks: a bug or a hand-written statement still cannot
-- break them. (The audit re-checks everything in case someone drops them.)

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
