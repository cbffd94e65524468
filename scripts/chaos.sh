#!/usr/bin/env bash
# The crash test (npm run chaos): installs what it needs, builds the worker, then runs
# scripts/chaos.mjs (kill -9 in the middle of concurrent verifications, restart, balance check).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh
bash scripts/build.sh
node scripts/chaos.mjs "$@"
