#!/usr/bin/env bash
# Serves keygate locally (wrangler dev, embedded local D1) on 127.0.0.1:${PORT:-8787}.
# First run: generates ADMIN_TOKEN and ENCRYPTION_KEY in .dev.vars (unless set in the environment),
# creates workspace "default" with a root key holding "*", and prints both.
# KEYGATE_BACKEND=postgres: the Postgres build on a throwaway local Postgres instead (scripts/pg.sh;
# Debian's postgresql installed when missing), reached as wrangler dev reaches Hyperdrive locally;
# its data (and so the root key, printed on every start) lasts until the server stops.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh

PORT="${PORT:-8787}"
var_args=()
if [ -n "${ADMIN_TOKEN:-}" ]; then
  var_args=(--var "ADMIN_TOKEN:$ADMIN_TOKEN")
else
  if ! grep -qs '^ADMIN_TOKEN=' .dev.vars; then
    echo "ADMIN_TOKEN=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))')" >> .dev.vars
    echo "start: generated ADMIN_TOKEN in .dev.vars"
  fi
  ADMIN_TOKEN="$(grep '^ADMIN_TOKEN=' .dev.vars | head -n 1 | cut -d= -f2-)"
fi
export ADMIN_TOKEN PORT
# the master key of recoverable keys (32 random bytes, base64); ENCRYPTION_KEYS (newest first)
# from the environment is passed on as it is
if [ -n "${ENCRYPTION_KEYS:-}" ]; then
  var_args+=(--var "ENCRYPTION_KEYS:$ENCRYPTION_KEYS")
fi
if [ -n "${ENCRYPTION_KEY:-}" ]; then
  var_args+=(--var "ENCRYPTION_KEY:$ENCRYPTION_KEY")
elif ! grep -qs '^ENCRYPTION_KEY=' .dev.vars; then
  echo "ENCRYPTION_KEY=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64"))')" >> .dev.vars
  echo "start: generated ENCRYPTION_KEY in .dev.vars"
fi

marker=.wrangler/state/keygate-bootstrap.json
env_args=()
case "${KEYGATE_BACKEND:-d1}" in
  d1)
    bash scripts/build.sh
    wrangler d1 migrations apply keygate --local
    ;;
  postgres)
    KEYGATE_BACKEND=postgres bash scripts/build.sh
    source scripts/pg.sh
    pg_start
    trap pg_stop EXIT
    pg_template keygate
    export CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE="$KEYGATE_PG_URL/keygate"
    echo "start: Postgres at $KEYGATE_PG_URL/keygate (throwaway: gone when this stops)"
    marker="$PG_DIR/keygate-bootstrap.json"
    env_args=(--env postgres)
    ;;
  *) echo "start: KEYGATE_BACKEND must be d1 or postgres, not '$KEYGATE_BACKEND'" >&2; exit 2 ;;
esac

wrangler dev --ip 127.0.0.1 --port "$PORT" "${env_args[@]}" "${var_args[@]}" &
wrangler_pid=$!
trap 'kill "$wrangler_pid" 2>/dev/null || true; wait "$wrangler_pid" 2>/dev/null || true; [ "${KEYGATE_BACKEND:-d1}" != postgres ] || pg_stop' EXIT INT TERM

url="http://127.0.0.1:$PORT"
for _ in $(seq 1 240); do
  if curl -sf "$url/v1/liveness" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$wrangler_pid" 2>/dev/null; then
    echo "start: wrangler dev exited" >&2
    exit 1
  fi
  sleep 0.5
done
curl -sf "$url/v1/liveness" >/dev/null || { echo "start: keygate did not come up on $url" >&2; exit 1; }

if [ ! -f "$marker" ]; then
  KEYGATE_URL="$url" node scripts/bootstrap.mjs --save "$marker"
else
  KEYGATE_URL="$url" node scripts/bootstrap.mjs --show "$marker"
fi
wait "$wrangler_pid"
