#!/usr/bin/env python3
"""Keystroke latency between two Neovims over loopback (a benchmark, not a test).

A real pairprog-relay and two headless Neovims with the plugin, in one room. One at a
time, a key goes into A (nvim_input, insert mode); B records, from a buffer on_lines
callback, when the character lands in its buffer. Both clocks are CLOCK_MONOTONIC
(Python's time.monotonic_ns, libuv's hrtime), so the difference is the latency:

  input → B    from the controller's nvim_input to A, until B's buffer has the character
  change → B   from A's own on_lines (the change is in A's buffer) until B's

Run (with the venv of tests/run.sh):
  ~/.cache/pairprog/nvim-venv/bin/python editors/neovim/bench/latency.py [--keys 500]
Binaries: PAIRPROG_LSP_BIN, PAIRPROG_RELAY_BIN (default target/debug/…)."""

import argparse
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness  # noqa: E402
from harness import Nvim, Relay  # noqa: E402

PATH = "bench.txt"
STAMP = """
_G.stamps = {}
vim.api.nvim_buf_attach(0, false, { on_lines = function()
  table.insert(_G.stamps, vim.uv.hrtime())
end })
"""


def percentile(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary(name, ms):
    return (
        f"{name:<11} median {statistics.median(ms):7.2f} ms   p90 {percentile(ms, 90):7.2f}   "
        f"p99 {percentile(ms, 99):7.2f}   max {max(ms):7.2f}   mean {statistics.mean(ms):7.2f}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=20)
    args = ap.parse_args()

    tmp = harness.tempdir()
    relay = Relay(tmp)
    eds = []
    try:
        ws_a = harness.make_workspace(tmp, "ws-a", {PATH: "bench\n"})
        ws_b = harness.make_workspace(tmp, "ws-b", {PATH: "bench\n"})
        a = Nvim("alice", tmp, ws_a, [PATH], relay.ws)
        eds.append(a)
        b = Nvim("bob", tmp, ws_b, [PATH], relay.ws)
        eds.append(b)
        a.wait_ready()
        b.wait_ready()
        room = a.lua(
            "local done, room; require('pairprog').create(function(e, r) done, room = true, r end);"
            "vim.wait(10000, function() return done end, 5); return room"
        )
        assert room, "no room"
        ok = b.lua(
            "local done, err; require('pairprog').join(..., function(e) done, err = true, e end);"
            "vim.wait(10000, function() return done end, 5);"
            "return not err and vim.wait(10000, function() return #require('pairprog').presence().participants == 1 end, 5)",
            room,
        )
        assert ok, "B did not join"
        a.lua(STAMP)
        b.lua(STAMP)
        a.input("GA")
        a.wait_lua("return vim.api.nvim_get_mode().mode == 'i'", 5, "insert mode")

        total = args.warmup + args.keys
        input_ms, change_ms = [], []
        letters = "abcdefghijklmnopqrstuvwxyz"
        for i in range(total):
            n_b = b.lua("return #_G.stamps")
            n_a = a.lua("return #_G.stamps")
            t0 = time.monotonic_ns()
            a.input(letters[i % 26])
            arrived = b.lua(
                "local n = ...; if not vim.wait(10000, function() return #_G.stamps > n end, 1) then return nil end;"
                "return _G.stamps[n + 1]",
                n_b,
            )
            if arrived is None:
                raise RuntimeError(f"keystroke {i} did not reach B within 10 s")
            t_a = a.lua("local n = ...; vim.wait(1000, function() return #_G.stamps > n end, 1); return _G.stamps[n + 1]", n_a)
            if i >= args.warmup:
                input_ms.append((arrived - t0) / 1e6)
                change_ms.append((arrived - t_a) / 1e6)
        a.input("<Esc>")
        harness.wait_until(lambda: a.text() == b.text(), 10, "A and B equal")
        print(
            f"pairprog Neovim keystroke latency, A → relay (127.0.0.1, SQLite) → B: {args.keys} keystrokes "
            f"after {args.warmup} warm-up, one at a time"
        )
        print(summary("input → B", input_ms))
        print(summary("change → B", change_ms))
    finally:
        for ed in eds:
            ed.quit()
            ed.kill()
        relay.stop()
        harness.cleanup(tmp)


if __name__ == "__main__":
    main()
