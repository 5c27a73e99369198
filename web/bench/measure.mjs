// Measures the web client for docs/BENCHMARKS.md ("Web client"); not part of the tests.
//
//   PAIRPROG_RELAY_BIN=target/release/pairprog-relay node web/bench/measure.mjs
//
// 1. The gzipped size of each file in web/dist (level 9).
// 2. Navigation → editable document: a fresh page opens a room on loopback; the page
//    records performance.now() (milliseconds since navigation start) when the first
//    document is shown and editable. RUNS pages, median and p95.
// 3. Keystroke → other page: one page types KEYS characters, one every 20 ms; the other
//    page notes when each is applied (its `pairprog:remote` event). Both pages read the same clock
//    (performance.timeOrigin + performance.now()). The relay runs on SQLite in a temp dir.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const RELAY = process.env.PAIRPROG_RELAY_BIN;
if (!RELAY) throw new Error("PAIRPROG_RELAY_BIN must name a built pairprog-relay");
const RUNS = Number(process.env.RUNS ?? 30);
const SKIP_NAV = process.env.SKIP_NAV === "1";
const KEYS = Number(process.env.KEYS ?? 300);
const DIST = path.resolve(import.meta.dirname, "../dist");

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

console.log("## bundle (gzip -9)");
let total = 0;
for (const f of readdirSync(DIST).sort()) {
  const gz = gzipSync(readFileSync(path.join(DIST, f)), { level: 9 }).length;
  total += gz;
  console.log(`${f}\t${(gz / 1024).toFixed(1)} KB`);
}
console.log(`all\t${(total / 1024).toFixed(1)} KB`);

const dir = mkdtempSync(path.join(tmpdir(), "pairprog-web-bench-"));
const relay = spawn(RELAY, ["--listen", "127.0.0.1:0", "--database-url", `sqlite:${path.join(dir, "db")}`, "--log-level", "warn"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const origin = await new Promise((resolve, reject) => {
  let buf = "";
  const timer = setTimeout(() => reject(new Error("the relay did not start")), 15000);
  relay.stdout.on("data", (c) => {
    buf += c;
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  });
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const res = await fetch(`${origin}/api/rooms`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ secrets: true, path: "main.py", language: "python", code: "def f(x):\n    return x\n".repeat(50) }),
  });
  const room = await res.json();
  const link = `${origin}/r/${room.roomId}#${room.joinSecret}`;

  const ready = [];
  for (let i = 0; i < (SKIP_NAV ? 0 : RUNS); i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForFunction(() => window.pairprog?.readyAt() != null, null, { timeout: 10000 });
    ready.push(await page.evaluate(() => window.pairprog.readyAt()));
    await context.close();
  }
  console.log(`\n## navigation → editable document (${RUNS} fresh pages)`);
  if (!SKIP_NAV) console.log(`median ${pct(ready, 50).toFixed(0)} ms, p95 ${pct(ready, 95).toFixed(0)} ms, max ${Math.max(...ready).toFixed(0)} ms`);

  const [a, b] = await Promise.all([browser.newPage(), browser.newPage()]);
  for (const p of [a, b]) {
    await p.goto(link);
    await p.waitForFunction(() => window.pairprog?.readyAt() != null, null, { timeout: 10000 });
  }
  await a.evaluate(() => {
    window.keyTimes = [];
    document.addEventListener("keydown", () => window.keyTimes.push(performance.timeOrigin + performance.now()), true);
  });
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
  for (let i = 0; i < KEYS; i++) {
    await a.keyboard.type(String.fromCharCode(97 + (i % 26)));
    await new Promise((r) => setTimeout(r, 20));
  }
  await b.waitForFunction((n) => window.arrivals.length >= n, KEYS, { timeout: 20000 }).catch(async (e) => {
    console.log(`arrived ${await b.evaluate(() => window.arrivals.length)}, typed ${await a.evaluate(() => window.keyTimes.length)}`);
    console.log(JSON.stringify((await a.evaluate(() => window.pairprog.text())).slice(-80)), JSON.stringify((await b.evaluate(() => window.pairprog.text())).slice(-80)));
    throw e;
  });
  const sent = await a.evaluate(() => window.keyTimes);
  const got = await b.evaluate(() => window.arrivals);
  const lat = sent.slice(0, KEYS).map((t, i) => got[i] - t);
  console.log(`\n## keystroke → other page (${KEYS} keystrokes, SQLite)`);
  console.log(`p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`);
} finally {
  await browser.close();
  relay.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
