-- flashsale schema step: serving buyers over HTTP (`flashsale serve`).

-- Secrets the servers share through the database, so a token signed by one server (or
-- before a restart) is accepted by every server on the same file. Created once, by
-- whichever server starts first (INSERT OR IGNORE), and never rotated by flashsale.
CREATE TABLE server_secrets (
    name        TEXT    PRIMARY KEY,
    secret      BLOB    NOT NULL CHECK (length(secret) >= 32),
    created_at  INTEGER NOT NULL
);

-- Idempotency-Key records (IETF httpapi draft): the first answer to a buyer's key is
-- kept so a retry, to this server or another on the same file, replays it. A row with
-- no status is a request still being answered. Rows older than the documented lifetime
-- (24 hours) are deleted.
CREATE TABLE idempotency_keys (
    buyer       TEXT    NOT NULL,
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the method, the path and the body: the same key with another request
    -- is refused (422), never replayed.
    fingerprint BLOB    NOT NULL,
    status      INTEGER,
    body        TEXT,
    location    TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (buyer, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
