#!/usr/bin/env bash
# Creates a workspace "default" and a root key holding "*" on a running keygate, and prints them.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$KEYGATE_ROOT"
if [ -z "${ADMIN_TOKEN:-}" ] && grep -qs '^ADMIN_TOKEN=' .dev.vars; then
  ADMIN_TOKEN="$(grep '^ADMIN_TOKEN=' .dev.vars | head -n 1 | cut -d= -f2-)"
  export ADMIN_TOKEN
fi
exec node scripts/bootstrap.mjs "$@"
