// What the end-to-end tests in real VS Code share (run.mjs: two VS Codes; mixed.mjs: VS
// Code, a web page and Neovim): the environment, bounded waits, the relay, code-server
// with the packaged .vsix, Chromium, and reading a workbench back (text, status bar,
// where a collaborator's label is drawn).
//
// Every wait is on an event (the DOM, an HTTP answer, a process line), bounded in time.

import { spawn, execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const extensionDir = path.resolve(here, "../..");

export function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!value) {
    throw new Error(`${name} must be set`);
  }
  return value;
}

/** Every single wait gives up after this long. */
export const WAIT_MS = 45_000;

/** Every child process started here; `stopChildren` ends them. */
const children = [];

export function log(message) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits for `check()` to return a truthy value; its last error explains a timeout. */
export async function eventually(what, check, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) {
        return value;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    // Polls an HTTP endpoint or the DOM; the interval only bounds how often.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts pairprog-relay on a free loopback port; resolves with its http:// URL. The
 * relay's stderr goes to `stderr` ("inherit", or a file descriptor to keep its log).
 */
export function startRelay(relayBin, databaseUrl, { logLevel = "warn", stderr = "inherit" } = {}) {
  return new Promise((resolve, reject) => {
    const relay = spawn(relayBin, ["--listen", "127.0.0.1:0", "--database-url", databaseUrl, "--log-level", logLevel], {
      stdio: ["ignore", "pipe", stderr],
      // Plain text, also in a log file.
      env: { ...process.env, NO_COLOR: "1" },
    });
    children.push(relay);
    const timer = setTimeout(() => reject(new Error("pairprog-relay did not say where it listens")), WAIT_MS);
    let buffered = "";
    relay.stdout.on("data", (chunk) => {
      buffered += chunk;
      const match = /listening on (https?):\/\/(\S+)/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(`${match[1]}://${match[2]}`);
      }
    });
    relay.once("exit", (code) => reject(new Error(`pairprog-relay exited with ${code}`)));
  });
}

/** Remembers a child process so that `stopChildren` ends it. */
export function track(child) {
  children.push(child);
  return child;
}

export function stopChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
    }
  }
}

/**
 * Starts code-server for `user` with the .vsix installed, its own user-data dir and a
 * workspace folder holding `files` ({ name: text }); resolves once it answers /healthz.
 */
export async function startCodeServer({ codeServer, vsix, lsp, root, user, relayHttp, files }) {
  const dirs = {
    userData: path.join(root, user, "user-data"),
    extensions: path.join(root, user, "extensions"),
    workspace: path.join(root, user, "workspace"),
    config: path.join(root, user, "config.yaml"),
  };
  mkdirSync(path.join(dirs.userData, "User"), { recursive: true });
  mkdirSync(dirs.extensions, { recursive: true });
  mkdirSync(dirs.workspace, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(dirs.workspace, name), text);
  }
  writeFileSync(dirs.config, "auth: none\ncert: false\n");
  writeFileSync(
    path.join(dirs.userData, "User", "settings.json"),
    JSON.stringify(
      {
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "workbench.enableExperiments": false,
        "telemetry.telemetryLevel": "off",
        "extensions.autoUpdate": false,
        "extensions.autoCheckUpdates": false,
        "update.mode": "none",
        "security.workspace.trust.enabled": false,
        // Suggestions and auto-closing would change what the keyboard types.
        "editor.quickSuggestions": { other: "off", comments: "off", strings: "off" },
        "editor.suggestOnTriggerCharacters": false,
        "editor.inlineSuggest.enabled": false,
        "editor.acceptSuggestionOnEnter": "off",
        "editor.autoClosingBrackets": "never",
        "editor.autoClosingQuotes": "never",
        "files.autoSave": "off",
        "pairprog.serverPath": lsp,
        "pairprog.relayUrl": relayHttp.replace(/^http/, "ws"),
        "pairprog.userName": user,
        "pairprog.cursorThrottleMs": 20,
      },
      null,
      2,
    ),
  );
  const common = ["--config", dirs.config, "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions];
  await promisify(execFile)(codeServer, [...common, "--install-extension", vsix], {
    timeout: WAIT_MS,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(root, user, "xdg") },
  });
  const port = await freePort();
  const server = spawn(
    codeServer,
    [
      ...common,
      "--auth",
      "none",
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      dirs.workspace,
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, XDG_CONFIG_HOME: path.join(root, user, "xdg"), PAIRPROG_LOG: "info" },
    },
  );
  children.push(server);
  server.stderr.on("data", (chunk) => {
    for (const line of String(chunk).split("\n")) {
      if (/error|panic/i.test(line)) {
        log(`${user} code-server: ${line.trim()}`);
      }
    }
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(`${user}'s code-server /healthz`, async () => (await fetch(`${url}/healthz`)).ok);
  return { user, url, workspace: dirs.workspace };
}

/** Debian's Chromium through playwright-core, headless. */
export function launchChromium(executablePath) {
  return chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** The text of the editor showing the open file, line by line in screen order. */
export async function editorText(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll(".editor-instance .monaco-editor .view-lines .view-line")];
    lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    return lines.map((line) => line.textContent.replace(/\u00a0/g, " ")).join("\n");
  });
}

export async function statusText(page) {
  const item = page.locator(".statusbar-item", { hasText: /pairprog|·/ }).first();
  return (await item.textContent()) ?? "";
}

export async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT_MS });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor({ timeout: WAIT_MS });
  await page.keyboard.press("Enter");
}

/** Opens the workbench of `server` in `context` and `file` in it (Ctrl+P). */
export async function openWorkbench(context, server, file, firstLine) {
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`${server.user} page error: ${e.message}`));
  await page.goto(`${server.url}/?folder=${encodeURIComponent(server.workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: WAIT_MS });
  // The extension's status-bar item appears once it has activated and its server runs.
  await page.locator(".statusbar-item", { hasText: "pairprog" }).first().waitFor({ timeout: WAIT_MS });
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT_MS });
  await input.fill(file);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: file }).first().waitFor({ timeout: WAIT_MS });
  await page.keyboard.press("Enter");
  await eventually(`${server.user}'s editor to show ${file}`, async () => (await editorText(page)).startsWith(firstLine));
  return page;
}

/** Whether the editor draws a decoration whose label (a ::after) names `name`. */
export async function showsCursorOf(page, name) {
  return page.evaluate((label) => {
    const editor = document.querySelector(".editor-instance .monaco-editor");
    if (!editor) {
      return false;
    }
    return [...editor.querySelectorAll(".view-lines span, .view-lines div")].some((el) =>
      getComputedStyle(el, "::after").content.includes(label),
    );
  }, name);
}

/**
 * Where the editor draws the label naming `name`: the text of its line and the text of
 * that line before the label (Monaco renders spaces as no-break spaces), or undefined.
 */
export async function labelPlace(page, name) {
  return page.evaluate((label) => {
    const editor = document.querySelector(".editor-instance .monaco-editor");
    for (const el of editor ? editor.querySelectorAll(".view-lines span") : []) {
      if (!getComputedStyle(el, "::after").content.includes(label)) {
        continue;
      }
      const line = el.closest(".view-line");
      if (!line) {
        continue;
      }
      const before = document.createRange();
      before.setStart(line, 0);
      before.setEndBefore(el);
      const plain = (s) => s.replace(/\u00a0/g, " ");
      return { line: plain(line.textContent ?? ""), before: plain(before.toString()) };
    }
    return undefined;
  }, name);
}
