#!/usr/bin/env bash
# Runs a command next to a throwaway local Postgres (scripts/pg.sh): it gets KEYGATE_PG_URL and a
# migrated template database (KEYGATE_PG_TEMPLATE=kg_template); the server is gone afterwards.
#   KEYGATE_BACKEND=postgres bash scripts/with-pg.sh node --test tests/verify.test.mjs
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$KEYGATE_ROOT/scripts/pg.sh"
pg_start
trap pg_stop EXIT
export KEYGATE_PG_TEMPLATE=kg_template
pg_template "$KEYGATE_PG_TEMPLATE" >/dev/null
"$@"
