# A throwaway local Postgres for the tests, `KEYGATE_BACKEND=postgres npm start` and the benchmark
# (sourced, not run). Debian's `postgresql` package (installed when initdb is missing), a fresh
# cluster in a temporary directory, listening on 127.0.0.1 only, on a free port; trust auth.
#   pg_start   starts it and exports KEYGATE_PG_URL (postgres://postgres:postgres@127.0.0.1:<port>,
#              no database; Miniflare wants a password even where the server ignores it)
#   pg_stop    stops it and removes its directory
#   pg_template NAME   creates database NAME with keygate's Postgres migrations applied
# PG_MAX_CONNECTIONS (default 1000): the concurrency tests hold several hundred connections (each
# request one, and each usage-limiter write another).

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_install() {
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] && return 0
  echo "pg: installing Debian's postgresql (initdb is missing)"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
  [ -x "$(pg_bin)/initdb" ] || { echo "pg: no initdb after installing postgresql" >&2; return 1; }
}

pg_start() {
  pg_install || return 1
  local bin as=()
  bin="$(pg_bin)"
  PG_DIR="$(mktemp -d -t keygate-pg.XXXXXX)"
  # initdb refuses to run as root: the cluster belongs to the postgres user then
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PG_DIR"
    as=(runuser -u postgres --)
  fi
  PG_AS=("${as[@]}")
  if ! "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    return 1
  fi
  local port
  for _ in 1 2 3 4 5; do
    port="${PGPORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})')}"
    if "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 30 start -o \
      "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=${PG_MAX_CONNECTIONS:-1000}" \
      >/dev/null; then
      export KEYGATE_PG_URL="postgres://postgres:postgres@127.0.0.1:$port"
      export PG_DIR
      return 0
    fi
  done
  cat "$PG_DIR/log" >&2
  return 1
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  unset PG_DIR KEYGATE_PG_URL
}

pg_template() {
  node "$KEYGATE_ROOT/scripts/pg-migrate.mjs" --create "$KEYGATE_PG_URL/$1"
}
