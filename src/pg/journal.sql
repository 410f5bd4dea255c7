-- flashsale schema step 3 on PostgreSQL: the sale's journal, as on SQLite — every swarm
-- run with its figures, the operator log, and what the selling process runs now — so
-- that a console or `flashsale runs` in another process (or on another machine) sees it.
CREATE TABLE runs (
    id          BIGSERIAL PRIMARY KEY,
    started_at  BIGINT    NOT NULL,
    -- The run's settings and figures as JSON (the columns of `flashsale runs`).
    run         TEXT      NOT NULL
);

CREATE TABLE operator_log (
    id    BIGSERIAL PRIMARY KEY,
    at    BIGINT    NOT NULL,
    who   TEXT      NOT NULL,
    what  TEXT      NOT NULL
);

CREATE TABLE running (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    who          TEXT    NOT NULL,
    strategy     TEXT    NOT NULL,
    warp         INTEGER NOT NULL CHECK (warp >= 1),
    hold_ttl_ms  BIGINT  NOT NULL CHECK (hold_ttl_ms > 0),
    updated_at   BIGINT  NOT NULL
);
