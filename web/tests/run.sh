#!/usr/bin/env bash
# Every check and test of the web client: npm ci, tsc, eslint, unit tests (including the
# vectors computed by the Rust algebra), the committed bundle against a fresh build, and
# the end-to-end tests in Debian's Chromium against the pairprog-relay binary named by
# PAIRPROG_RELAY_BIN (which must have been built from this tree: it embeds web/dist).
#
# What it installs when missing: the npm dev dependencies (npm ci, into node_modules)
# and, only with PAIRPROG_INSTALL_DEPS=1, Debian's chromium through apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }
step() { printf '\n--> %s\n' "$*"; }

command -v node >/dev/null || die "node is not on PATH: install Node.js 20."
command -v npm >/dev/null || die "npm is not on PATH: install Node.js 20 with npm."

step "npm ci"
# playwright-core never downloads a browser; the flag only silences its check.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

step "tsc --noEmit"
npm run -s typecheck
step "eslint"
npm run -s lint
step "unit tests"
log=$(mktemp)
npm run -s test:unit 2>&1 | tee "$log" | grep -E '^# (tests|pass|fail)|^not ok' || true
grep -q '^# fail 0' "$log" || { cat "$log"; die "unit tests failed (see above)"; }
rm -f "$log"

step "the committed bundle equals a fresh build"
fresh=$(mktemp -d)
node build.mjs "$fresh"
if ! diff -r "$fresh" dist >/dev/null; then
  diff -r "$fresh" dist | head -5 || true
  rm -rf "$fresh"
  die "web/dist differs from a fresh build: run 'npm ci && npm run build' in web/ and commit web/dist"
fi
rm -rf "$fresh"
echo "web/dist is reproducible"

step "end-to-end in Chromium"
: "${PAIRPROG_RELAY_BIN:?PAIRPROG_RELAY_BIN must name a built pairprog-relay}"
chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  if [ "${PAIRPROG_INSTALL_DEPS:-0}" = 1 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    die "missing $chromium_bin: apt-get install chromium (or run with PAIRPROG_INSTALL_DEPS=1)"
  fi
fi
# The whole end-to-end run is bounded even if a wait inside it were not.
CHROMIUM="$chromium_bin" timeout 180 node test/e2e/run.mjs
