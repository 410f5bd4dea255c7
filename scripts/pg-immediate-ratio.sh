#!/usr/bin/env bash
# `immediate` on PostgreSQL against pgbench's bare FOR UPDATE transaction, alternating
# on the same server in the same sitting (a shared machine drifts by 2x within minutes:
# only interleaved runs compare). Each round runs pgbench's script for as long as the
# bench's time limit, then `flashsale bench --strategy immediate` at the same client
# count, and prints both; the last lines are the medians and their ratio (issue #11's
# target: immediate >= 80% of pgbench at 8 clients).
#
# Usage: scripts/pg-immediate-ratio.sh POSTGRES_URL [rounds] [clients...]
#   e.g. scripts/pg-immediate-ratio.sh postgres://postgres@127.0.0.1:54329/flashsale_bench 3 8 64
# The database must be the bench's own (it is emptied); FLASHSALE names the binary
# (target/release/flashsale by default).
set -euo pipefail
url=${1:?usage: $0 POSTGRES_URL [rounds] [clients...]}
rounds=${2:-3}
shift $(($# < 2 ? $# : 2))
clients=("${@:-8}")
flashsale=${FLASHSALE:-target/release/flashsale}
work=$(mktemp -d)
trap 'rm -rf "$work"; ref_drop "$url" 2>/dev/null || true' EXIT
. "$(dirname "$0")/pgbench-lib.sh"
ref_setup "$url" "$work"
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
for c in "${clients[@]}"; do
  : >"$work/pgbench.$c" && : >"$work/ours.$c"
  for r in $(seq "$rounds"); do
    tps=$(pgbench -n -c "$c" -j 2 -T 6 -f "$work/for_update.sql" "$url" 2>/dev/null |
      awk '/^tps/ {print int($3)}')
    # Enough units that the row ends at the time limit, never sold out.
    ours=$("$flashsale" --db "$url" bench --holds 40000 --threads "$c" --strategy immediate \
      --expiry-holds 0 --gate-probe 0s --json | jq '.rows[] | select(.strategy == "immediate") | .holds_per_sec | floor')
    echo "clients=$c round=$r pgbench_for_update=$tps immediate=$ours"
    echo "$tps" >>"$work/pgbench.$c"
    echo "$ours" >>"$work/ours.$c"
  done
  p=$(median <"$work/pgbench.$c")
  o=$(median <"$work/ours.$c")
  echo "clients=$c median pgbench_for_update=$p immediate=$o ratio=$(awk -v o="$o" -v p="$p" 'BEGIN {printf "%.0f%%", 100 * o / p}')"
done
