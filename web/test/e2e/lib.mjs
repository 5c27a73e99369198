// What the end-to-end scenarios share: bounded waits, the relay child process, pages
// that report CSP violations, page errors, foreign requests and 404s, and reads of a
// document from the pages and from the relay's REST API.

import { spawn } from "node:child_process";
import { createServer } from "node:net";

export const WAIT_MS = 15_000;

export function log(msg) {
  console.log(`# ${msg}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export function countOf(haystack, needle) {
  return haystack.split(needle).length - 1;
}

export async function waitFor(what, fn, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${String(last)})`);
    // Polls the page or the relay; the interval only bounds how often.
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function startRelay(bin, port, dbUrl) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["--listen", `127.0.0.1:${port}`, "--database-url", dbUrl, "--log-level", "warn"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const timer = setTimeout(() => reject(new Error("pairprog-relay did not say where it listens")), WAIT_MS);
    let buffered = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      if (/listening on/.test(buffered)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`pairprog-relay exited with ${code ?? signal}`));
    });
  });
}

export function kill(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** A page in its own browser context, named `name` in the room; what goes wrong lands in `problems`. */
export async function newPage(browser, origin, problems, name, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, ...options });
  // Only the first page of the context: a name typed on the home page must survive navigation.
  await context.addInitScript((n) => {
    if (localStorage.getItem("pairprog.name") === null) localStorage.setItem("pairprog.name", n);
  }, name);
  const page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`${name}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith(origin.replace("http", "ws")) && !r.url().startsWith("data:")) {
      problems.push(`${name}: a request left the origin: ${r.url()}`);
    }
  });
  // A page asks for nothing the relay does not have (a /favicon.ico, a missing asset).
  page.on("response", (r) => {
    if (r.status() === 404) problems.push(`${name}: 404 for ${r.url()}`);
  });
  return page;
}

export const text = (page, file) => page.evaluate((f) => window.pairprog.text(f), file);
export const synced = (page) => page.evaluate(() => window.pairprog.synced());
export const statusOf = (page) => page.locator("#status").textContent();

export async function joined(page) {
  await waitFor("the page to join and show the document", async () =>
    (await page.locator("#status").getAttribute("data-state")) === "connected" && (await page.locator(".cm-content").isVisible()),
  );
}

export async function restText(origin, roomId, secret, file) {
  const res = await fetch(`${origin}/api/rooms/${roomId}/documents/${encodeURIComponent(file)}`, {
    headers: secret ? { Authorization: `Bearer ${secret}` } : {},
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`REST read answered ${res.status}`);
  return (await res.json()).text;
}

/** Waits until every page is synchronised and shows the relay's text; returns it. */
export async function settle(pages, origin, roomId, secret, file) {
  await waitFor("every page to be synchronised and agree with the relay", async () => {
    for (const p of pages) if (!(await synced(p))) throw new Error(`not synchronised: ${JSON.stringify(await Promise.all(pages.map((q) => text(q, file))))}`);
    const texts = await Promise.all(pages.map((p) => text(p, file)));
    const rest = await restText(origin, roomId, secret, file);
    // On a timeout, the last state is in the error message.
    if (!texts.every((t) => t === rest)) throw new Error(JSON.stringify({ texts, rest }));
    return true;
  });
  return restText(origin, roomId, secret, file);
}

export async function typeTokens(page, prefix, n, delay) {
  const tokens = [];
  for (let i = 0; i < n; i++) {
    const token = `<${prefix}${String(i).padStart(2, "0")}>`;
    tokens.push(token);
    await page.keyboard.type(token, { delay });
  }
  return tokens;
}

/** Presses Tab (at most `max` times) until `locator` has the focus: it is reachable by keyboard. */
export async function tabTo(page, locator, what, max = 30) {
  for (let i = 0; i < max; i++) {
    if (await locator.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${what} was not reached with ${max} presses of Tab`);
}
