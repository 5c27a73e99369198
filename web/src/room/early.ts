// The room's WebSocket, started before anything else of the room page runs. esbuild
// keeps the order of imports, and this module is main.ts's first, so the handshake,
// `hello` and `welcome` travel while the browser evaluates CodeMirror's modules and
// builds the page, instead of after (web/bench/measure.mjs marks the steps). No socket
// event can reach the page before main.ts has set its handlers: events run only after
// the script that registered them has finished, and the whole bundle is one script.

import { Connection, type ConnectionEvents } from "../connection.js";
import { displayName } from "../shared.js";

performance.mark("pairprog:script");

export const roomId = decodeURIComponent(location.pathname.replace(/^\/r\//, "").replace(/\/$/, ""));
export const secret = location.hash.replace(/^#/, "");
export const name = displayName();

let handlers: ConnectionEvents | null = null;

/** main.ts's handlers; the `connecting` state announced before them is the page's default. */
export function handleConnection(events: ConnectionEvents): void {
  handlers = events;
}

export const connection = new Connection(roomId, secret, name, {
  message: (msg) => handlers?.message(msg),
  state: (state) => handlers?.state(state),
});
connection.start();
