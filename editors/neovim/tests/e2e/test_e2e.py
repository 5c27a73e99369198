#!/usr/bin/env python3
"""End to end: a real pairprog-relay and two headless Neovims, A ("alice") and B
("bob"), each with the plugin and its own workspace holding the same src/main.py, driven
through pynvim over their --listen sockets. Then :checkhealth pairprog on a good setup
and with the binary missing.

Each step waits on a condition with a timeout. Prints one line per step and a closing
'N passed, N failed'; exits non-zero on any failure."""

import os
import random
import re
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Nvim, Relay, Timeout, wait_until  # noqa: E402

PATH = "src/main.py"
INITIAL = 'print("héllo wörld 😀")\n'

results = []


def step(name):
    def run(fn):
        start = time.monotonic()
        try:
            detail = fn()
            results.append((name, True, detail or ""))
            print(f"  ok    {name} ({time.monotonic() - start:.2f}s){': ' + detail if detail else ''}", flush=True)
            return True
        except Exception as e:  # noqa: BLE001 - every failure is reported
            msg = f"{type(e).__name__}: {e}"
            results.append((name, False, msg))
            print(f"  FAIL  {name} ({time.monotonic() - start:.2f}s): {msg}", flush=True)
            if not isinstance(e, (AssertionError, Timeout)):
                traceback.print_exc()
            return False

    return run


def main():
    tmp = harness.tempdir()
    relay = None
    editors = []
    ctx = {}
    try:
        relay = Relay(tmp)
        ws_a = harness.make_workspace(tmp, "ws-a", {PATH: INITIAL})
        ws_b = harness.make_workspace(tmp, "ws-b", {PATH: INITIAL})
        # Alice's pairprog-lsp creates rooms with secrets (roomSecrets), so joining
        # goes through the id#secret link.
        a = Nvim("alice", tmp, ws_a, [PATH], relay.ws, extra_env={"PAIRPROG_ROOM_SECRETS": "1"})
        editors.append(a)
        b = Nvim("bob", tmp, ws_b, [PATH], relay.ws)
        editors.append(b)

        def edit_stats():
            parts = []
            for ed in (a, b):
                st = ed.lua("return require('pairprog.client').stats")
                parts.append(f"{ed.name} {st['applied']} applied/{st['refused']} refused")
            return ", ".join(parts)

        def started():
            a.wait_ready()
            b.wait_ready()
            enc_a = a.lua("return require('pairprog').client().offset_encoding")
            assert enc_a == "utf-8", f"offset_encoding {enc_a}, expected utf-8 (offered first)"
            return "both attached, utf-8 negotiated"

        def create():
            a.nvim.command("Pairprog create")
            room = a.lua(
                "vim.wait(10000, function() return require('pairprog').presence().connection == 'connected' end, 10);"
                "return require('pairprog').presence().room"
            )
            assert room, "A has no room after :Pairprog create"
            reg = a.nvim.funcs.getreg('"')
            # pairprog.createRoom makes a room with secrets: the register holds id#secret.
            rid, _, secret = reg.partition("#")
            assert rid == room and secret, f"unnamed register holds {reg!r}, expected {room!r}#secret"
            ctx["room"] = room
            ctx["link"] = reg
            relay.secrets[room] = secret
            return f"room {room}, link id#secret in register \"\""

        def join():
            b.nvim.command(f"Pairprog join {ctx['link']}")
            b.wait_lua(
                "local p = require('pairprog').presence(); return p.connection == 'connected' "
                "and #p.participants == 1",
                10,
                "B connected with A present",
            )
            a.wait_lua("return #require('pairprog').presence().participants == 1", 10, "A to see B")
            line = b.lua("return require('pairprog').statusline()")
            assert line == f"pairprog: {ctx['room']} · 2 people · connected", f"statusline {line!r}"
            doc = relay.document(ctx["room"], PATH)
            assert doc["text"] == INITIAL, f"relay copy {doc['text']!r}"
            return f"statusline {line!r}"

        def a_types():
            a.input("Goalpha from A")
            a.input("<Esc>")
            wait_until(lambda: "alpha from A" in b.text(), 10, "A's typing in B")
            wait_until(lambda: a.text() == b.text(), 10, "A and B equal")
            return repr(b.text())

        def b_types():
            # B types before anything else of B's changed: the first didChange B ever sent
            # came from its own sync at attach.
            b.input("ggA # bob was here")
            b.input("<Esc>")
            wait_until(lambda: "# bob was here" in a.text(), 10, "B's typing in A")
            wait_until(lambda: a.text() == b.text(), 10, "A and B equal")
            return repr(a.text())

        def cursor_shown():
            # A moves; B must draw A's cursor, with A's name, where A's cursor is.
            a.input("gg0fw")
            a.wait_lua("return vim.api.nvim_win_get_cursor(0)[2] > 0", 5, "A's cursor to move")
            row, col = a.nvim.current.window.cursor
            color = a.lua("return require('pairprog').presence().you.color")
            hl = "PairprogLabel_" + color.lstrip("#").lower()

            def drawn():
                marks = b.lua("return require('pairprog').remote_cursors(0)")
                return [m for m in marks if m["name"] == "alice" and m["row"] == row - 1 and m["col"] == col]

            marks = wait_until(drawn, 10, f"B to draw alice's cursor at {row - 1}:{col}")
            assert marks[0]["hl"] == hl, f"label highlight {marks[0]['hl']}, expected {hl}"
            bg = b.lua(f"return vim.api.nvim_get_hl(0, {{name = '{hl}'}}).bg")
            assert bg == int(color.lstrip("#"), 16), f"{hl} bg {bg} is not {color}"
            # A visual selection shows as a highlighted range in B.
            a.input("v$")
            sel = "PairprogSelection_" + color.lstrip("#").lower()
            wait_until(
                lambda: b.lua(
                    "for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, require('pairprog.presence').ns, 0, -1, "
                    "{details = true})) do if m[4].hl_group == ... and m[4].end_col then return true end end "
                    "return false",
                    sel,
                ),
                10,
                "B to draw alice's selection",
            )
            a.input("<Esc>")
            return f"alice at {row - 1}:{col} in {hl}, selection in {sel}"

        def concurrent():
            # A types at the end of line 2, B at the end of line 1, sometimes a new line.
            return type_tokens("2GA", "ggA", "PAIRPROG_TYPING_SECS", "4", newlines=True)

        def same_line_tokens():
            # One line: B types at its start, A at its end. B's typing moves the columns
            # of A's edits, so an edit applied at a stale version would land in the wrong
            # place (and break or duplicate tokens); only exact version checks avoid it.
            return type_tokens("ggA", "ggI", "PAIRPROG_SAME_LINE_SECS", "3", newlines=False)

        def type_tokens(keys_a, keys_b, secs_var, secs_default, newlines):
            rng = random.Random(int(os.environ.get("PAIRPROG_SEED", "7")) + len(ctx))
            a.input(keys_a)
            b.input(keys_b)
            before = set(re.findall(r"[ab]\d+é", a.text()))
            tokens = []
            # Token numbers go on from one phase to the next, so every token is unique.
            counts = ctx.setdefault("counts", {"alice": 0, "bob": 0})
            typed_before = dict(counts)
            deadline = time.monotonic() + float(os.environ.get(secs_var, secs_default))
            while time.monotonic() < deadline:
                for ed, tag in ((a, "a"), (b, "b")):
                    n = counts[ed.name]
                    counts[ed.name] += 1
                    tok = f"{tag}{n}é"
                    tokens.append(tok)
                    keys = " " + tok
                    if newlines and rng.random() < 0.08:
                        keys += "<CR>"
                    ed.input(keys)
                time.sleep(rng.uniform(0.005, 0.03))  # typing pace, not a wait for anything
            a.input("<Esc>")
            b.input("<Esc>")

            def converged():
                ta, tb = a.text(), b.text()
                if ta != tb:
                    return None
                doc = relay.document(ctx["room"], PATH)
                return ta if doc["text"] == ta else None

            try:
                text = wait_until(converged, 30, "A, B and the relay to hold the same text", 0.05)
            except Timeout:
                ta, tb = a.text(), b.text()
                tr = relay.document(ctx["room"], PATH)["text"]
                raise AssertionError(
                    f"not converged:\nA={ta!r}\nB={tb!r}\nrelay={tr!r}"
                ) from None
            found = [t for t in re.findall(r"[ab]\d+é", text) if t not in before]
            missing = [t for t in tokens if found.count(t) != 1]
            assert not missing, f"{len(missing)} tokens not present exactly once: {missing[:10]}"
            assert len(found) == len(tokens), f"{len(found)} new tokens in the text, {len(tokens)} typed"
            for ed in (a, b):
                st = ed.lua(
                    "local done, res; require('pairprog').status(function(e, r) done, res = true, r end);"
                    "vim.wait(5000, function() return done end, 10); return res"
                )
                assert st and st["documents"] and st["documents"][0]["synced"], f"{ed.name} status {st}"
            return (
                f"{len(tokens)} tokens ({counts['alice'] - typed_before['alice']} by A, "
                f"{counts['bob'] - typed_before['bob']} by B), {len(text)} chars, "
                f"all exactly once; applyEdit {edit_stats()}"
            )

        def same_line():
            # Both on the first line, B one character before A: each one's typing lands
            # right next to the other's cursor. Convergence and every character once.
            rng = random.Random(int(os.environ.get("PAIRPROG_SEED", "7")) + 1)
            before = a.text()
            a.input("ggA")
            b.input("gg$i")
            typed = {"Q": 0, "Z": 0}
            deadline = time.monotonic() + float(os.environ.get("PAIRPROG_ADJACENT_SECS", "3"))
            while time.monotonic() < deadline:
                for ed, ch in ((a, "Q"), (b, "Z")):
                    n = rng.randint(1, 3)
                    typed[ch] += n
                    ed.input(ch * n)
                time.sleep(rng.uniform(0.005, 0.02))  # typing pace, not a wait for anything
            a.input("<Esc>")
            b.input("<Esc>")

            def converged():
                ta, tb = a.text(), b.text()
                return ta if ta == tb and relay.document(ctx["room"], PATH)["text"] == ta else None

            try:
                text = wait_until(converged, 30, "A, B and the relay to hold the same text", 0.05)
            except Timeout:
                raise AssertionError(
                    f"not converged:\nA={a.text()!r}\nB={b.text()!r}\nrelay={relay.document(ctx['room'], PATH)['text']!r}"
                ) from None
            got = {ch: text.count(ch) - before.count(ch) for ch in typed}
            assert got == typed, f"typed {typed}, the text has {got}"
            return f"{typed['Q']} Q by A and {typed['Z']} Z by B, all exactly once; applyEdit {edit_stats()}"

        def auto_join():
            # A third editor with the `room` option joins by itself; its copy of the file
            # is the room's, so nothing is replaced.
            text = relay.document(ctx["room"], PATH)["text"]
            ws_c = harness.make_workspace(tmp, "ws-c", {PATH: text})
            c = Nvim("carol", tmp, ws_c, [PATH], relay.ws, extra_env={"PAIRPROG_TEST_ROOM": ctx["link"]})
            editors.append(c)
            c.wait_ready()
            c.wait_lua(
                "local p = require('pairprog').presence(); return p.connection == 'connected' and #p.participants == 2",
                10,
                "carol to join by herself",
            )
            a.input("GoCarol, welcome")
            a.input("<Esc>")
            wait_until(lambda: "Carol, welcome" in c.text(), 10, "A's typing in C")
            wait_until(lambda: a.text() == b.text() == c.text(), 10, "A, B and C equal")
            c.quit()
            b.wait_lua("return #require('pairprog').presence().participants == 1", 10, "B to see carol go")
            return "joined through init_options.room, got A's typing"

        def leave():
            a.nvim.command("Pairprog leave")
            b.wait_lua(
                "local p = require('pairprog').presence(); "
                "if #p.participants ~= 0 then return false end "
                "for _, m in ipairs(require('pairprog').remote_cursors(0)) do "
                "  if m.name == 'alice' then return false end end return true",
                10,
                "alice's cursor to disappear from B",
            )
            n = b.lua("return #vim.api.nvim_buf_get_extmarks(0, require('pairprog.presence').ns, 0, -1, {})")
            assert n == 0, f"{n} extmarks left in B"
            line = b.lua("return require('pairprog').statusline()")
            return f"B's statusline now {line!r}"

        def no_warnings():
            bad = []
            for ed in (a, b):
                for m in ed.lua("return _G.pairprog_test_messages"):
                    if (m.get("level") or 0) >= 3 or "lost track" in m["msg"]:
                        bad.append(f"{ed.name}: {m['msg']}")
                # window/showMessage goes to :messages (nvim_echo), not vim.notify.
                for line in ed.nvim.exec_lua("return vim.api.nvim_exec2('messages', {output = true}).output").splitlines():
                    if re.search(r"LSP\[pairprog\]\[(Warning|Error)\]|lost track|E\d+:", line):
                        bad.append(f"{ed.name}: {line}")
            assert not bad, "; ".join(bad)
            return "no vim.notify WARN/ERROR, no LSP warning or error in :messages"

        def health_ok():
            a.nvim.command("checkhealth pairprog")
            text = "\n".join(a.nvim.current.buffer[:])
            for want in ("OK found ", "pairprog-lsp 0.", "reachable", "OK position encoding: utf-8", "OK debounce_text_changes: 0"):
                assert want in text, f"{want!r} not in the health report:\n{text}"
            assert "ERROR" not in text, f"ERROR in the health report:\n{text}"
            return "OK: binary, version, relay, utf-8, debounce 0"

        def health_missing():
            # No lsp_path and a PATH without pairprog-lsp.
            path = os.pathsep.join(
                p for p in os.environ.get("PATH", "").split(os.pathsep) if not os.path.exists(os.path.join(p, "pairprog-lsp"))
            )
            c = Nvim("dave", tmp, ws_a, [PATH], relay.ws, lsp_bin="", extra_env={"PATH": path})
            editors.append(c)
            c.nvim.command("checkhealth pairprog")
            text = "\n".join(c.nvim.current.buffer[:])
            assert re.search(r"ERROR pairprog-lsp was not found on PATH", text), f"no clear error:\n{text}"
            assert "cargo install --path lsp" in text, f"no advice:\n{text}"
            msgs = c.lua("return _G.pairprog_test_messages")
            assert any("not found on PATH" in m["msg"] for m in msgs), f"no notification at start: {msgs}"
            c.quit()
            return "ERROR pairprog-lsp was not found on PATH (+ advice)"

        steps = [
            ("both editors start pairprog-lsp", started),
            ("A :Pairprog create (room link in register)", create),
            ("B :Pairprog join; statusline; relay copy", join),
            ("A types in insert mode, B sees it", a_types),
            ("B types, A sees it", b_types),
            ("B draws A's cursor and selection in A's colour with A's name", cursor_shown),
            ("A and B type at once; A, B and the relay converge", concurrent),
            ("A and B type on one line, B at its start, A at its end; converge", same_line_tokens),
            ("A and B type on one line, next to each other; converge", same_line),
            ("C starts with the room option: joins by itself", auto_join),
            ("A leaves; its cursor disappears from B", leave),
            ("no warnings or errors were shown", no_warnings),
            (":checkhealth pairprog on a good setup", health_ok),
            (":checkhealth pairprog with pairprog-lsp missing", health_missing),
        ]
        failed_at = None
        for name, fn in steps:
            if failed_at:
                results.append((name, False, f"not run: '{failed_at}' failed"))
                print(f"  FAIL  {name}: not run", flush=True)
                continue
            if not step(name)(fn) and name != "no warnings or errors were shown":
                failed_at = name
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        results.append(("setup", False, str(e)))
    finally:
        for ed in editors:
            if ed.proc.poll() is None:
                ed.quit()
            ed.kill()
        if relay:
            relay.stop()
        if any(not ok for _, ok, _ in results):
            print(f"(logs in {tmp})")
            os.environ["PAIRPROG_KEEP_TMP"] = "1"
        harness.cleanup(tmp)
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"e2e: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
