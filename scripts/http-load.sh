#!/usr/bin/env bash
# Add-to-cart over HTTP against `flashsale serve --strategy queue` (synchronous=FULL),
# then the in-process queue (`flashsale bench --strategy queue`) selling as many holds,
# ROUNDS times; prints each round and the medians.
#
#   cargo build --release && scripts/http-load.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Needs wrk (apt-get install -y wrk). Everything listens on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
conns=${3:-128}
buyer_secs=${BUYER_SECONDS:-3}
bin=${FLASHSALE:-target/release/flashsale}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
[ -x "$bin" ] || { echo "$bin is missing: cargo build --release" >&2; exit 2; }
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
# Many units and a high per-buyer limit: every request can take a hold, none is refused.
cat > "$dir/sale.json" <<JSON
{"name": "Load test", "hold_ttl": "1h", "max_per_buyer": 1000000, "max_extensions": 0,
 "max_hold": "1h", "products": [{"sku": "LOAD", "name": "Load", "price_cents": 100,
 "stock": 50000000, "max_per_buyer": 1000000}]}
JSON
results="$dir/results.txt"
# The server's writer thread so far, from /metrics: seconds on a core and waiting for one.
writer_times() {
  python3 - "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode()
get = lambda name: next((l.split()[1] for l in text.splitlines() if l.startswith(name + " ")), "0")
print(get("flashsale_writer_cpu_seconds_total"), get("flashsale_writer_waiting_seconds_total"))
PY
}
# A process's CPU seconds so far, every thread's.
server_cpu() {
  python3 - "$1" <<'PY'
import os, sys
fields = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
PY
}
for round in $(seq "$rounds"); do
  rm -f "$dir"/load.db*
  "$bin" --db "$dir/load.db" init --sale "$dir/sale.json" >/dev/null
  "$bin" --db "$dir/load.db" serve --strategy queue --listen 127.0.0.1:0 --log "$dir/serve.log" >"$dir/serve.out" &
  pid=$!
  for _ in $(seq 100); do grep -q http:// "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
  addr=$(grep -o 'http://[0-9.:]*' "$dir/serve.out")
  # Buyers first, each with its own signed token: as many as the server makes in a few
  # seconds (tens of thousands), so each takes only a few holds, as in a real sale where
  # the per-buyer limit keeps everyone's live holds few (2,000 buyers taking 35 holds
  # each made every add-to-cart sum 35 rows for the limit, which no sale does).
  : > "$dir/tokens.txt"
  wrk -t2 -c16 -d"${buyer_secs}s" -s scripts/http-buyers.lua "$addr" -- "$dir/tokens.txt" >/dev/null
  # CPU seconds (user + system) of the server and of wrk over the load: on a machine
  # with few cores both share them, and per request they bound the rate.
  before=$(server_cpu "$pid")
  read -r writer_on writer_waiting <<<"$(writer_times "$addr")"
  TIMEFORMAT='%U %S'
  { time wrk -t2 -c"$conns" -d"${secs}s" -s scripts/http-holds.lua "$addr" -- "$dir/tokens.txt" > "$dir/wrk.out"; } 2> "$dir/wrk.time"
  http=$(grep '^RESULT' "$dir/wrk.out")
  server=$(python3 -c "print(round($(server_cpu "$pid") - $before, 2))")
  read -r writer_on_end writer_waiting_end <<<"$(writer_times "$addr")"
  writer_on=$(python3 -c "print(round($writer_on_end - $writer_on, 2))")
  writer_waiting=$(python3 -c "print(round($writer_waiting_end - $writer_waiting, 2))")
  wrk_cpu=$(python3 -c "print(round(sum(map(float, '$(cat "$dir/wrk.time")'.split())), 2))")
  kill -TERM "$pid"; wait "$pid"; pid=
  # Then in process, with as many buyer threads as HTTP had connections (the same
  # concurrency, so the same group-commit batches at synchronous=full; the bench's own
  # 1,000 threads make batches up to 8x larger) and selling as many holds as HTTP just
  # did: a short run reads low (20,000 holds, a quarter of a second, read ~25% below
  # 400,000), so like is compared with like.
  sold=$(grep -o 'requests=[0-9]*' <<<"$http" | cut -d= -f2)
  inproc=$("$bin" bench --strategy queue --threads "$conns" --holds "$sold" --json --expiry-holds 0 --gate-probe 0s --dir "$dir" |
    python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["rows"] if x["strategy"]=="queue"][0]; print(round(r["holds_per_sec"]), round(r["cpu_us_per_hold"], 1))')
  read -r inproc inproc_cpu <<<"$inproc"
  echo "round $round: in-process queue ${inproc} holds/s cpu_us=${inproc_cpu}; HTTP $http server_cpu_s=$server wrk_cpu_s=$wrk_cpu writer_on_s=$writer_on writer_waiting_s=$writer_waiting secs=$secs buyers=$(wc -l < "$dir/tokens.txt")" | tee -a "$results"
done
python3 - "$results" <<'PY'
import os, re, statistics, sys
rows = [l for l in open(sys.argv[1])]
def col(name):
    return [float(re.search(name + r"=([0-9.]+)", l).group(1)) for l in rows]
inproc = statistics.median([float(re.search(r"queue (\d+) holds", l).group(1)) for l in rows])
rps, p50, p99 = (statistics.median(col(n)) for n in ("rps", "p50_ms", "p99_ms"))
errors = sum(col("non2xx")) + sum(col("socket_errors"))
print(f"median of {len(rows)}: in-process queue {inproc:.0f} holds/s; HTTP {rps:.0f} holds/s "
      f"({rps / inproc:.2f}x), p50 {p50:.2f} ms, p99 {p99:.2f} ms, error answers {errors:.0f}")
# CPU per request: each round's CPU seconds over the requests it answered.
per_req = lambda name: statistics.median(
    [c / n * 1e6 for c, n in zip(col(name), col("requests"))])
server, wrk = per_req("server_cpu_s"), per_req("wrk_cpu_s")
writer = per_req("writer_on_s")
cores = os.cpu_count()
print(f"CPU per request: server {server:.1f} us (its writer thread {writer:.1f}), wrk {wrk:.1f} us; in-process "
      f"{statistics.median(col('cpu_us')):.1f} us a hold (its buyer threads' included). "
      f"On {cores} cores, {server + wrk:.1f} us a request allows at most "
      f"{cores / (server + wrk) * 1e6:.0f} requests/s.")
share = lambda name: statistics.median([v / s * 100 for v, s in zip(col(name), col("secs"))])
print(f"The server's writer thread over the load: on a core {share('writer_on_s'):.0f}%, "
      f"waiting for one {share('writer_waiting_s'):.0f}%.")
PY
