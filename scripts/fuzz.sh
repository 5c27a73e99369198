#!/usr/bin/env bash
# Bounded fuzzing of the WebSocket message decoder and of operation validation, on the
# stable toolchain: replays protocol/fuzz-corpus/, then mutates it for SECONDS (default
# 45, sized for CI's budget). Prints the seed and the iteration count; a failure prints
# the seed and iteration that replay it (docs/FUZZING.md).
#
#   scripts/fuzz.sh [SECONDS]
#   PAIRPROG_FUZZ_SEED=123 scripts/fuzz.sh 600    # a longer run from a chosen seed
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-45}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

# `--workspace` with only these test targets: the dependencies resolve with the same
# features as `cargo test --workspace`, so after it nothing is rebuilt (`-p` would pick
# other features for serde and friends and rebuild them).
tests=(--workspace --test fuzz --test fuzz_regressions)
cargo test "${tests[@]}" --no-run

# Run under a 2 GiB address-space cap: an allocation of a size a peer merely claims
# (gigabytes) then fails and aborts the run, instead of passing unnoticed on a machine
# that overcommits memory. The build above runs without the cap, as rustc needs more.
(
  ulimit -v $((2 * 1024 * 1024))
  PAIRPROG_FUZZ_SECONDS="$seconds" cargo test "${tests[@]}" -- --nocapture
)
