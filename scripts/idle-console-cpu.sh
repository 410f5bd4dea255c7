#!/usr/bin/env bash
# How much of a core an idle console costs on a sale a naive run oversold, after every
# hold it took has expired (issue 8, item 14: the sweeper used to spin on such a sale).
#
#   scripts/idle-console-cpu.sh [BINARY] [SECONDS]
#
# BINARY defaults to target/release/flashsale; SECONDS (how long to watch) to 30.
# Needs tmux (the console wants a terminal). Prints the CPU share and the console's
# log size: an idle console should stay well under 1% of a core and log nothing.
set -euo pipefail
bin=$(realpath "${1:-target/release/flashsale}")
seconds=${2:-30}
dir=$(mktemp -d)
session="flashsale-idle-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
# 5,000 buyers oversell 50 units; everybody walks away; holds last 2 s.
"$bin" swarm --strategy naive --stock 50 --buyers 5000 --abandon 1 --hold-ttl 2s >/dev/null
sleep 3
tmux new-session -d -s "$session" -x 120 -y 40 \
    "exec $bin --db $dir/flashsale.db --log $dir/console.log"
sleep 5 # the console starts and sweeps what is due
pid=$(tmux display -p -t "$session" '#{pane_pid}')
ticks=$(getconf CLK_TCK)
before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep "$seconds"
after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
awk -v t=$((after - before)) -v hz="$ticks" -v s="$seconds" \
    'BEGIN { printf "idle console: %.2f%% of a core over %d s\n", 100 * t / hz / s, s }'
echo "console log: $(wc -l <console.log) lines"
"$bin" --db "$dir/flashsale.db" audit | tail -2 || true
