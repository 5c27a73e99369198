"""The room of the real-editor matrix (matrix.py): four real editors, how each joins,
types and is read back, and the judgement every scenario ends with (converged, quiet)."""

import os
import re
import time

import editors as E
from editors import Timeout, wait_until

PATH = "app.py"
INITIAL = "".join(f"line_{i} = {i}  # é\n" for i in range(1, 11))
TOKEN = re.compile(r"\b[abcde]\d+x\b")
# How long the relay's revision must stay still to count as quiet. A bug that repeats an
# operation does so several times a second, so this window (a real pause: we are
# watching for nothing to happen) sees it.
QUIET_SECS = float(os.environ.get("PAIRPROG_MATRIX_QUIET_SECS", "2"))
CONVERGE_SECS = float(os.environ.get("PAIRPROG_MATRIX_CONVERGE_SECS", "30"))
TYPING_SECS = float(os.environ.get("PAIRPROG_MATRIX_TYPING_SECS", "4"))

class Room:
    """The four editors of the matrix in one room."""

    def __init__(self, tmp, tmux, relay, generation):
        self.tmp, self.tmux, self.relay = tmp, tmux, relay
        self.editors = []
        self.extra = []
        g = generation
        ws = {n: self.workspace(f"ws-{n}{g}", {PATH: INITIAL}) for n in ("alice", "bob", "carol", "emma")}
        self.alice = self.add(E.Nvim(tmux, f"alice{g}", tmp, ws["alice"], [PATH], relay.ws, plugin=True))
        self.bob = self.add(E.Nvim(tmux, f"bob{g}", tmp, ws["bob"], [PATH], relay.ws, plugin=True))
        self.carol = self.add(E.Nvim(tmux, f"carol{g}", tmp, ws["carol"], [PATH], relay.ws, plugin=False))
        self.emma = self.add(E.Emacs(tmux, f"emma{g}", tmp, ws["emma"], PATH, relay.ws))
        self.tags = {self.alice: "a", self.bob: "b", self.carol: "c", self.emma: "e"}
        self.counts = {}
        self.room = None

    def add(self, ed):
        self.editors.append(ed)
        return ed

    def workspace(self, name, files):
        ws = os.path.join(self.tmp, name)
        os.makedirs(ws, exist_ok=True)
        for path, text in files.items():
            with open(os.path.join(ws, path), "w", encoding="utf-8") as f:
                f.write(text)
        return ws

    # --- joining ----------------------------------------------------------------------
    def open(self):
        a = self.alice
        wait_lua(a, "local c = require('pairprog').client() return c and c.initialized", 15, "alice's pairprog-lsp")
        a.keys(":Pairprog create<CR>")
        self.room = wait_lua(a, "return require('pairprog').presence().room", 15, "alice's room")
        self.join_plugin(self.bob)
        self.join_plugin_less(self.carol)
        self.join_emacs(self.emma)
        wait_until(lambda: self.relay.get(f"/api/rooms/{self.room}")["participantCount"] == 4, 20, "4 participants")
        self.converged("the four editors after joining")

    def join_plugin(self, ed):
        ed.keys(f":Pairprog join {self.room}<CR>")
        wait_lua(ed, "return require('pairprog').presence().connection == 'connected'", 15, f"{ed.name} connected")

    def join_plugin_less(self, ed):
        wait_lua(
            ed,
            "local c = vim.lsp.get_clients({ name = 'pairprog' })[1] return c and c.initialized",
            15,
            f"{ed.name}'s pairprog-lsp",
        )
        line = recipe_line("neovim-plugin-less", "pairprog.joinRoom").lstrip("- ")
        ed.keys(line.replace("ROOM_ID", self.room).replace("<", "<lt>") + "<CR>")

    def join_emacs(self, ed):
        wait_until(ed.managed, 20, f"{ed.name}'s buffer managed by Eglot")
        form = recipe_line("emacs-eglot", "pairprog.joinRoom").lstrip("; ")
        assert form.startswith("M-: "), form
        ed.keys("M-:")
        ed.type(form[4:].replace("ROOM_ID", self.room))
        ed.keys("Enter")

    # --- reading ----------------------------------------------------------------------
    def text(self, ed):
        return ed.text(PATH)

    def texts(self, eds=None):
        return {ed.name: self.text(ed) for ed in (eds or self.editors + self.extra)}

    def converged(self, what, eds=None, timeout=CONVERGE_SECS):
        """Waits until every editor's buffer and the relay's copy are equal; the text."""

        def same():
            texts = self.texts(eds)
            relay = self.relay.document(self.room, PATH)["text"]
            return relay if all(t == relay for t in texts.values()) else None

        try:
            return wait_until(same, timeout, what, 0.1)
        except Timeout:
            texts = self.texts(eds)
            relay = self.relay.document(self.room, PATH)["text"]
            diff = "\n".join(f"  {n}: {short(t)}" for n, t in texts.items() if t != relay)
            raise AssertionError(f"not converged ({what}) after {timeout}s:\n  relay: {short(relay)}\n{diff}") from None

    def converged_until(self, check, what, timeout=15):
        """Waits until the editors have converged on a text for which `check(text)`
        holds; the text. On timeout, says what the text was."""
        seen = []

        def ok():
            text = self.converged(what, timeout=timeout)
            seen.append(text)
            return text if check(text) else None

        try:
            return wait_until(ok, timeout, what, 0.1)
        except Timeout:
            raise AssertionError(f"{what}: not seen in {timeout}s; the converged text: {short(seen[-1] if seen else None)}") from None

    def quiet(self, what, eds=None):
        """Converged, and the revision stays still for QUIET_SECS; (text, revision)."""
        text = self.converged(what, eds)
        rev = self.relay.document(self.room, PATH)["revision"]
        time.sleep(QUIET_SECS)  # watching for nothing to happen: see QUIET_SECS
        doc = self.relay.document(self.room, PATH)
        assert doc["revision"] == rev, (
            f"the revision kept rising after quiet: {rev} -> {doc['revision']} in {QUIET_SECS}s "
            f"(text now {len(doc['text'])} chars)"
        )
        assert doc["text"] == text
        self.converged(what + ", still", eds, timeout=5)
        # Each plugin Neovim's pairprog-lsp must say it is in sync, and be right.
        for ed in eds or self.editors + self.extra:
            if ed.kind == "nvim" and ed.plugin:
                st = proxy_status(ed)
                docs = [d for d in st.get("documents") or [] if d.get("path") == PATH]
                assert docs and docs[0].get("synced") and st.get("pendingEdits") == 0, f"{ed.name}'s pairprog.status: {st}"
                assert docs[0].get("revision") == rev, f"{ed.name}'s pairprog-lsp is at revision {docs[0].get('revision')}, the relay at {rev}"
        return text, rev

    # --- typing -----------------------------------------------------------------------
    def goto_end_of_line(self, ed, line):
        if ed.kind == "nvim":
            ed.keys(f"<Esc>{line}GA")
        else:
            ed.keys("M-g", "g")
            ed.type(str(line))
            ed.keys("Enter", "C-e")

    def type(self, ed, text):
        if ed.kind == "nvim":
            ed.keys(text.replace("<", "<lt>"))
        else:
            ed.type(text)

    def stop_typing(self, ed):
        if ed.kind == "nvim":
            ed.keys("<Esc>")

    def type_tokens(self, typists, secs, rng, during=None):
        """Each typist types ' <tag><n>x' tokens at the end of its own line for `secs`;
        `during(elapsed)` runs between rounds. The list of tokens typed."""
        lines = {ed: i + 1 for i, ed in enumerate(typists)}
        for ed in typists:
            self.goto_end_of_line(ed, lines[ed])
        tokens = []
        start = time.monotonic()
        while time.monotonic() - start < secs:
            for ed in typists:
                tag = self.tags[ed]
                n = self.counts.get(tag, 0)
                self.counts[tag] = n + 1
                tok = f"{tag}{n}x"
                tokens.append(tok)
                self.type(ed, " " + tok)
            if during:
                during(time.monotonic() - start)
            time.sleep(rng.uniform(0.02, 0.06))  # typing pace, not a wait for anything
        for ed in typists:
            self.stop_typing(ed)
        return tokens

    def close(self):
        for ed in self.editors + self.extra:
            ed.quit()


def proxy_status(ed):
    """pairprog.status straight from a plugin Neovim's pairprog-lsp (no message shown)."""
    return ed.lua(
        "local c = require('pairprog').client() local done, res "
        "require('pairprog.util').exec_cmd(c, 'pairprog.status', nil, function(e, r) done, res = true, r or e end) "
        "vim.wait(5000, function() return done end, 10) return res"
    )


def wait_lua(ed, body, timeout, what):
    """Waits for a Lua expression in `ed` to be truthy; returns its value."""
    return wait_until(lambda: ed.lua(body), timeout, what, 0.05)


def recipe_line(marker, needle):
    return next(line for line in E.readme_block(marker).splitlines() if needle in line)


def short(text):
    if text is None:
        return "None (no buffer)"
    return repr(text) if len(text) < 400 else f"{len(text)} chars: {text[:200]!r} … {text[-160:]!r}"


def exactly_once(text, tokens):
    found = TOKEN.findall(text)
    bad = [t for t in tokens if found.count(t) != 1]
    assert not bad, f"{len(bad)} of {len(tokens)} tokens not present exactly once: " + ", ".join(
        f"{t}×{found.count(t)}" for t in bad[:12]
    )


def count_once(text, markers):
    bad = {m: text.count(m) for m in markers if text.count(m) != 1}
    assert not bad, f"markers not present exactly once: {bad}"
