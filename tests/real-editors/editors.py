"""Real editors for the matrix (tests/real-editors/matrix.py), each a real process in its
own terminal of a private tmux server, typed into with real keystrokes:

- Neovim 0.11 (with the plugin, or with only the README's plugin-less recipe), driven by
  nvim_input through pynvim on its --listen socket; it has a real TUI (tmux), so a
  hit-enter prompt blocks it exactly as it would block a user;
- Emacs 28 with eglot (`emacs -nw`), driven by tmux send-keys; its buffer is read back
  through emacsclient.

And a pairprog-relay that can be SIGKILLed and started again on the same port and
database. Reading an editor's text never changes it; nothing here sets buffer lines."""

import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PLUGIN_DIR = os.path.join(REPO, "editors", "neovim")
README = os.path.join(REPO, "README.md")
_VENV_NVIM = os.path.join(os.path.dirname(sys.executable), "nvim")
NVIM = os.environ.get("PAIRPROG_NVIM") or (_VENV_NVIM if os.path.exists(_VENV_NVIM) else "nvim")
EMACS = os.environ.get("PAIRPROG_EMACS", "emacs")
LSP_BIN = os.environ.get("PAIRPROG_LSP_BIN", os.path.join(REPO, "target", "debug", "pairprog-lsp"))
RELAY_BIN = os.environ.get("PAIRPROG_RELAY_BIN", os.path.join(REPO, "target", "debug", "pairprog-relay"))
# The recipes name this relay and user; the matrix substitutes its own.
RECIPE_RELAY = "ws://127.0.0.1:8787"
RECIPE_NAME = "ana"
COLUMNS, LINES = 160, 45


class Timeout(AssertionError):
    pass


class Blocked(AssertionError):
    """A Neovim is stopped at a prompt (hit-enter, more, confirm): it takes the user's
    next key and applies no collaborator's edit until then."""


def wait_until(predicate, timeout, what, interval=0.02):
    """Polls `predicate` until it returns a truthy value; raises Timeout naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def readme_block(marker):
    """The fenced code block after `<!-- real-editors: MARKER -->` in README.md."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- real-editors: " + re.escape(marker) + r" -->\s*```\w*\n(.*?)```", text, re.S)
    if not m:
        raise RuntimeError(f"README.md has no block marked 'real-editors: {marker}'")
    return m.group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """pairprog-relay on a fixed loopback port with an SQLite file in `workdir`; `kill()`
    (SIGKILL) and `start()` again keep the port and the database."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.proc = None
        self.starts = 0
        self.start()

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.workdir, f"relay-{self.starts}.log"), "w")
        db = os.path.join(self.workdir, "relay.db")
        self.proc = subprocess.Popen(
            [RELAY_BIN, "--listen", f"127.0.0.1:{self.port}", "--database-url", f"sqlite://{db}"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                break
            if "listening on" in line:
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        self.kill()
        raise RuntimeError("pairprog-relay did not say it was listening (see relay-*.log)")

    def get(self, route):
        with urllib.request.urlopen(self.http + route, timeout=5) as r:
            return json.loads(r.read())

    def document(self, room, path):
        return self.get(f"/api/rooms/{room}/documents/{urllib.parse.quote(path, safe='')}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Tmux:
    """A private tmux server (its own -L socket): one window per editor, a real terminal."""

    def __init__(self, workdir):
        self.name = f"pairprog-matrix-{os.getpid()}"
        self.workdir = workdir
        self.run("new-session", "-d", "-s", "idle", "-x", str(COLUMNS), "-y", str(LINES), "sleep 3600")

    def run(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.name, *args], check=check, capture_output=True, text=True)

    def spawn(self, session, cwd, env, argv):
        command = "exec env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        command += " " + " ".join(shlex.quote(a) for a in argv)
        self.run("new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(LINES), "-c", cwd, command)

    def keys(self, session, *keys, literal=False):
        self.run("send-keys", "-t", session, *(["-l"] if literal else []), *keys)

    def screen(self, session):
        return self.run("capture-pane", "-p", "-t", session, check=False).stdout

    def alive(self, session):
        return self.run("has-session", "-t", session, check=False).returncode == 0

    def kill_session(self, session):
        self.run("kill-session", "-t", session, check=False)

    def close(self):
        self.run("kill-server", check=False)


def editor_env(workdir, name, bin_dir):
    state = os.path.join(workdir, f"{name}-xdg")
    return {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PAIRPROG_DATA_DIR": os.path.join(state, "pairprog"),
        "XDG_CONFIG_HOME": os.path.join(state, "config"),
        "XDG_DATA_HOME": os.path.join(state, "data"),
        "XDG_STATE_HOME": os.path.join(state, "state"),
        "XDG_CACHE_HOME": os.path.join(state, "cache"),
        # pairprog-lsp's log (its stderr) lands in Neovim's lsp.log / Eglot's stderr buffer.
        "PAIRPROG_LOG": os.environ.get("PAIRPROG_LOG", "info"),
    }


class Nvim:
    """Neovim in a tmux window with `--listen`: with the plugin (`plugin=True`, set up as
    editors/neovim/README.md says) or with only the README's plugin-less recipe."""

    kind = "nvim"

    def __init__(self, tmux, name, workdir, cwd, files, relay_ws, plugin):
        import pynvim

        self.tmux, self.name, self.cwd, self.plugin = tmux, name, cwd, plugin
        self.socket = os.path.join(workdir, f"{name}.sock")
        self.data_dir = os.path.join(workdir, f"{name}-xdg", "pairprog")
        init = os.path.join(workdir, f"{name}-init.lua")
        with open(init, "w", encoding="utf-8") as f:
            f.write(self.init_lua(relay_ws, name))
        env = editor_env(workdir, name, os.path.dirname(LSP_BIN))
        argv = [NVIM, "--listen", self.socket, "-u", init, "-i", "NONE", "-n", *files]
        tmux.spawn(name, cwd, env, argv)
        wait_until(lambda: os.path.exists(self.socket) or not tmux.alive(name), 15, f"{name}'s socket")
        if not tmux.alive(name):
            raise RuntimeError(f"nvim {name} exited at start")

        def attach():
            # The socket file appears a moment before Neovim accepts on it.
            try:
                return pynvim.attach("socket", path=self.socket)
            except ConnectionRefusedError:
                return None

        self.nvim = wait_until(attach, 10, f"{name} to accept on its socket", 0.05)

    @staticmethod
    def init_lua_common():
        common = "vim.opt.shortmess:append('I')\nvim.opt.swapfile = false\n"
        # PAIRPROG_MATRIX_NVIM_LSP_LOG=debug: Neovim's lsp.log (under each editor's
        # XDG_STATE_HOME) then holds every message to and from pairprog-lsp, to read a
        # failure's didChange and workspace/applyEdit traffic afterwards.
        level = os.environ.get("PAIRPROG_MATRIX_NVIM_LSP_LOG")
        if level:
            common += f"vim.lsp.log.set_level({json.dumps(level)})\n"
        return common

    def init_lua(self, relay_ws, name):
        if self.plugin:
            # editors/neovim/README.md, "Manual setup": the plugin directory on the
            # runtimepath, then setup().
            return self.init_lua_common() + (
                f"vim.opt.rtp:prepend({json.dumps(PLUGIN_DIR)})\n"
                f"require('pairprog').setup({{ relay = {json.dumps(relay_ws)}, name = {json.dumps(name)} }})\n"
            )
        recipe = readme_block("neovim-plugin-less")
        recipe = recipe.replace(RECIPE_RELAY, relay_ws).replace(f"'{RECIPE_NAME}'", f"'{name}'")
        return self.init_lua_common() + recipe

    def lua(self, code, *args):
        self.check_not_blocked()
        return self.nvim.exec_lua(code, *args)

    def check_not_blocked(self):
        # nvim_get_mode answers even at a prompt; any other request would wait for a key.
        mode = self.nvim.api.get_mode()
        if mode.get("blocking") and mode.get("mode") in ("r", "rm", "r?", "cv", "ce"):
            screen = "\n".join(self.tmux.screen(self.name).rstrip().splitlines()[-4:])
            raise Blocked(f"{self.name} is stopped at a prompt (mode {mode['mode']!r}):\n{screen}")

    def text(self, path="app.py"):
        """The text of the buffer of `path` as its language server sees it."""
        return self.lua(
            "local buf = vim.fn.bufnr(...) if buf < 0 or not vim.api.nvim_buf_is_loaded(buf) then return vim.NIL end "
            "local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false) "
            "return table.concat(lines, '\\n') .. (vim.bo[buf].eol and '\\n' or '')",
            path,
        )

    def keys(self, keys):
        """Typed keys (nvim_input: queued as if typed, `<Esc>` notation)."""
        self.nvim.input(keys)

    def mode(self):
        return self.nvim.api.get_mode()

    def messages(self):
        return self.lua("return vim.api.nvim_exec2('messages', {output = true}).output")

    def quit(self):
        # Not through the API: a Neovim stopped at a prompt would never answer.
        try:
            self.nvim.close()
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        self.tmux.kill_session(self.name)
        try:
            wait_until(lambda: not self.tmux.alive(self.name), 10, f"{self.name} to quit")
        except Timeout:
            pass


class Emacs:
    """`emacs -nw` with eglot in a tmux window, set up with the README's Emacs recipe;
    keys through tmux send-keys, text read back with emacsclient."""

    kind = "emacs"

    def __init__(self, tmux, name, workdir, cwd, file, relay_ws):
        self.tmux, self.name, self.cwd, self.file = tmux, name, cwd, os.path.join(cwd, file)
        self.workdir = workdir
        self.server = os.path.join(workdir, f"{name}-emacs-server")
        os.makedirs(self.server, mode=0o700, exist_ok=True)
        recipe = readme_block("emacs-eglot")
        recipe = recipe.replace(RECIPE_RELAY, relay_ws).replace(f'"{RECIPE_NAME}"', f'"{name}"')
        init = os.path.join(workdir, f"{name}-init.el")
        with open(init, "w", encoding="utf-8") as f:
            f.write(";; The matrix reads buffers through this server.\n")
            f.write(f"(setq server-socket-dir {json.dumps(self.server)})\n(server-start)\n")
            f.write("(setq inhibit-startup-screen t make-backup-files nil auto-save-default nil)\n")
            f.write(recipe)
        env = editor_env(workdir, name, os.path.dirname(LSP_BIN))
        tmux.spawn(name, cwd, env, [EMACS, "-nw", "-q", "-l", init, file])
        wait_until(lambda: os.path.exists(os.path.join(self.server, "server")), 20, f"{name}'s server")

    def eval(self, form, timeout=10):
        out = subprocess.run(
            ["emacsclient", "-s", os.path.join(self.server, "server"), "--eval", form],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"emacsclient: {out.stderr.strip()}")
        return out.stdout.strip()

    def text(self, path="app.py"):
        """The buffer visiting `path`, written to a scratch file (the buffer is untouched)."""
        dump = os.path.join(self.workdir, f"{self.name}-dump.txt")
        full = os.path.join(self.cwd, path)
        got = self.eval(
            f"(let ((b (find-buffer-visiting {json.dumps(full)}))) (if b (with-current-buffer b "
            f"(let ((coding-system-for-write 'utf-8-unix)) (write-region nil nil {json.dumps(dump)} nil 0)) t) nil))"
        )
        if got != "t":
            return None
        with open(dump, encoding="utf-8") as f:
            return f.read()

    def managed(self):
        full = json.dumps(self.file)
        return self.eval(f"(let ((b (find-buffer-visiting {full}))) (and b (with-current-buffer b (eglot-managed-p)) t))") == "t"

    def keys(self, *keys):
        """tmux key names (`C-a`, `M-<`, `Enter`)."""
        self.tmux.keys(self.name, *keys)

    def type(self, text):
        self.tmux.keys(self.name, text, literal=True)

    def quit(self):
        try:
            self.eval("(kill-emacs)", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            wait_until(lambda: not self.tmux.alive(self.name), 10, f"{self.name} to quit")
        except Timeout:
            self.tmux.kill_session(self.name)
