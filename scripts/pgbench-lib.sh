# Sourced by the pgbench scripts: pgbench's reference tables and transactions, the one
# definition both scripts measure.
#   ref_setup URL DIR  creates the tables ref_stock and ref_holds in URL and writes
#                      DIR/for_update.sql and DIR/conditional.sql:
#   FOR UPDATE:   BEGIN; SELECT … FOR UPDATE; UPDATE …; INSERT …; COMMIT
#   conditional:  UPDATE … WHERE stock >= 1 (one statement, autocommit) + INSERT
#   ref_drop URL       drops them again.
# The tables live in a schema of their own, so a flashsale database they share (the
# bench's) still holds no table flashsale does not know, and a new one is still empty.
ref_setup() {
  psql "$1" -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS pgbench_ref CASCADE;
CREATE SCHEMA pgbench_ref;
SET search_path = pgbench_ref;
CREATE TABLE ref_stock (id INT PRIMARY KEY, available BIGINT NOT NULL CHECK (available >= 0));
CREATE TABLE ref_holds (id BIGSERIAL PRIMARY KEY, product INT NOT NULL, buyer TEXT NOT NULL, at BIGINT NOT NULL);
INSERT INTO ref_stock VALUES (1, 1000000000);
SQL
  cat >"$2/for_update.sql" <<'SQL'
BEGIN;
SELECT available FROM pgbench_ref.ref_stock WHERE id = 1 FOR UPDATE;
UPDATE pgbench_ref.ref_stock SET available = available - 1 WHERE id = 1;
INSERT INTO pgbench_ref.ref_holds (product, buyer, at) VALUES (1, 'b' || :client_id, 0);
COMMIT;
SQL
  cat >"$2/conditional.sql" <<'SQL'
BEGIN;
UPDATE pgbench_ref.ref_stock SET available = available - 1 WHERE id = 1 AND available >= 1;
INSERT INTO pgbench_ref.ref_holds (product, buyer, at) VALUES (1, 'b' || :client_id, 0);
COMMIT;
SQL
}
ref_drop() { PGOPTIONS='-c client_min_messages=warning' psql "$1" -qc 'DROP SCHEMA IF EXISTS pgbench_ref CASCADE'; }
