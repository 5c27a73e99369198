#!/usr/bin/env python3
"""The real-editor matrix: one room, four real editors typed into with real keys.

  alice, bob  Neovim 0.11 with the plugin (editors/neovim)
  carol       Neovim 0.11 with only the README's plugin-less recipe
  emma        Emacs 28 + Eglot 1.9 with the README's Emacs recipe

against a real pairprog-relay and the real pairprog-lsp (room.py, editors.py). Every
scenario ends with the same judgement: after quiet, every editor's buffer equals the
relay's stored text, and the relay's revision stops rising. Scenarios run in order in one
room; after a failure the editors start again in a fresh room, so that later scenarios
still judge something.

KNOWN_FAILING (below, or PAIRPROG_MATRIX_KNOWN_FAILING=id,id) names scenarios whose
failure is a known, reported bug: such a failure prints "KNOWN FAILING: ..." and does not
fail the run; a known-failing scenario that passes says so, loudly. PAIRPROG_MATRIX_ONLY=
id,id runs only those. Prints one line per scenario and a closing 'N passed, N failed';
exits non-zero on any unexpected failure."""

import glob
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import editors as E  # noqa: E402
from editors import wait_until  # noqa: E402
from room import PATH, TYPING_SECS, Room, count_once, exactly_once, wait_lua  # noqa: E402

# Scenario id -> the reported bug that makes it fail today (each prints KNOWN FAILING when
# it fails; never silently skipped). Remove an entry once its bug is fixed.
KNOWN_FAILING: dict[str, str] = {
    # Fails in most runs; no keystroke is lost. Bob and Carol each insert a line break at
    # offset 0 and then type at their cursor, in Insert mode. One of the two line breaks
    # is sequenced first, so one user receives the other's line break exactly at their
    # cursor, and Neovim in Insert mode keeps the cursor in front of text inserted at it
    # (checked with pynvim: `O`, then nvim_buf_set_text of a line break at the cursor
    # leaves it on the first line; in Normal mode the cursor moves past). That user then types
    # on the other's line, whichever way the relay orders the two line breaks. In one
    # such run the relay's log was: Bob "\n"@0, Carol "\n"@0 (placed first), Bob "LINE_B"@0,
    # Carol "LINE_C"@0: `LINE_CLINE_B`, then an empty line. No tie rule in the OT changes
    # this: both buffers hold the same text, and only moving a cursor would. The plugin
    # could push its own user's cursor past a remote insertion at it, but should not:
    # with that gravity, two users typing at one place take turns char by char and their
    # words interleave (`hBeOlBlo`), where Neovim's gravity keeps each word whole. A
    # plugin-less Neovim's cursor is out of reach anyway, so this stays listed. Not fixed.
    "same-keys-lines": "two users' words glued on one line when both press O at the top at once",
}
for _id in filter(None, os.environ.get("PAIRPROG_MATRIX_KNOWN_FAILING", "").split(",")):
    KNOWN_FAILING.setdefault(_id.strip(), "named in PAIRPROG_MATRIX_KNOWN_FAILING")

SEED = int(os.environ.get("PAIRPROG_SEED", str(random.randrange(1 << 30))))


def not_blocked(*eds):
    """No Neovim is stopped at a prompt (hit-enter, more, confirm)."""
    for ed in eds:
        mode = ed.mode()
        assert not mode.get("blocking"), f"{ed.name} blocks at mode {mode['mode']!r}: {ed.tmux.screen(ed.name)[-300:]!r}"


def s_concurrent(r, rng):
    eds = [r.alice, r.bob, r.carol, r.emma]
    tokens = r.type_tokens(eds, TYPING_SECS, rng)
    text, rev = r.quiet("after concurrent typing")
    exactly_once(text, tokens)
    return f"{len(tokens)} tokens by 4 editors, each exactly once; {len(text)} chars, revision {rev} stays"


def s_normal_mode(r, rng):
    a, b, c, e = r.alice, r.bob, r.carol, r.emma
    before = r.converged("before the normal-mode edits")
    n = before.count("\n")
    a.keys("<Esc>3Gdd")
    r.converged_until(lambda t: t.count("\n") == n - 1, "alice's dd everywhere")
    b.keys("<Esc>1GyyGp")
    r.converged_until(lambda t: t.count("\n") == n, "bob's yy G p everywhere")
    a.keys("u")
    r.converged("after alice's u")
    c.keys("<Esc>gg0<C-v>2jI# <Esc>")
    r.converged_until(lambda t: t.startswith("# "), "carol's visual block everywhere")
    b.keys(":%s/line_/L_/g<CR>")
    r.converged_until(lambda t: "line_" not in t, "bob's :%s everywhere")
    c.keys("gg=G")
    r.converged("after carol's gg=G")
    # Emacs: kill a line, yank it back twice, undo once.
    e.keys("M-<", "C-n", "C-a", "C-k", "C-k", "C-y", "C-y", "C-_")
    # All at once: the same kinds of edits by three editors together.
    a.keys("<Esc>5Gddp")
    b.keys("<Esc>2Gyy4Gp")
    c.keys("<Esc>:%s/L_/line_/g<CR>")
    text, rev = r.quiet("after the normal-mode edits")
    return f"dd, yy+p, u, visual block I, :%s, gg=G, Emacs C-k/C-y/undo, then 3 at once; revision {rev} stays"


def s_appends(r, rng):
    a, b, c, e = r.alice, r.bob, r.carol, r.emma
    a.keys("<Esc>GoEND_A<Esc>")
    wait_until(lambda: "END_A" in (r.text(c) or ""), 10, "alice's END_A in carol's buffer")
    c.keys("<Esc>GoEND_C<Esc>")
    # Everyone has it before emma goes to the end: her END_E must come after it.
    r.converged_until(lambda t: t.endswith("END_C\n"), "carol's END_C everywhere")
    e.keys("M->")
    e.type("END_E")
    e.keys("Enter")
    r.converged_until(lambda t: t.endswith("END_E\n"), "emma's END_E everywhere")
    b.keys("<Esc>ggOSTART_B<Esc>")
    r.converged_until(lambda t: t.startswith("START_B\n"), "bob's START_B everywhere")
    e.keys("M-<")
    e.type("START_E")
    e.keys("Enter")
    r.converged_until(lambda t: t.startswith("START_E\n"), "emma's START_E everywhere")
    c.keys("<Esc>ggOSTART_C<Esc>")
    markers = ["END_A", "END_C", "END_E", "START_B", "START_E", "START_C"]
    text, rev = r.quiet("after appends at the end and the start")
    count_once(text, markers)
    return f"{len(markers)} lines appended at the end and the start, each once; revision {rev} stays"


def open_a_line_at_the_top_at_once(r, word_b, word_c, what):
    """Bob and Carol each press `O` at the top and type a word, at once. Returns the text
    before, the text after quiet (each word in it exactly once) and its revision."""
    b, c = r.bob, r.carol
    before = r.converged(f"before {what}")
    b.keys(f"<Esc>ggO{word_b}<Esc>")
    c.keys(f"<Esc>ggO{word_c}<Esc>")
    text, rev = r.quiet(f"after {what}")
    count_once(text, [word_b, word_c])
    return before, text, rev


def s_same_keys(r, rng):
    # Two users press the same keys at the same place at once (O at the top, then a word
    # starting with the same letters): the first keystrokes of both are the same text at
    # the same position, and neither may be taken for the echo of the other. Every
    # keystroke must survive; how the two lines interleave is the OT's choice (both
    # insert at offset 0), so only what was typed is checked.
    before, text, rev = open_a_line_at_the_top_at_once(r, "SAME_B", "SAME_C", "the same keys")
    added = len(text) - len(before)
    assert added == 14 and text.count("\n") == before.count("\n") + 2, (
        f"{added} characters added, 14 typed; first lines now {text.splitlines()[:3]}"
    )
    return f"both users' 14 keystrokes survive, each once; revision {rev} stays"


def s_same_keys_lines(r, rng):
    # The same keys again, judged as the users see them: each opened a line of their own,
    # so each word must be a line of its own, not glued to the other's.
    _, text, rev = open_a_line_at_the_top_at_once(r, "LINE_B", "LINE_C", "the same keys, for lines")
    lines = text.splitlines()
    assert "LINE_B" in lines and "LINE_C" in lines, f"each word on a line of its own; first lines now {lines[:3]}"
    return f"each user's word is a line of its own; revision {rev} stays"


def s_rejoin(r, rng):
    a, b = r.alice, r.bob
    b.keys("<Esc>:Pairprog leave<CR>")
    wait_lua(b, "return require('pairprog').presence().room == nil", 10, "bob out of the room")
    a.keys("<Esc>GoWHILE_BOB_AWAY<Esc>")
    wait_until(lambda: "WHILE_BOB_AWAY" in (r.text(r.emma) or ""), 10, "alice's line in emma's buffer")
    b.keys(f":Pairprog join {r.room}<CR>")
    wait_lua(b, "return require('pairprog').presence().connection == 'connected'", 10, "bob back in")
    r.converged("bob's buffer after rejoining")
    b.keys("GoREJOIN_END_B<Esc>")
    b.keys("ggOREJOIN_TOP_B<Esc>")
    text, rev = r.quiet("after bob left, rejoined and typed")
    count_once(text, ["WHILE_BOB_AWAY", "REJOIN_END_B", "REJOIN_TOP_B"])
    st = status(b)
    docs = st.get("documents") or []
    assert docs and all(d.get("synced") for d in docs) and st.get("pendingEdits") == 0, f"bob's status {st}"
    return f"bob's lines after rejoining reached everyone once; status synced; revision {rev} stays"


def status(ed):
    return ed.lua(
        "local done, res; require('pairprog').status(function(e, r) done, res = true, r or e end);"
        "vim.wait(5000, function() return done end, 10); return res"
    )


def s_relay_restart(r, rng):
    eds = [r.alice, r.bob, r.carol, r.emma]
    events = []

    def during(elapsed):
        if not events and elapsed > 1.0:
            r.relay.kill()
            events.append(("killed", elapsed))
        elif len(events) == 1 and elapsed > 2.5:
            r.relay.start()
            events.append(("started", elapsed))

    tokens = r.type_tokens(eds, max(TYPING_SECS, 4.0), rng, during)
    text, rev = r.quiet("after the relay was SIGKILLed and restarted")
    exactly_once(text, tokens)
    not_blocked(r.alice, r.bob)
    return (
        f"relay SIGKILLed at {events[0][1]:.1f}s, restarted at {events[1][1]:.1f}s of typing; "
        f"{len(tokens)} tokens each exactly once; revision {rev} stays; no plugin Neovim blocked"
    )


def recovered(ed):
    return sorted(glob.glob(os.path.join(ed.data_dir, "recovered", "**", "*"), recursive=True))


def s_join_empty(r, rng):
    ws = r.workspace(f"ws-dave-{r.relay.port}-{len(r.extra)}", {})
    d = E.Nvim(r.tmux, f"dave{len(r.extra)}", r.tmp, ws, [], r.relay.ws, plugin=True)
    r.extra.append(d)
    d.keys(f":Pairprog join {r.room}<CR>")
    wait_lua(d, "return require('pairprog').presence().connection == 'connected'", 15, "dave connected")
    d.keys(f":e {PATH}<CR>")
    r.converged("dave's app.py after joining from an empty folder")
    not_blocked(d)
    files = [f for f in recovered(d) if os.path.isfile(f)]
    assert not files, f"recovered copies written for a file that did not exist: {files}"
    d.keys("GoFROM_DAVE<Esc>")
    text, rev = r.quiet("after dave typed")
    count_once(text, ["FROM_DAVE"])
    d.quit()
    r.extra.remove(d)
    return f"dave got the room's {PATH} in an empty folder, no recovered copy, typed once; revision {rev} stays"


def s_join_different(r, rng):
    mine = "erin's own copy\n"
    ws = r.workspace(f"ws-erin-{r.relay.port}-{len(r.extra)}", {PATH: mine})
    d = E.Nvim(r.tmux, f"erin{len(r.extra)}", r.tmp, ws, [PATH], r.relay.ws, plugin=True)
    r.extra.append(d)
    wait_lua(d, "local c = require('pairprog').client() return c and c.initialized", 15, "erin's pairprog-lsp")
    d.keys(f":Pairprog join {r.room}<CR>")
    wait_lua(d, "return require('pairprog').presence().connection == 'connected'", 15, "erin connected")
    r.converged("erin's app.py after joining with a different copy")
    not_blocked(d)
    copies = [f for f in recovered(d) if os.path.isfile(f)]
    assert len(copies) == 1, f"expected one recovered copy, found {copies}"
    with open(copies[0], encoding="utf-8") as f:
        assert f.read() == mine, "the recovered copy does not hold erin's text"
    d.keys("GoFROM_ERIN<Esc>")
    text, rev = r.quiet("after erin typed")
    count_once(text, ["FROM_ERIN"])
    d.keys(f":split {copies[0]}<CR>")
    ft = wait_until(lambda: d.lua("return vim.bo.filetype ~= '' and vim.bo.filetype"), 5, "a file type")
    assert ft == "python", f"recovered copy has file type {ft!r}"
    d.quit()
    r.extra.remove(d)
    return f"room's text replaced erin's, her copy kept once ({os.path.basename(copies[0])}, filetype {ft}); typed once"


def s_messages(r, rng):
    a, b = r.alice, r.bob
    n = a.lua("return require('pairprog.message').count")
    a.keys("<Esc>:Pairprog status<CR>")
    wait_lua(a, f"return require('pairprog.message').count > {n}", 10, "alice's status message")
    not_blocked(a)
    b.keys("<Esc>GoAFTER_STATUS<Esc>")
    wait_until(lambda: "AFTER_STATUS" in (r.text(a) or ""), 10, "bob's line in alice's buffer with no key pressed")
    not_blocked(a, b)
    r.quiet("after :Pairprog status")
    return "after create, join, status: no prompt, remote edits applied with no key pressed"


SCENARIOS = [
    ("concurrent", "4 editors type unique tokens at once", s_concurrent),
    ("normal-mode", "dd, p, u, visual block, :%s, gg=G, Emacs kill/yank/undo", s_normal_mode),
    ("appends", "appends at the end of the file (GoEND<Esc>) and at its start", s_appends),
    ("same-keys", "two users open a line at the top at once (ggO + a word)", s_same_keys),
    ("same-keys-lines", "two users open a line at the top at once: two lines", s_same_keys_lines),
    ("messages", "messages never block keys or edits (plugin)", s_messages),
    ("rejoin", "plugin Neovim leaves, rejoins, types", s_rejoin),
    ("relay-restart", "relay SIGKILL + restart while 4 editors type", s_relay_restart),
    ("join-empty", "joining from an empty folder, then :e app.py", s_join_empty),
    ("join-different", "joining from a folder with a different copy", s_join_different),
]


def on_term(signum, frame):
    # run.sh's time limit: unwind, so the finally below stops the editors and the relay.
    raise SystemExit(f"stopped by signal {signum}")


def main():
    signal.signal(signal.SIGTERM, on_term)
    start = time.monotonic()
    only = set(filter(None, os.environ.get("PAIRPROG_MATRIX_ONLY", "").split(",")))
    print(f"seed {SEED} (PAIRPROG_SEED={SEED} replays the typing pace)", flush=True)
    tmp = tempfile.mkdtemp(prefix="pairprog-matrix-")
    tmux = relay = room = None
    results = []
    generation = 0
    try:
        relay = E.Relay(tmp)
        tmux = E.Tmux(tmp)
        for sid, title, fn in SCENARIOS:
            if only and sid not in only:
                continue
            t0 = time.monotonic()
            rng = random.Random(SEED + len(results))
            try:
                if room is None:
                    generation += 1
                    room = Room(tmp, tmux, relay, generation)
                    room.open()
                detail = fn(room, rng)
                ok = True
            except Exception as e:  # noqa: BLE001 - every failure is reported
                ok, detail = False, f"{type(e).__name__}: {e}"
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
                if room:
                    room.close()
                room = None
            secs = time.monotonic() - t0
            known = KNOWN_FAILING.get(sid)
            if ok and known:
                print(f"  ok    {sid}: {title} ({secs:.1f}s): {detail}\n"
                      f"        listed in KNOWN_FAILING but passed this time: once it passes every time, "
                      f"remove '{sid}' from KNOWN_FAILING", flush=True)
            elif ok:
                print(f"  ok    {sid}: {title} ({secs:.1f}s): {detail}", flush=True)
            elif known:
                print(f"  KNOWN FAILING: {sid}: {title} ({secs:.1f}s): {known}\n        {detail}", flush=True)
            else:
                print(f"  FAIL  {sid}: {title} ({secs:.1f}s): {detail}", flush=True)
            results.append((sid, "passed" if ok else "known" if known else "failed"))
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        results.append(("setup", "failed"))
    finally:
        if room:
            room.close()
        if tmux:
            tmux.close()
        if relay:
            relay.stop()
        if any(r != "passed" for _, r in results) or os.environ.get("PAIRPROG_KEEP_TMP") == "1":
            print(f"(logs and editor state kept in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    passed = sum(1 for _, r in results if r == "passed")
    known = [sid for sid, r in results if r == "known"]
    failed = sum(1 for _, r in results if r == "failed")
    if known:
        print(f"KNOWN FAILING ({len(known)}): {', '.join(known)}")
    print(f"real editors ({time.monotonic() - start:.0f}s): {passed} passed, {failed} failed, {len(known)} known failing")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
