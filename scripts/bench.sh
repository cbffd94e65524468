#!/usr/bin/env bash
# The verification benchmark: builds the worker and runs scripts/bench.mjs against it (Miniflare on
# 127.0.0.1, bounded request counts). Results are ratios against a baseline measured in the same
# run, since the machines are shared and noisy.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh
bash scripts/build.sh
node scripts/bench.mjs "$@"
