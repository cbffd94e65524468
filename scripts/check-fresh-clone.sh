#!/usr/bin/env bash
# Checks that `npm run build` works on a fresh clone (issue 10, item 10): the committed tree is
# cloned into a temporary directory without node_modules or build output, and `npm run build`
# there must install what it needs and build the worker. Run by .ci/run.
#
# Without its setup step the build would look for wasm-opt in node_modules, find nothing, and make
# worker-build download it from GitHub (which CI machines cannot reach). The clone shares this
# checkout's cargo target directory (CARGO_TARGET_DIR) so the dependencies are not compiled twice.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
clone="$(mktemp -d)"
trap 'rm -rf "$clone"' EXIT
git clone --quiet --no-hardlinks "$KEYGATE_ROOT" "$clone/keygate"
cd "$clone/keygate"
git checkout --quiet "$(git -C "$KEYGATE_ROOT" rev-parse HEAD)"
[ ! -e node_modules ] && [ ! -e build ] || { echo "check-fresh-clone: the clone is not fresh" >&2; exit 1; }
# no tool from this checkout on PATH: only cargo's and the system's
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:/usr/local/bin:/usr/bin:/bin"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$KEYGATE_ROOT/target}"
unset WASM_BINDGEN_BIN WASM_OPT_BIN ESBUILD_BIN
npm run build
test -s build/index_bg.wasm && test -s build/index.js
echo "check-fresh-clone: npm run build works on a fresh clone"
