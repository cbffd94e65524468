#!/usr/bin/env bash
# Installs whatever keygate needs that is missing; a no-op when everything is present.
#   - the wasm32-unknown-unknown Rust target
#   - worker-build (cargo), wasm-bindgen-cli at the exact version in Cargo.lock (cargo)
#   - npm packages (Node 22, wrangler, miniflare@4, binaryen's wasm-opt, the @unkey/api SDK)
#   - with --fuzz: the contract fuzzer, schemathesis, in a Python virtualenv (.venv/) from PyPI,
#     every package pinned in scripts/fuzz-requirements.txt
# Nothing here needs GitHub: see the *_BIN variables in scripts/build.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"

WORKER_BUILD_VERSION=0.8.7

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
  echo "setup: installing worker-build $WORKER_BUILD_VERSION (takes a few minutes once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ -z "$WASM_BINDGEN_VERSION" ]; then
  echo "setup: no wasm-bindgen version in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes a few minutes once)"
  # no --locked: the CLI's lock file names crate versions a registry mirror may lack
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# npm ci when node_modules is missing or older than package-lock.json
stamp=node_modules/.keygate-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: installing npm packages"
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
    # what a newcomer sees first: say why npm's EBADENGINE warnings are harmless here
    echo "setup: npm may warn (EBADENGINE) that Node $(node -v) is older than wrangler and Miniflare need;" \
      "keygate runs them on the Node 22 it installs into node_modules (package.json), not on this one"
  fi
  npm ci --no-audit --no-fund
  touch "$stamp"
fi

# the contract fuzzer (npm run fuzz): a virtualenv from the pinned requirements, when they changed
if [ "${1:-}" = "--fuzz" ]; then
  stamp=.venv/.keygate-installed
  if [ ! -f "$stamp" ] || [ scripts/fuzz-requirements.txt -nt "$stamp" ]; then
    echo "setup: installing schemathesis into .venv (pinned in scripts/fuzz-requirements.txt)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/fuzz-requirements.txt
    touch "$stamp"
  fi
fi
