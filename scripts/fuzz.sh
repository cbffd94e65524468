#!/usr/bin/env bash
# Contract fuzzing (npm run fuzz): installs what it needs (the tools and, with --fuzz, schemathesis
# in .venv/), builds the worker, then runs scripts/fuzz.mjs against a freshly started local server.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh --fuzz
bash scripts/build.sh
node scripts/fuzz.mjs "$@"
