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

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  editorText,
  env,
  eventually,
  extensionDir,
  labelPlace,
  launchChromium,
  log,
  openWorkbench,
  runCommand,
  showsCursorOf,
  startCodeServer,
  startRelay,
  statusText,
  stopChildren,
  WAIT_MS,
} from "./harness.mjs";

const LSP = env("PAIRPROG_LSP_BIN");
const RELAY = env("PAIRPROG_RELAY_BIN");
const CODE_SERVER = env("CODE_SERVER");
const DATABASE_URL = env("DATABASE_URL");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
const VSIX = path.resolve(extensionDir, env("VSIX", "dist/pairprog.vsix"));
const ARTIFACTS = path.resolve(extensionDir, env("ARTIFACTS", "test-artifacts"));
/** The whole test gives up after this long. */
const TOTAL_MS = 5 * 60_000;

const FILE = "notes.txt";
const INITIAL = "shared notes\n";

let browser;
let root;

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

async function main() {
  root = mkdtempSync(path.join(tmpdir(), "pairprog-vscode-e2e-"));
  mkdirSync(ARTIFACTS, { recursive: true });
  const relayHttp = await startRelay(RELAY, DATABASE_URL);
  log(`relay at ${relayHttp}`);
  const start = (user) =>
    startCodeServer({ codeServer: CODE_SERVER, vsix: VSIX, lsp: LSP, root, user, relayHttp, files: { [FILE]: INITIAL } });
  const [alice, bob] = await Promise.all([start("alice"), start("bob")]);
  log(`code-server: alice ${alice.url}, bob ${bob.url}`);

  browser = await launchChromium(CHROMIUM);
  const pages = [];
  try {
    const a = await openWorkbench(await browser.newContext({ viewport: { width: 1280, height: 800 } }), alice, FILE, "shared notes");
    const b = await openWorkbench(await browser.newContext({ viewport: { width: 1280, height: 800 } }), bob, FILE, "shared notes");
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
  stopChildren();
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
