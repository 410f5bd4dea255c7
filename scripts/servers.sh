#!/usr/bin/env bash
# Starts a throwaway PostgreSQL and Redis on 127.0.0.1 for trying flashsale beyond one
# file, from Debian's packages (apt-get install -y postgresql redis-server), and prints
# the flags to pass. Nothing is downloaded. Stop them with: scripts/servers.sh stop
#
#   scripts/servers.sh            # start (PostgreSQL on :54329, Redis on :63799)
#   flashsale init  --db postgres://postgres@127.0.0.1:54329/flashsale
#   flashsale swarm --db postgres://postgres@127.0.0.1:54329/flashsale --gate redis://127.0.0.1:63799
#   scripts/servers.sh stop
set -euo pipefail
dir=${FLASHSALE_SERVERS:-/tmp/flashsale-servers}
pg_port=${PG_PORT:-54329}
redis_port=${REDIS_PORT:-63799}
bin=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }

if [ "${1:-start}" = stop ]; then
  [ -d "$dir/pg" ] && as_pg "$bin/pg_ctl" -D "$dir/pg" -m fast stop || true
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  rm -rf "$dir"
  exit 0
fi

mkdir -p "$dir"
if [ ! -d "$dir/pg" ]; then
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$dir -c max_connections=300" start >/dev/null
createdb -h 127.0.0.1 -p "$pg_port" -U postgres flashsale 2>/dev/null || true
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
echo "--db postgres://postgres@127.0.0.1:$pg_port/flashsale --gate redis://127.0.0.1:$redis_port"
