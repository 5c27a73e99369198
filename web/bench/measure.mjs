// Measures the web client for docs/BENCHMARKS.md ("Web client"); not part of the tests.
//
//   PAIRPROG_RELAY_BIN=target/release/pairprog-relay node web/bench/measure.mjs
//   CONFIGS='before=/a/pairprog-relay,after=/b/pairprog-relay' ROUNDS=5 node web/bench/measure.mjs
//
// CONFIGS names relay binaries (each embeds its own web/dist) to compare in paired runs:
// every round runs each configuration once, in an order that alternates between rounds,
// so a change in the machine's load falls on all of them alike. A configuration may add
// `@DIR` to put its SQLite file in DIR (for example /dev/shm, to see what fsync costs),
// and `+DIST` to serve the pages from that web/dist through playwright's routing instead
// of the binary's embedded copy, to compare two page builds with one relay binary (both
// sides of such a comparison should be routed: routing adds its own delay; Chromium
// treats routed pages as not local, so the bench turns its local network checks off).
//
// 1. The gzipped size of each file in web/dist (level 9).
// 2. Navigation → editable document: a fresh page opens a room on loopback; the page
//    records performance.now() (milliseconds since navigation start) when the first
//    document is shown and editable, and marks the steps before it (script running,
//    welcome, opened). NAV pages per round.
// 3. Keystroke → other page: one page types KEYS characters, one every 20 ms; the other
//    page notes when each is applied (its `pairprog:remote` event). Both pages read the
//    same clock (performance.timeOrigin + performance.now()). Each keystroke's time is
//    split into: keydown → its operation sent (the page, and waiting behind the one
//    operation in flight), sent → received by the other page (the relay: commit and
//    broadcast), received → applied (the other page).

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const CONFIGS = (process.env.CONFIGS ?? `relay=${process.env.PAIRPROG_RELAY_BIN ?? ""}`).split(",").map((spec) => {
  const [name, rest] = spec.split("=");
  const [binDb, dist] = rest.split("+");
  const [bin, dbDir] = binDb.split("@");
  if (!bin) throw new Error("PAIRPROG_RELAY_BIN (or CONFIGS) must name a built pairprog-relay");
  return { name, bin, dbDir: dbDir ?? tmpdir(), dist };
});
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const NAV = Number(process.env.NAV ?? 30);
const KEYS = Number(process.env.KEYS ?? 300);
const DIST = path.resolve(import.meta.dirname, "../dist");

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const f1 = (x) => (x === undefined ? "-" : x.toFixed(1));

console.log("## bundle of this tree's web/dist (gzip -9)");
let total = 0;
for (const f of readdirSync(DIST).sort()) {
  const gz = gzipSync(readFileSync(path.join(DIST, f)), { level: 9 }).length;
  total += gz;
  console.log(`${f}\t${(gz / 1024).toFixed(1)} KB`);
}
console.log(`all\t${(total / 1024).toFixed(1)} KB`);

// Records, in a page, when each WebSocket frame is sent and received (before the page's
// own handler runs), and when each key goes down.
function instrument() {
  window.frames_ = [];
  window.keyTimes = [];
  const now = () => performance.timeOrigin + performance.now();
  const Base = window.WebSocket;
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => window.frames_.push({ dir: "in", at: now(), data: e.data }));
    }
    send(data) {
      window.frames_.push({ dir: "out", at: now(), data });
      super.send(data);
    }
  };
  document.addEventListener("keydown", () => window.keyTimes.push(now()), true);
}

async function startRelay(bin, dbDir) {
  const dir = mkdtempSync(path.join(dbDir, "pairprog-web-bench-"));
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--database-url", `sqlite:${path.join(dir, "db")}`, "--log-level", "warn"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const origin = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("the relay did not start")), 15000);
    child.stdout.on("data", (c) => {
      buf += c;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { child, dir, origin };
}

async function createRoom(origin) {
  const res = await fetch(`${origin}/api/rooms`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ secrets: true, path: "main.py", language: "python", code: "def f(x):\n    return x\n".repeat(50) }),
    signal: AbortSignal.timeout(10000),
  });
  const room = await res.json();
  return `${origin}/r/${room.roomId}#${room.joinSecret}`;
}

/** A context whose pages come from `dist` when it is given (see CONFIGS above). */
async function newContext(browser, dist) {
  const context = await browser.newContext();
  if (dist === undefined) return context;
  await context.route(/\/assets\/[^/]+$/, (r) => {
    const file = new URL(r.request().url()).pathname.split("/").pop();
    r.fulfill({ body: readFileSync(path.join(dist, file)), contentType: file.endsWith(".css") ? "text/css" : "text/javascript" });
  });
  await context.route(/\/r\/[^/]+$/, async (r) => {
    const res = await r.fetch();
    const nonce = /'nonce-([^']+)'/.exec(res.headers()["content-security-policy"])[1];
    r.fulfill({ response: res, body: readFileSync(path.join(dist, "room.html"), "utf8").replace("__CSP_NONCE__", nonce) });
  });
  return context;
}

async function navigation(browser, dist, link, out) {
  for (let i = 0; i < NAV; i++) {
    const context = await newContext(browser, dist);
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForFunction(() => window.pairprog?.readyAt() != null, null, { timeout: 10000 });
    out.push(
      await page.evaluate(() => {
        const mark = (n) => performance.getEntriesByName(n)[0]?.startTime;
        const nav = performance.getEntriesByType("navigation")[0];
        const script = performance.getEntriesByType("resource").find((r) => r.name.endsWith("/assets/room.js"));
        return {
          ready: window.pairprog.readyAt(),
          html: nav.responseEnd,
          js: script?.responseEnd,
          script: mark("pairprog:script"),
          welcome: mark("pairprog:welcome"),
          opened: mark("pairprog:opened"),
        };
      }),
    );
    await context.close();
  }
}

async function keystrokes(browser, dist, link, out) {
  const [a, b] = await Promise.all([0, 1].map(async () => (await newContext(browser, dist)).newPage()));
  for (const p of [a, b]) {
    await p.addInitScript(instrument);
    await p.goto(link);
    await p.waitForFunction(() => window.pairprog?.readyAt() != null, null, { timeout: 10000 });
  }
  await b.evaluate(() => {
    window.arrivals = [];
    const start = window.pairprog.text().length;
    window.addEventListener("pairprog:remote", () => {
      const n = window.pairprog.text().length - start;
      while (window.arrivals.length < n) window.arrivals.push(performance.timeOrigin + performance.now());
    });
  });
  await a.locator(".cm-content").click();
  await a.keyboard.press("Control+End");
  await a.evaluate(() => {
    window.keyTimes = [];
    window.frames_ = [];
  });
  await b.evaluate(() => (window.frames_ = []));
  for (let i = 0; i < KEYS; i++) {
    await a.keyboard.type(String.fromCharCode(97 + (i % 26)));
    await new Promise((r) => setTimeout(r, 20));
  }
  await b.waitForFunction((n) => window.arrivals.length >= n, KEYS, { timeout: 30000 });
  const keyTimes = await a.evaluate(() => window.keyTimes);
  const framesA = await a.evaluate(() => window.frames_);
  const framesB = await b.evaluate(() => window.frames_);
  const arrivals = await b.evaluate(() => window.arrivals);
  await Promise.all([a.context().close(), b.context().close()]);

  // Which operation carried key i: the ops' inserted chars, in order of sending.
  const sends = [];
  const ackAt = new Map();
  for (const f of framesA) {
    const msg = JSON.parse(f.data);
    if (f.dir === "out" && msg.type === "op") {
      const inserted = msg.op.filter((c) => typeof c === "string").join("").length;
      sends.push({ at: f.at, seq: msg.seq, inserted });
    }
    if (f.dir === "in" && msg.type === "ack") ackAt.set(msg.seq, { at: f.at, revision: msg.revision });
  }
  const receivedAt = new Map();
  for (const f of framesB) {
    const msg = JSON.parse(f.data);
    if (msg.type === "remote") receivedAt.set(msg.revision, f.at);
  }
  let op = 0;
  let carried = 0;
  for (let i = 0; i < KEYS; i++) {
    while (op < sends.length && carried + sends[op].inserted <= i) carried += sends[op++].inserted;
    const s = sends[op];
    const ack = s && ackAt.get(s.seq);
    const recv = ack && receivedAt.get(ack.revision);
    out.push({
      total: arrivals[i] - keyTimes[i],
      page: s ? s.at - keyTimes[i] : undefined,
      relay: recv !== undefined ? recv - s.at : undefined,
      ack: ack ? ack.at - s.at : undefined,
      apply: recv !== undefined ? arrivals[i] - recv : undefined,
    });
  }
  return sends.length;
}

const results = new Map(CONFIGS.map((c) => [c.name, { nav: [], keys: [], ops: 0 }]));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    ...(CONFIGS.some((c) => c.dist !== undefined) ? ["--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets"] : []),
  ],
});
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
    for (const config of order) {
      const relay = await startRelay(config.bin, config.dbDir);
      try {
        const link = await createRoom(relay.origin);
        const r = results.get(config.name);
        await navigation(browser, config.dist, link, r.nav);
        r.ops += await keystrokes(browser, config.dist, link, r.keys);
      } finally {
        relay.child.kill("SIGKILL");
        rmSync(relay.dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  await browser.close();
}

for (const [name, r] of results) {
  const col = (rows, k, p) => f1(pct(rows.map((x) => x[k]).filter((x) => x !== undefined), p));
  console.log(`\n## ${name}: navigation → editable document (${r.nav.length} fresh pages, ms since navigation start, medians)`);
  console.log(
    `html ${col(r.nav, "html", 50)}, room.js ${col(r.nav, "js", 50)}, script running ${col(r.nav, "script", 50)}, welcome ${col(r.nav, "welcome", 50)}, opened ${col(r.nav, "opened", 50)}, editable ${col(r.nav, "ready", 50)} (p95 ${col(r.nav, "ready", 95)}, max ${f1(Math.max(...r.nav.map((x) => x.ready)))})`,
  );
  console.log(`\n## ${name}: keystroke → other page (${r.keys.length} keystrokes in ${r.ops} operations, SQLite)`);
  for (const [k, label] of [
    ["total", "keydown → applied on the other page"],
    ["page", "keydown → its operation sent"],
    ["relay", "sent → received by the other page"],
    ["ack", "sent → ack received"],
    ["apply", "received → applied"],
  ]) {
    console.log(`${label}: p50 ${col(r.keys, k, 50)} ms, p99 ${col(r.keys, k, 99)} ms, max ${col(r.keys, k, 100)} ms`);
  }
}
