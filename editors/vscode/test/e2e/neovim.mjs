// A real Neovim 0.11 with the pairprog plugin (editors/neovim, set up as its README's
// "manual setup" says), in its own terminal of a private tmux server, so it has a real
// TUI: a hit-enter prompt would stop it as it stops a user. Keys go in with
// `nvim --server SOCK --remote-send` (queued as if typed); the buffer, the plugin's
// presence and the collaborators' cursors it draws (extmarks) are only read, with
// `--remote-expr`. Nothing here sets buffer lines.

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { eventually, WAIT_MS } from "./harness.mjs";

const run = promisify(execFile);
/** One remote command (a process start and one request) gives up after this long. */
const REMOTE_MS = 5_000;

export class Tmux {
  constructor(name) {
    this.name = name;
  }

  async run(...args) {
    return run("tmux", ["-L", this.name, ...args], { timeout: REMOTE_MS });
  }

  /** The last lines of a window, for a failure message. */
  async screen(session) {
    try {
      return (await this.run("capture-pane", "-p", "-t", session)).stdout.trimEnd();
    } catch (e) {
      return `(no screen: ${e.message})`;
    }
  }

  async close() {
    await this.run("kill-server").catch(() => undefined);
  }
}

export class Neovim {
  /**
   * Starts Neovim in a new tmux window with `file` (in `cwd`) open, the plugin set up
   * for `relayWs` and `name`, and resolves once its pairprog-lsp is initialized.
   */
  static async start({ nvim, tmux, root, name, relayWs, lspBin, pluginDir, cwd, file }) {
    const state = path.join(root, `${name}-xdg`);
    mkdirSync(state, { recursive: true });
    const init = path.join(root, `${name}-init.lua`);
    writeFileSync(
      init,
      [
        "vim.opt.shortmess:append('I')",
        "vim.opt.swapfile = false",
        `vim.opt.rtp:prepend(${JSON.stringify(pluginDir)})`,
        `require('pairprog').setup({ relay = ${JSON.stringify(relayWs)}, name = ${JSON.stringify(name)} })`,
        "",
      ].join("\n"),
    );
    const socket = path.join(root, `${name}.sock`);
    const env = {
      PATH: `${path.dirname(lspBin)}:${process.env.PATH ?? ""}`,
      HOME: process.env.HOME ?? "/tmp",
      TERM: "xterm-256color",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      PAIRPROG_DATA_DIR: path.join(state, "pairprog"),
      XDG_CONFIG_HOME: path.join(state, "config"),
      XDG_DATA_HOME: path.join(state, "data"),
      XDG_STATE_HOME: path.join(state, "state"),
      XDG_CACHE_HOME: path.join(state, "cache"),
      PAIRPROG_LOG: "info",
    };
    const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = ["exec", "env", ...Object.entries(env).map(([k, v]) => quote(`${k}=${v}`))]
      .concat([nvim, "--listen", socket, "-u", init, "-i", "NONE", "-n", file].map(quote))
      .join(" ");
    // The first new-session also starts the private tmux server.
    await tmux.run("new-session", "-d", "-s", name, "-x", "160", "-y", "45", "-c", cwd, command);
    const ed = new Neovim({ nvim, tmux, name, socket, state });
    await eventually(`${name}'s socket`, async () => existsSync(socket) && (await ed.expr("1")) === "1", 15_000);
    await ed.waitLua(`${name}'s pairprog-lsp`, "local c = require('pairprog').client() return c ~= nil and c.initialized == true");
    return ed;
  }

  constructor({ nvim, tmux, name, socket, state }) {
    Object.assign(this, { nvim, tmux, name, socket, state });
  }

  /** Runs the remote client, which needs no config of its own. */
  async remote(...args) {
    const env = { ...process.env, XDG_CONFIG_HOME: path.join(this.state, "remote"), XDG_STATE_HOME: path.join(this.state, "remote") };
    try {
      return (await run(this.nvim, ["--clean", "--headless", "--server", this.socket, ...args], { timeout: REMOTE_MS, env })).stdout;
    } catch (e) {
      // The usual reason a read does not come back is a prompt waiting for a key.
      throw new Error(`${this.name}: nvim ${args[0]} failed (${e.message.split("\n")[0]}); screen:\n${await this.tmux.screen(this.name)}`);
    }
  }

  /** Typed keys, `<Esc>` notation (`<lt>` for a literal `<`). */
  async keys(keys) {
    await this.remote("--remote-send", keys);
  }

  /** A Vimscript expression's value, as Neovim prints it. */
  async expr(expr) {
    return this.remote("--remote-expr", expr);
  }

  /** Runs a Lua function body (no single quotes in it) and decodes what it returns. */
  async lua(body) {
    if (body.includes("'")) {
      throw new Error(`Neovim.lua: write ${JSON.stringify(body)} with double quotes`);
    }
    const out = await this.expr(`luaeval('vim.json.encode({ v = (function() ${body} end)() })')`);
    return JSON.parse(out).v;
  }

  async waitLua(what, body, timeoutMs = WAIT_MS) {
    return eventually(what, () => this.lua(body.replace(/'/g, '"')), timeoutMs);
  }

  /** The buffer's text as its language server sees it (a final newline when 'eol'). */
  async text() {
    return this.lua(
      'local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false) return table.concat(lines, "\\n") .. (vim.bo.eol and "\\n" or "")',
    );
  }

  /** What the plugin last heard of the room ($/pairprog/presence). */
  async presence() {
    return this.lua('return require("pairprog").presence()');
  }

  /** Collaborators' labels drawn in the current buffer: [{ name, row, col }] (0-based). */
  async cursors() {
    return this.lua('return require("pairprog").remote_cursors(0)');
  }

  async mode() {
    return this.lua("return vim.api.nvim_get_mode()");
  }
}
