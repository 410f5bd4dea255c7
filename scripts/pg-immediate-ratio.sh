#!/usr/bin/env bash
# `immediate` on PostgreSQL against pgbench's bare FOR UPDATE transaction, alternating
# on the same server in the same sitting (a shared machine drifts by 2x within minutes:
# only interleaved runs compare). Each round runs pgbench's script for as long as the
# bench's time limit, then `flashsale bench --strategy immediate` at the same client
# count, and prints both; the last lines are the medians, their ratio, and the median
# of each round's own ratio (the steadier figure; issue #11's target: immediate >= 80%
# of pgbench at 8 clients). SECS=2 makes rounds short, so more of them fit in a calm
# stretch.
#
# Usage: scripts/pg-immediate-ratio.sh POSTGRES_URL [rounds] [clients...]
#   e.g. scripts/pg-immediate-ratio.sh postgres://postgres@127.0.0.1:54329/flashsale_bench 3 8 64
# The database must be the bench's own (it is emptied). FLASHSALE names the binary, or
# several separated by spaces (a build before a change and one after), each measured in
# every round: target/release/flashsale by default. An entry BINARY@URL gives that build
# a bench database of its own (an older build refuses a database a newer one migrated).
set -euo pipefail
url=${1:?usage: $0 POSTGRES_URL [rounds] [clients...]}
rounds=${2:-3}
# Seconds per measurement: pgbench's run and the bench's time limit.
secs=${SECS:-6}
# STRATEGY=atomic compares `atomic` with pgbench's conditional script instead.
strategy=${STRATEGY:-immediate}
script=for_update
[ "$strategy" = atomic ] && script=conditional
shift $(($# < 2 ? $# : 2))
clients=("${@:-8}")
read -ra binaries <<<"${FLASHSALE:-target/release/flashsale}"
work=$(mktemp -d)
trap 'rm -rf "$work"; ref_drop "$url" 2>/dev/null || true' EXIT
. "$(dirname "$0")/pgbench-lib.sh"
ref_setup "$url" "$work"
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
for c in "${clients[@]}"; do
  for r in $(seq "$rounds"); do
    tps=$(pgbench -n -c "$c" -j 2 -T "$secs" -f "$work/$script.sql" "$url" 2>/dev/null |
      awk '/^tps/ {print int($3)}')
    echo "clients=$c round=$r pgbench_$script=$tps"
    echo "$tps" >>"$work/pgbench.$c"
    for b in "${!binaries[@]}"; do
      # Enough units that the row ends at the time limit, never sold out.
      bin=${binaries[$b]%%@*} db=$url
      [ "$bin" != "${binaries[$b]}" ] && db=${binaries[$b]#*@}
      ours=$("$bin" --db "$db" bench --holds 40000 --threads "$c" --strategy "$strategy" \
        --expiry-holds 0 --gate-probe 0s --time-limit "${secs}s" --json |
        jq --arg s "$strategy" '.rows[] | select(.strategy == $s) | .holds_per_sec | floor')
      echo "clients=$c round=$r ${binaries[$b]%%@*} $strategy=$ours"
      echo "$ours" >>"$work/ours.$c.$b"
      awk -v o="$ours" -v p="$tps" 'BEGIN {print 100 * o / p}' >>"$work/ratio.$c.$b"
    done
  done
  p=$(median <"$work/pgbench.$c")
  echo "clients=$c median pgbench_$script=$p"
  for b in "${!binaries[@]}"; do
    o=$(median <"$work/ours.$c.$b")
    echo "clients=$c median ${binaries[$b]%%@*} $strategy=$o ratio_of_medians=$(awk -v o="$o" -v p="$p" 'BEGIN {printf "%.0f%%", 100 * o / p}') median_of_round_ratios=$(median <"$work/ratio.$c.$b" | xargs printf "%.0f")%"
  done
done
