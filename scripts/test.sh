#!/usr/bin/env bash
# Every test: Rust unit tests of the pure logic, then the Miniflare integration tests against the
# built worker. Fails if any test fails.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh
echo "== cargo test (src/domain, src/api)"
cargo test --quiet
echo "== build"
bash scripts/build.sh
echo "== integration tests (Miniflare, node:test)"
node --test --test-concurrency="${TEST_CONCURRENCY:-2}" tests/*.test.mjs
