#!/usr/bin/env bash
# The verification benchmark: builds the release worker and runs scripts/bench.mjs (Miniflare on
# 127.0.0.1, load from keygate-load in a separate process: tools/load, which scripts/bench/load.mjs
# builds with cargo).
#   npm run bench -- --backend postgres   the same on Postgres (through the Hyperdrive binding)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh
unset KEYGATE_DEV_BUILD
# --backend postgres: the Postgres build against a throwaway local Postgres (scripts/pg.sh)
backend=d1
prev=
for a in "$@"; do
  [ "$prev" = --backend ] && backend=$a
  prev=$a
done
export KEYGATE_BACKEND=$backend
bash scripts/build.sh
if [ "$backend" = postgres ]; then
  bash scripts/with-pg.sh node scripts/bench.mjs "$@"
else
  node scripts/bench.mjs "$@"
fi
