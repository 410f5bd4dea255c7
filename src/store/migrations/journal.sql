-- The sale's journal: what the console did to the sale, kept in the file so it outlives
-- the session and a second process (a read-only monitor, `flashsale runs`) sees it.

-- Every swarm run: its settings and its figures (the columns of `bench`).
CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    started_at         INTEGER NOT NULL,
    sku                TEXT    NOT NULL,
    strategy           TEXT    NOT NULL,
    -- Buyers asked for, and buyers that really arrived (fewer when stopped early).
    buyers_planned     INTEGER NOT NULL CHECK (buyers_planned >= 0),
    buyers             INTEGER NOT NULL CHECK (buyers >= 0 AND buyers <= buyers_planned),
    stopped            INTEGER NOT NULL CHECK (stopped IN (0, 1)),
    threads            INTEGER NOT NULL,
    stock              INTEGER NOT NULL,
    behaviour          TEXT    NOT NULL,
    hold_ttl_ms        INTEGER NOT NULL,
    warp               INTEGER NOT NULL CHECK (warp >= 1),
    seed               INTEGER NOT NULL,
    sold               INTEGER NOT NULL,
    oversold           INTEGER NOT NULL,
    fairness           REAL    NOT NULL,
    inversions         INTEGER NOT NULL,
    attempts_per_sec   REAL    NOT NULL,
    holds_per_sec      REAL    NOT NULL,
    p50_us             INTEGER NOT NULL,
    p95_us             INTEGER NOT NULL,
    p99_us             INTEGER NOT NULL,
    max_us             INTEGER NOT NULL,
    conflicts          INTEGER NOT NULL,
    busy               INTEGER NOT NULL,
    elapsed_ms         INTEGER NOT NULL,
    rejected_sold_out  INTEGER NOT NULL,
    rejected_limit     INTEGER NOT NULL,
    rejected_other     INTEGER NOT NULL
);

-- Who changed the sale by hand, and when: reset, restock, TTL, warp, strategy, runs.
CREATE TABLE operator_log (
    id    INTEGER PRIMARY KEY,
    at    INTEGER NOT NULL,
    who   TEXT    NOT NULL,
    what  TEXT    NOT NULL
);

-- What the selling process runs now (one row), so a monitor shows the truth.
CREATE TABLE running (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    who          TEXT    NOT NULL,
    strategy     TEXT    NOT NULL,
    warp         INTEGER NOT NULL CHECK (warp >= 1),
    hold_ttl_ms  INTEGER NOT NULL CHECK (hold_ttl_ms > 0),
    updated_at   INTEGER NOT NULL
);
