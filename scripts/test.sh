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
cargo test --workspace
