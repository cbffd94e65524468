# Shared environment of the npm scripts (sourced, not run).
# Node 22 and wrangler come from node_modules; cargo-installed tools from ~/.cargo/bin.
KEYGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$KEYGATE_ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export WRANGLER_LOG_PATH="${WRANGLER_LOG_PATH:-$KEYGATE_ROOT/.wrangler/logs}"
