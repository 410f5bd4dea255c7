#!/usr/bin/env bash
# PostgreSQL's own figures for the two reservation statements, measured with pgbench on
# the same server in the same sitting as `flashsale bench --db postgres://…`, so the
# bench's rows can be compared with what the server does for bare SQL (the two
# transactions, FOR UPDATE and conditional, are in pgbench-lib.sh).
# scripts/pg-immediate-ratio.sh interleaves the FOR UPDATE one with the bench's
# `immediate` row, which is the comparison to trust on a shared machine.
# Usage: scripts/pgbench-reference.sh 'postgres://postgres@127.0.0.1:54329/flashsale' [seconds]
set -euo pipefail
url=${1:?usage: $0 POSTGRES_URL [seconds]}
secs=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/pgbench-lib.sh"
ref_setup "$url" "$work"
for script in for_update conditional; do
  for clients in 1 8 64; do
    tps=$(pgbench -n -c "$clients" -j 2 -T "$secs" -f "$work/$script.sql" "$url" 2>/dev/null \
          | awk '/^tps/ {print int($3)}')
    echo "$script clients=$clients tps=$tps"
  done
done
ref_drop "$url"

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
  # What `immediate` sends since issue #11's speed work: the same steps as one call of
  # the schema's function, in autocommit.
  cat >"$work/ours_call.sql" <<'SQL'
SELECT flashsale_hold(gen_random_uuid()::text, (SELECT min(id) FROM products),
        'p' || :client_id || '-' || random()::text, 1, 1, 3600001, true);
SQL
  for script in ours ours_call; do
    for clients in 1 8 64; do
      tps=$(pgbench -n -c "$clients" -j 2 -T "$secs" -f "$work/$script.sql" "$url" 2>/dev/null \
            | awk '/^tps/ {print int($3)}')
      echo "flashsale_hold${script#ours} clients=$clients tps=$tps"
    done
  done
fi
