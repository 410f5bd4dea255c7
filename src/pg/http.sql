-- flashsale schema step 2 on PostgreSQL: serving buyers over HTTP (`flashsale serve`),
-- as on SQLite: the token secret every server shares, and the Idempotency-Key records
-- that let a retry sent to another server replay the first answer.
CREATE TABLE server_secrets (
    name        TEXT    PRIMARY KEY,
    secret      BYTEA   NOT NULL CHECK (length(secret) >= 32),
    created_at  BIGINT  NOT NULL
);

CREATE TABLE idempotency_keys (
    buyer       TEXT    NOT NULL,
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint BYTEA   NOT NULL,
    status      INTEGER,
    body        TEXT,
    location    TEXT,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (buyer, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
