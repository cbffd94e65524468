#!/usr/bin/env bash
# Every test: Rust unit tests of the pure logic (and of the benchmark's load generator), then the
# Miniflare integration tests against the built worker, once per store backend: D1 (build/), then
# Postgres (build-pg/, on a throwaway local Postgres started here by scripts/pg.sh, Debian's
# postgresql installed when missing; each test file gets a fresh database copied from a migrated
# template). Fails if any test fails.
#   KEYGATE_BACKEND=d1 | postgres   only that backend's pass (default: both)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh
backends=(d1 postgres)
[ -n "${KEYGATE_BACKEND:-}" ] && backends=("$KEYGATE_BACKEND")
echo "== cargo test (src/domain, src/api)"
cargo test --quiet
echo "== cargo test (tools/load, the benchmark's load generator)"
cargo test --quiet --manifest-path tools/load/Cargo.toml
for backend in "${backends[@]}"; do
  echo "== build ($backend)"
  KEYGATE_BACKEND=$backend bash scripts/build.sh
done
# A test file that hangs fails after 10 minutes, naming itself, instead of holding the run until
# CI's own limit (node applies --test-timeout to each file's process). Seen once in a fresh clone:
# verify-cache.test.mjs waited on nothing (no socket, no timer) after its setup. The slowest file
# takes ~100 s.
# The spec reporter ends with every failing test and its error, so the last lines of a failed run
# (all that a CI log may keep) say what failed and why.
node_test=(node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-600000}"
  --test-reporter=spec --test-reporter-destination=stdout tests/*.test.mjs)
for backend in "${backends[@]}"; do
  echo "== integration tests on $backend (Miniflare, node:test)"
  if [ "$backend" = postgres ]; then
    KEYGATE_BACKEND=postgres bash scripts/with-pg.sh "${node_test[@]}"
  else
    KEYGATE_BACKEND=d1 "${node_test[@]}"
  fi
done
