// The relay's share of keystroke latency, without a browser (docs/BENCHMARKS.md, "Web
// client"); not part of the tests. Two WebSocket clients join one room; one sends a
// one-char operation every 20 ms (the next only after the previous ack, as a page with
// one operation in flight does) and we time op → ack and op → the other's `remote`.
//
//   PAIRPROG_RELAY_BIN=target/release/pairprog-relay DB_DIR=/dev/shm OPS=300 \
//     node --experimental-websocket web/bench/relay-alone.mjs
//
// DB_DIR is where the SQLite file goes (default: the temp dir): /dev/shm shows the
// relay without the cost of syncing the file to disk on every commit.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const RELAY = process.env.PAIRPROG_RELAY_BIN;
if (!RELAY) throw new Error("PAIRPROG_RELAY_BIN must name a built pairprog-relay");
const DB_DIR = process.env.DB_DIR ?? tmpdir();
const OPS = Number(process.env.OPS ?? 300);
const PATH = "a.txt";

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))].toFixed(2);
}

/** A connection whose messages are awaited in order, each stamped when it arrived. */
function connect(origin, roomId, name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${origin.replace("http", "ws")}/ws/${roomId}`);
    const queue = [];
    let waiter = null;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      msg.at = performance.now();
      if (waiter) {
        const w = waiter;
        waiter = null;
        w(msg);
      } else queue.push(msg);
    };
    ws.onerror = () => reject(new Error("the WebSocket failed"));
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "hello", protocol: 1, name }));
      resolve({
        ws,
        async until(type) {
          for (;;) {
            const msg = queue.length > 0 ? queue.shift() : await new Promise((r) => (waiter = r));
            if (msg.type === type) return msg;
          }
        },
      });
    };
  });
}

const dir = mkdtempSync(path.join(DB_DIR, "pairprog-relay-alone-"));
const relay = spawn(RELAY, ["--listen", "127.0.0.1:0", "--database-url", `sqlite:${path.join(dir, "db")}`, "--log-level", "warn"], {
  stdio: ["ignore", "pipe", "inherit"],
});
try {
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
  const res = await fetch(`${origin}/api/rooms`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path: PATH, language: "plaintext", code: "x" }),
    signal: AbortSignal.timeout(10000),
  });
  const { roomId } = await res.json();
  const a = await connect(origin, roomId, "typist");
  const b = await connect(origin, roomId, "watcher");
  await Promise.all([a.until("welcome"), b.until("welcome")]);
  a.ws.send(JSON.stringify({ type: "open", path: PATH }));
  b.ws.send(JSON.stringify({ type: "open", path: PATH }));
  let revision = (await a.until("opened")).revision;
  await b.until("opened");
  const acks = [];
  const remotes = [];
  for (let i = 0; i < OPS; i++) {
    const sent = performance.now();
    a.ws.send(JSON.stringify({ type: "op", path: PATH, base: revision, seq: i + 1, op: [1 + i, "k"] }));
    const ack = await a.until("ack");
    const remote = await b.until("remote");
    revision = ack.revision;
    acks.push(ack.at - sent);
    remotes.push(remote.at - sent);
    const wait = 20 - (performance.now() - sent);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  console.log(`SQLite in ${DB_DIR}, ${OPS} operations`);
  console.log(`op → ack: p50 ${pct(acks, 50)} ms, p99 ${pct(acks, 99)} ms`);
  console.log(`op → the other's remote: p50 ${pct(remotes, 50)} ms, p99 ${pct(remotes, 99)} ms`);
  a.ws.close();
  b.ws.close();
} finally {
  relay.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
