// End-to-end test in real VS Code: two code-server instances (VS Code 1.100.3), each with
// the packaged .vsix installed, its own user-data dir and its own workspace folder holding
// the same file, a real pairprog-relay on PostgreSQL and the real pairprog-lsp. Chromium
// (Debian's, driven by playwright-core) plays the two users.
//
// Alice creates a room, Bob joins it with the id; text typed by each appears for the
// other; both type at once and end identical to the relay's copy; Bob sees Alice's
// cursor decoration. A screenshot of each page is saved in test-artifacts/.
//
// Every wait is on an event (the DOM, an HTTP answer, a process line), bounded in time.
//
// Environment: PAIRPROG_LSP_BIN, PAIRPROG_RELAY_BIN, CODE_SERVER (the code-server
// executable), DATABASE_URL, CHROMIUM (default /usr/bin/chromium), VSIX (default
// dist/pairprog.vsix), ARTIFACTS (default test-artifacts).

import { spawn, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionDir = path.resolve(here, "../..");
const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (!value) {
    throw new Error(`${name} must be set`);
  }
  return value;
};

const LSP = env("PAIRPROG_LSP_BIN");
const RELAY = env("PAIRPROG_RELAY_BIN");
const CODE_SERVER = env("CODE_SERVER");
const DATABASE_URL = env("DATABASE_URL");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
const VSIX = path.resolve(extensionDir, env("VSIX", "dist/pairprog.vsix"));
const ARTIFACTS = path.resolve(extensionDir, env("ARTIFACTS", "test-artifacts"));
/** Every single wait gives up after this long. */
const WAIT_MS = 45_000;
/** The whole test gives up after this long. */
const TOTAL_MS = 5 * 60_000;

const FILE = "notes.txt";
const INITIAL = "shared notes\n";

const children = [];
let browser;
let root;

function log(message) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

async function freePort() {
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
async function eventually(what, check, timeoutMs = WAIT_MS) {
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

function startRelay() {
  return new Promise((resolve, reject) => {
    const relay = spawn(RELAY, ["--listen", "127.0.0.1:0", "--database-url", DATABASE_URL, "--log-level", "warn"], {
      stdio: ["ignore", "pipe", "inherit"],
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

async function startCodeServer(root, user, relayHttp) {
  const dirs = {
    userData: path.join(root, user, "user-data"),
    extensions: path.join(root, user, "extensions"),
    workspace: path.join(root, user, "workspace"),
    config: path.join(root, user, "config.yaml"),
  };
  mkdirSync(path.join(dirs.userData, "User"), { recursive: true });
  mkdirSync(dirs.extensions, { recursive: true });
  mkdirSync(dirs.workspace, { recursive: true });
  writeFileSync(path.join(dirs.workspace, FILE), INITIAL);
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
        "pairprog.serverPath": LSP,
        "pairprog.relayUrl": relayHttp.replace(/^http/, "ws"),
        "pairprog.userName": user,
        "pairprog.cursorThrottleMs": 20,
      },
      null,
      2,
    ),
  );
  const common = ["--config", dirs.config, "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions];
  await promisify(execFile)(CODE_SERVER, [...common, "--install-extension", VSIX], {
    timeout: WAIT_MS,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(root, user, "xdg") },
  });
  const port = await freePort();
  const server = spawn(
    CODE_SERVER,
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

/** The text of the editor showing FILE, line by line in screen order. */
async function editorText(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll(".editor-instance .monaco-editor .view-lines .view-line")];
    lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    return lines.map((line) => line.textContent.replace(/\u00a0/g, " ")).join("\n");
  });
}

async function statusText(page) {
  const item = page.locator(".statusbar-item", { hasText: /pairprog|·/ }).first();
  return (await item.textContent()) ?? "";
}

async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT_MS });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor({ timeout: WAIT_MS });
  await page.keyboard.press("Enter");
}

async function openWorkbench(context, server) {
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`${server.user} page error: ${e.message}`));
  await page.goto(`${server.url}/?folder=${encodeURIComponent(server.workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: WAIT_MS });
  // The extension's status-bar item appears once it has activated and its server runs.
  await page.locator(".statusbar-item", { hasText: "pairprog" }).first().waitFor({ timeout: WAIT_MS });
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT_MS });
  await input.fill(FILE);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: FILE }).first().waitFor({ timeout: WAIT_MS });
  await page.keyboard.press("Enter");
  await eventually(`${server.user}'s editor to show ${FILE}`, async () => (await editorText(page)).startsWith("shared notes"));
  return page;
}

async function typeAtEnd(page, text, delay) {
  await page.locator(".editor-instance .monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(text, { delay });
}

async function relayText(relayHttp, room) {
  const response = await fetch(`${relayHttp}/api/rooms/${room}/documents/${encodeURIComponent(FILE)}`);
  if (!response.ok) {
    throw new Error(`GET document: HTTP ${response.status}`);
  }
  return (await response.json()).text;
}

/** Whether Bob's editor draws a decoration whose label (a ::after) names `name`. */
async function showsCursorOf(page, name) {
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
 * Where Bob's editor draws the label naming `name`: the text of its line and the text of
 * that line before the label (Monaco renders spaces as no-break spaces), or undefined.
 */
async function labelPlace(page, name) {
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

async function main() {
  root = mkdtempSync(path.join(tmpdir(), "pairprog-vscode-e2e-"));
  mkdirSync(ARTIFACTS, { recursive: true });
  const relayHttp = await startRelay();
  log(`relay at ${relayHttp}`);
  const [alice, bob] = await Promise.all([
    startCodeServer(root, "alice", relayHttp),
    startCodeServer(root, "bob", relayHttp),
  ]);
  log(`code-server: alice ${alice.url}, bob ${bob.url}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
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
  const pages = [];
  try {
    const a = await openWorkbench(await browser.newContext({ viewport: { width: 1280, height: 800 } }), alice);
    const b = await openWorkbench(await browser.newContext({ viewport: { width: 1280, height: 800 } }), bob);
    pages.push(a, b);
    log("both workbenches show the file");

    await runCommand(a, "Pairprog: Create Room");
    const room = await eventually("alice's status bar to show the new room", async () => {
      const match = /([A-Za-z0-9_-]{4,})\s*·\s*1/.exec(await statusText(a));
      return match?.[1];
    });
    log(`alice created room ${room}`);
    // One action, one notification: pairprog-lsp's own "created" and "joined" messages
    // go to the log and the status bar, not to more toasts.
    const toasts = async () =>
      (await a.locator(".notifications-toasts .notification-toast").allInnerTexts()).filter((t) =>
        t.includes("pairprog"),
      );
    await eventually("alice's create notification", async () => (await toasts()).length >= 1);

    await runCommand(b, "Pairprog: Join Room");
    await b.locator(".quick-input-widget input:focus").waitFor({ timeout: WAIT_MS });
    await b.keyboard.type(room);
    await b.keyboard.press("Enter");
    await eventually("both status bars to count 2 participants", async () =>
      (await statusText(a)).includes(`${room} · 2`) && (await statusText(b)).includes(`${room} · 2`),
    );
    log("bob joined");
    const shown = await toasts();
    if (shown.length !== 1) {
      throw new Error(`Create Room showed ${shown.length} notifications: ${JSON.stringify(shown)}`);
    }
    log("create room showed one notification");

    await typeAtEnd(a, "alice was here", 15);
    await eventually("alice's typing in bob's editor", async () => (await editorText(b)).includes("alice was here"));
    log("alice -> bob");
    await typeAtEnd(b, " and bob too", 15);
    await eventually("bob's typing in alice's editor", async () => (await editorText(a)).includes("and bob too"));
    log("bob -> alice");

    await Promise.all([
      typeAtEnd(a, " AAAA AAAA AAAA", 25),
      (async () => {
        await b.locator(".editor-instance .monaco-editor .view-lines").first().click();
        await b.keyboard.press("Control+Home");
        await b.keyboard.type("bbbb bbbb bbbb ", { delay: 25 });
      })(),
    ]);
    const final = await eventually("both editors and the relay to hold the same text", async () => {
      const [ta, tb, tr] = await Promise.all([editorText(a), editorText(b), relayText(relayHttp, room)]);
      // Converged once all three agree and both users' last keystrokes are in.
      return ta === tb && tb === tr.replace(/\n$/, "") && ta.includes("AAA") && ta.includes("bbb ") ? ta : undefined;
    });
    log(`converged on ${JSON.stringify(final)}`);
    // Each typed at a place the other's edits do not move, so every keystroke has one
    // place: a lost or doubled one shows here.
    const expected = "bbbb bbbb bbbb shared notes\nalice was here and bob too AAAA AAAA AAAA";
    if (final !== expected) {
      throw new Error(`keystrokes lost or doubled: expected ${JSON.stringify(expected)}, got ${JSON.stringify(final)}`);
    }

    // Alice's caret is where she stopped typing, at the end of her line: Bob's editor
    // must draw her label there, not where her caret was before she typed.
    const aliceLine = "alice was here and bob too AAAA AAAA AAAA";
    let place;
    try {
      await eventually("bob's editor to draw alice's label at the end of her typing", async () => {
        place = await labelPlace(b, "alice");
        return place?.line === aliceLine && place.before === aliceLine;
      });
    } catch (e) {
      throw new Error(`alice's label is drawn at ${JSON.stringify(place)}, not after ${JSON.stringify(aliceLine)}: ${e}`);
    }
    log(`bob draws alice's label at the end of her typing`);

    // Alice's caret moves with her typing; put it somewhere Bob is not and wait for his
    // editor to draw it with her name.
    await a.locator(".editor-instance .monaco-editor .view-lines").first().click();
    await a.keyboard.press("Control+End");
    await eventually("bob's editor to show alice's cursor", async () => showsCursorOf(b, "alice"));
    log("bob sees alice's cursor");
  } finally {
    for (const [i, page] of pages.entries()) {
      await page
        .screenshot({ path: path.join(ARTIFACTS, `${i === 0 ? "alice" : "bob"}.png`) })
        .catch((e) => log(`screenshot failed: ${e.message}`));
    }
    // Leaving the page first lets the extension host end with it.
    for (const page of pages) {
      await page.goto("about:blank").catch(() => undefined);
    }
    log(`screenshots in ${ARTIFACTS}`);
  }
}

function cleanup() {
  void browser?.close().catch(() => undefined);
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
    }
  }
  if (root) {
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  }
}

const overall = setTimeout(() => {
  console.error(`e2e: gave up after ${TOTAL_MS / 1000} s`);
  cleanup();
  process.exit(1);
}, TOTAL_MS);

main()
  .then(async () => {
    await browser?.close();
    cleanup();
    clearTimeout(overall);
    console.log("vscode e2e: passed");
  })
  .catch(async (e) => {
    console.error(`vscode e2e: FAILED: ${e.stack ?? e}`);
    await browser?.close().catch(() => undefined);
    cleanup();
    clearTimeout(overall);
    process.exitCode = 1;
  });
