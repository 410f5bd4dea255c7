#!/usr/bin/env bash
# PostgreSQL's own figures for the two reservation statements, measured with pgbench on
# the same server in the same sitting as `flashsale bench --db postgres://…`, so the
# bench's rows can be compared with what the server does for bare SQL:
#   FOR UPDATE:   BEGIN; SELECT … FOR UPDATE; UPDATE …; INSERT …; COMMIT
#   conditional:  UPDATE … WHERE stock >= 1 (one statement, autocommit) + INSERT
# Usage: scripts/pgbench-reference.sh 'postgres://postgres@127.0.0.1:54329/flashsale' [seconds]
set -euo pipefail
url=${1:?usage: $0 POSTGRES_URL [seconds]}
secs=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql "$url" -q -v ON_ERROR_STOP=1 <<'SQL'
DROP TABLE IF EXISTS ref_stock, ref_holds;
CREATE TABLE ref_stock (id INT PRIMARY KEY, available BIGINT NOT NULL CHECK (available >= 0));
CREATE TABLE ref_holds (id BIGSERIAL PRIMARY KEY, product INT NOT NULL, buyer TEXT NOT NULL, at BIGINT NOT NULL);
INSERT INTO ref_stock VALUES (1, 1000000000);
SQL
cat >"$work/for_update.sql" <<'SQL'
BEGIN;
SELECT available FROM ref_stock WHERE id = 1 FOR UPDATE;
UPDATE ref_stock SET available = available - 1 WHERE id = 1;
INSERT INTO ref_holds (product, buyer, at) VALUES (1, 'b' || :client_id, 0);
COMMIT;
SQL
cat >"$work/conditional.sql" <<'SQL'
BEGIN;
UPDATE ref_stock SET available = available - 1 WHERE id = 1 AND available >= 1;
INSERT INTO ref_holds (product, buyer, at) VALUES (1, 'b' || :client_id, 0);
COMMIT;
SQL
for script in for_update conditional; do
  for clients in 1 8 64; do
    tps=$(pgbench -n -c "$clients" -j 2 -T "$secs" -f "$work/$script.sql" "$url" 2>/dev/null \
          | awk '/^tps/ {print int($3)}')
    echo "$script clients=$clients tps=$tps"
  done
done
psql "$url" -q -c 'DROP TABLE ref_stock, ref_holds;'

# flashsale's own transaction on its real schema (the hold row with its text key, its
# indexes, CHECKs, foreign key and per-buyer trigger), on a bench database only (the
# one `flashsale bench --db` uses; it refills the product's stock first).
if [ "$(psql "$url" -Atc "SELECT name FROM sale WHERE id = 1" 2>/dev/null)" = "Bench sale" ]; then
  psql "$url" -qc "UPDATE products SET stock_total = 1000000000, stock_available = 1000000000"
  cat >"$work/ours.sql" <<'SQL'
BEGIN;
SELECT stock_available FROM products WHERE id = (SELECT min(id) FROM products) FOR UPDATE;
UPDATE products SET stock_available = stock_available - 1, version = version + 1
 WHERE id = (SELECT min(id) FROM products) AND stock_available >= 1;
INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
VALUES (gen_random_uuid()::text, (SELECT min(id) FROM products),
        'p' || :client_id || '-' || random()::text, 1, 'active', 1, 3600001);
COMMIT;
SQL
  for clients in 1 8 64; do
    tps=$(pgbench -n -c "$clients" -j 2 -T "$secs" -f "$work/ours.sql" "$url" 2>/dev/null \
          | awk '/^tps/ {print int($3)}')
    echo "flashsale_hold clients=$clients tps=$tps"
  done
fi
