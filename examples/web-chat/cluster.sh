#!/usr/bin/env bash
# `pnpm web-chat:cluster`: the web chat served by three nodes of one cluster at once (examples/web-chat/cluster.ts),
# on the PostgreSQL at DATABASE_URL, or on a throwaway one (PostgreSQL 15 from /usr/lib/postgresql/15/bin,
# scripts/ensure-postgres.sh installs it) removed on exit. Pages on http://127.0.0.1:8787/, :8788/ and :8789/
# (WEB_CHAT_PORTS="a b c" to change them). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
ports=(${WEB_CHAT_PORTS:-8787 8788 8789})
pids=()
pg=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$pg" ]; then
    as_postgres "$bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pg"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bin=/usr/lib/postgresql/15/bin
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ -z "${DATABASE_URL:-}" ]; then
  [ -x "$bin/initdb" ] || { echo "web-chat: set DATABASE_URL, or install PostgreSQL 15 (scripts/ensure-postgres.sh)" >&2; exit 1; }
  pg="$(mktemp -d /tmp/chorus-web-chat-pg.XXXXXX)"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg"
  port="$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  as_postgres "$bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  as_postgres "$bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg -c max_connections=300" start >/dev/null
  as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres chorus
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/chorus"
  echo "web-chat: a throwaway PostgreSQL at $DATABASE_URL (removed on exit)"
fi

for i in "${!ports[@]}"; do
  PORT="${ports[$i]}" CLUSTER_PORT="$((34431 + i))" node --import tsx examples/web-chat/cluster.ts &
  pids+=("$!")
done
wait -n "${pids[@]}"
