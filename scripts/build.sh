#!/usr/bin/env bash
# Builds the worker (build/index.js + build/keygate.mjs + build/index_bg.wasm) with no network
# access: worker-build would download wasm-bindgen and wasm-opt from GitHub, so point it at local
# ones (installed by scripts/setup.sh, which runs first: a fresh clone builds with `npm run build`).
# build/index.js is src/app/entry.mjs, the guard that answers a crashed request with the v1 error
# envelope, around worker-build's output (renamed build/keygate.mjs).
# Skips the build when build/ is newer than every input and was built with the same profile
# (wrangler dev runs this on start). KEYGATE_DEV_BUILD=1 builds the unoptimised dev profile
# (seconds instead of minutes when iterating; never for deploys or benchmarks).
# KEYGATE_BACKEND=postgres builds the worker with the Postgres backend (cargo feature `postgres`,
# about 165 KB more gzipped) into build-pg/ instead; that build serves D1 too when no HYPERDRIVE
# is bound.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
bash scripts/setup.sh
dir=build
features=()
case "${KEYGATE_BACKEND:-d1}" in
  d1) ;;
  postgres) dir=build-pg; features=(--features postgres) ;;
  *) echo "build: KEYGATE_BACKEND must be d1 or postgres, not '$KEYGATE_BACKEND'" >&2; exit 2 ;;
esac
out=$dir/index_bg.wasm
profile=release
[ -n "${KEYGATE_DEV_BUILD:-}" ] && profile=dev
[ -n "${KEYGATE_KEEP_NAMES:-}" ] && profile=release-names
if [ -z "${KEYGATE_FORCE_BUILD:-}" ] && [ -f "$out" ] && [ -f "$dir/index.js" ] \
  && [ -f "$dir/keygate.mjs" ] && [ "$(cat "$dir/.profile" 2>/dev/null)" = "$profile" ] \
  && [ -z "$(find src Cargo.toml Cargo.lock -newer "$out" -print -quit)" ]; then
  echo "build: up to date ($out, $profile)"
  exit 0
fi
# the OpenAPI documents the worker serves and validates with are generated from the Rust types
# natively (cargo test); regenerate them so a build never embeds a stale one
UPDATE_OPENAPI=1 cargo test --quiet --lib openapi_snapshot >/dev/null
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$KEYGATE_ROOT/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$KEYGATE_ROOT/node_modules/esbuild/bin/esbuild}"
if [ "$profile" = dev ]; then
  worker-build --dev --out-dir "$dir" "$@" . "${features[@]}"
else
  worker-build --release --out-dir "$dir" "$@" . "${features[@]}"
  # KEYGATE_KEEP_NAMES=1 keeps the function names (for a CPU profile; not for deploys)
  [ -n "${KEYGATE_KEEP_NAMES:-}" ] || node scripts/strip-names.mjs "$out"
fi
mv "$dir/index.js" "$dir/keygate.mjs"
cp src/app/entry.mjs "$dir/index.js"
echo "$profile" > "$dir/.profile"
echo "build: $(wc -c < "$out") bytes of wasm ($(gzip -c "$out" | wc -c) gzipped, $profile)"
