// End-to-end tests of the web client in Debian's Chromium (driven by playwright-core,
// which never downloads a browser) against a real pairprog-relay on SQLite in a temp
// dir. Every wait is bounded; the whole run takes well under a minute.
//
// Environment: PAIRPROG_RELAY_BIN (required), CHROMIUM (default /usr/bin/chromium).
// Screenshots go to web/test-artifacts/.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  assert,
  countOf,
  freePort,
  joined,
  kill,
  log,
  newPage as openPage,
  restText,
  settle,
  startRelay as spawnRelay,
  statusOf,
  text,
  typeTokens,
  waitFor,
  WAIT_MS,
} from "./lib.mjs";
import { keyboardOnly } from "./keyboard.mjs";
import { regressionFastTypingAtTheEndOfALongUnwrappedLine } from "./long-line.mjs";

const RELAY = process.env.PAIRPROG_RELAY_BIN;
if (!RELAY) throw new Error("PAIRPROG_RELAY_BIN must name a built pairprog-relay");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

const dataDir = mkdtempSync(path.join(tmpdir(), "pairprog-web-e2e-"));
const dbUrl = `sqlite:${path.join(dataDir, "relay.db")}`;
let relay = null;
let browser = null;
const problems = [];
const startRelay = (port) => spawnRelay(RELAY, port, dbUrl);
const newPage = (origin, name, options) => openPage(browser, origin, problems, name, options);

async function main() {
  const started = Date.now();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  relay = await startRelay(port);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });

  // Headers of the page routes.
  for (const route of ["/", "/r/anything", "/docs"]) {
    const res = await fetch(origin + route, { signal: AbortSignal.timeout(5000) });
    assert(res.ok, `${route} answers 200`);
    const csp = res.headers.get("content-security-policy") ?? "";
    const scripts = /script-src ([^;]*)/.exec(csp)?.[1] ?? "";
    assert(scripts === "'self'" && /default-src 'none'/.test(csp) && /connect-src 'self'/.test(csp), `${route} has a strict CSP: ${csp}`);
    assert(res.headers.get("x-content-type-options") === "nosniff", `${route} has nosniff`);
    assert(res.headers.get("referrer-policy") === "no-referrer", `${route} has no-referrer`);
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    const html = await res.text();
    assert(nonce !== undefined && html.includes(`content="${nonce}"`), `${route} hands the page its nonce`);
    // Headless Chromium never asks for /favicon.ico, so the 404 check in lib.mjs cannot
    // see it: the page must declare an icon the CSP allows, or a browser asks for one.
    assert(html.includes('<link rel="icon" href="data:,">') && /img-src [^;]*data:/.test(csp), `${route} declares an inline icon`);
  }
  const again = (await fetch(origin + "/", { signal: AbortSignal.timeout(5000) })).headers.get("content-security-policy");
  assert(!again?.includes(/'nonce-([^']+)'/.exec((await fetch(origin + "/")).headers.get("content-security-policy") ?? "")?.[1] ?? "-"), "each response has a new nonce");
  const asset = await fetch(origin + "/assets/room.js", { signal: AbortSignal.timeout(5000) });
  assert(asset.headers.get("x-content-type-options") === "nosniff" && asset.headers.get("content-type")?.startsWith("text/javascript"), "assets are typed and nosniff");
  log("page routes carry CSP, nosniff and no-referrer, and declare an inline icon (no /favicon.ico request)");

  // Ada creates a room with secrets and a Python file from the home page.
  const ada = await newPage(origin, "Ada");
  await ada.goto(origin + "/");
  await ada.screenshot({ path: path.join(ARTIFACTS, "home.png") });
  await ada.getByLabel("Language").selectOption("python");
  await ada.getByLabel("Its first text").fill("def greet(name):\n    return name\n");
  await ada.getByRole("button", { name: "Create room" }).click();
  await ada.waitForURL(/\/r\/[^#]+#.+/, { timeout: WAIT_MS });
  await joined(ada);
  const link = ada.url();
  const roomId = new URL(link).pathname.split("/").pop();
  const secret = new URL(link).hash.slice(1);
  assert(!link.includes("?"), "the link carries no query");
  assert((await text(ada)).startsWith("def greet"), "the first file is shown");
  assert((await ada.locator("#files button").first().textContent()) === "main.py", "the file list shows main.py");
  log(`room ${roomId} created from the home page`);

  // The read-only link, from the copy button.
  await ada.getByRole("button", { name: "Copy read-only link" }).click();
  const readOnlyLink = await waitFor("the read-only link", () => ada.locator("#link-field").inputValue());
  assert(readOnlyLink.includes("#") && !readOnlyLink.endsWith(secret), "the read-only link has the other secret");

  // Grace joins with the link; both type unique tokens at once.
  const grace = await newPage(origin, "Grace");
  await grace.goto(link);
  await joined(grace);
  await waitFor("both to see two people", async () => (await ada.locator("#count").textContent()) === "2" && (await grace.locator("#count").textContent()) === "2");
  await ada.locator(".cm-content").click();
  await ada.keyboard.press("Control+End");
  await grace.locator(".cm-content").click();
  await grace.keyboard.press("Control+Home");
  const [aTokens, gTokens] = await Promise.all([typeTokens(ada, "a", 25, 4), typeTokens(grace, "g", 25, 4)]);
  const after = await settle([ada, grace], origin, roomId, secret, "main.py");
  for (const t of [...aTokens, ...gTokens]) assert(countOf(after, t) === 1, `${t} appears exactly once in ${JSON.stringify(after)}`);
  log("two pages typed 50 unique tokens concurrently: each appears once; both pages and the relay agree");

  // Grace sees Ada's cursor with her name.
  await ada.keyboard.press("Control+Home");
  await waitFor("Ada's caret on Grace's page", async () => (await grace.locator(".pp-caret-name").allTextContents()).includes("Ada"));

  // A read-only participant cannot change the text.
  const reader = await newPage(origin, "Reader");
  await reader.goto(readOnlyLink);
  await joined(reader);
  assert(await reader.locator("#readonly-badge").isVisible(), "the read-only badge shows");
  const before = await text(reader);
  await reader.locator(".cm-content").click();
  await reader.keyboard.type("SHOULD-NOT-APPEAR");
  await ada.keyboard.type("<after-reader>");
  await settle([ada, grace, reader], origin, roomId, secret, "main.py");
  const withReader = await restText(origin, roomId, secret, "main.py");
  assert(!withReader.includes("SHOULD-NOT-APPEAR"), "the read-only page changed nothing");
  assert(withReader.length === before.length + "<after-reader>".length, "only Ada's edit arrived");
  await waitFor("three people listed", async () => (await ada.locator("#count").textContent()) === "3");
  await waitFor("the reader's caret on Ada's page", async () => (await ada.locator(".pp-caret-name").allTextContents()).includes("Reader"));
  await ada.screenshot({ path: path.join(ARTIFACTS, "room-three-people.png") });
  log("a read-only link cannot change the text; a room with three people is in test-artifacts/");

  // A wrong secret gets a clear message and no editor.
  const stranger = await newPage(origin, "Stranger");
  await stranger.goto(`${origin}/r/${roomId}#not-the-secret`);
  await waitFor("the wrong-secret message", async () => /wrong or missing room secret/.test((await stranger.locator("#message").textContent()) ?? ""));
  assert((await stranger.locator("#status").getAttribute("data-state")) === "failed", "the wrong secret stops reconnecting");
  log(`a wrong secret gets: ${await stranger.locator("#message").textContent()}`);
  await stranger.context().close();

  // Adding a file; Grace sees it in her list and opens it.
  await ada.getByLabel("New file").fill("notes.rs");
  await ada.getByRole("button", { name: "Add file" }).click();
  await waitFor("the new file on Ada's page", async () => (await ada.evaluate(() => window.pairprog.active())) === "notes.rs" && (await ada.locator(".cm-content").isVisible()));
  await ada.locator(".cm-content").click();
  await ada.keyboard.type("fn main() {}");
  await grace.getByRole("button", { name: "Open notes.rs" }).click();
  await waitFor("Grace to see the new file's text", async () => {
    const seen = await text(grace);
    if (seen !== "fn main() {}") throw new Error(`Grace sees ${JSON.stringify(seen)} in ${await grace.evaluate(() => window.pairprog.active())}; Ada ${JSON.stringify(await text(ada))}`);
    return true;
  });
  log("a file added on one page is listed, opened and shared on the other");

  // The relay is killed while Ada types, and restarted: nothing typed is lost.
  await ada.getByRole("button", { name: "Open main.py" }).click();
  await ada.locator(".cm-content").click();
  await ada.keyboard.press("Control+End");
  const typing = typeTokens(ada, "k", 40, 15);
  await waitFor("some tokens typed before the kill", async () => (await text(ada)).includes("<k05>"));
  await kill(relay);
  await waitFor("the page to notice the relay is gone", async () => /Offline/.test((await statusOf(ada)) ?? ""));
  await waitFor("more tokens typed while offline", async () => (await text(ada)).includes("<k20>"));
  relay = await startRelay(port);
  const kTokens = await typing;
  await waitFor("the page to say it reconnected", async () => (await statusOf(ada)) === "Reconnected");
  const final = await settle([ada, grace], origin, roomId, secret, "main.py");
  for (const t of kTokens) assert(countOf(final, t) === 1, `${t} (typed around the restart) appears exactly once in ${JSON.stringify(final)}`);
  log("relay killed (SIGKILL) and restarted while a page typed: all 40 tokens arrived once; the page says Reconnected");

  // The API page renders from /openapi.json.
  const docs = await newPage(origin, "Docs");
  await docs.goto(origin + "/docs");
  await waitFor("the API page", async () => (await docs.locator("main").textContent())?.includes("/api/rooms"));
  log("/docs renders the OpenAPI document");

  await keyboardOnly({ browser, origin, problems });
  await regressionFastTypingAtTheEndOfALongUnwrappedLine({ browser, origin, problems });

  assert(problems.length === 0, `no CSP violations, page errors or foreign requests:\n${problems.join("\n")}`);
  log(`all web end-to-end tests passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  await main();
} catch (e) {
  console.error(`not ok: ${e instanceof Error ? e.stack : String(e)}`);
  if (problems.length > 0) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  if (relay) await kill(relay);
  rmSync(dataDir, { recursive: true, force: true });
}
