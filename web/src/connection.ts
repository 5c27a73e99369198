// The page's WebSocket to the relay: connect, say hello, reconnect with backoff when the
// connection drops, and tell apart the failures a retry cannot fix (a wrong secret, an
// unknown room) by asking the REST API, which answers them with a status and a message.

import {
  PROTOCOL_VERSION,
  SECRET_SUBPROTOCOL_PREFIX,
  SUBPROTOCOL,
  type ClientMessage,
  type ServerMessage,
} from "./protocol.js";

export type ConnectionState =
  | { kind: "connecting" }
  | { kind: "connected"; reconnected: boolean }
  | { kind: "reconnecting"; attempt: number; inMs: number }
  | { kind: "failed"; message: string };

export interface ConnectionEvents {
  message(msg: ServerMessage): void;
  state(state: ConnectionState): void;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 4000;
/** A REST probe after a failed connect gives up after this long. */
const PROBE_TIMEOUT_MS = 3000;

/** 32 random bytes from the browser's secure source, as 64 hex digits. */
function newClientKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Connection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private everConnected = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Our public id, from the relay's `welcome`: the id our operations carry in history. */
  clientId: string | undefined;
  /**
   * The secret the relay derives `clientId` from, kept for the page's life so a resend
   * after a reconnect is recognised; nobody else can speak as us without it.
   */
  private readonly clientKey = newClientKey();

  constructor(
    private readonly roomId: string,
    private readonly secret: string,
    private name: string,
    private readonly events: ConnectionEvents,
  ) {}

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.close(1000);
  }

  /** Sends when connected; otherwise drops it (the caller resends state on `welcome`). */
  send(msg: ClientMessage): boolean {
    if (this.socket === null || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Joins again under a new name. The protocol has no rename message (a name is given
   * once, in `hello`), so the page reconnects: the others see it leave and join again,
   * and an edit in flight is resent as after any reconnect.
   */
  rename(name: string): void {
    this.name = name;
    const socket = this.socket;
    // Not connected: the next hello carries the new name.
    if (socket === null || this.stopped) return;
    this.socket = null;
    socket.close(1000);
    this.open();
  }

  private open(): void {
    this.events.state(this.everConnected ? { kind: "reconnecting", attempt: this.attempt, inMs: 0 } : { kind: "connecting" });
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/ws/${encodeURIComponent(this.roomId)}`;
    const protocols = [SUBPROTOCOL];
    if (this.secret !== "") protocols.push(SECRET_SUBPROTOCOL_PREFIX + this.secret);
    const socket = new WebSocket(url, protocols);
    this.socket = socket;
    let welcomed = false;
    socket.onopen = () => {
      const hello: ClientMessage = {
        type: "hello",
        protocol: PROTOCOL_VERSION,
        name: this.name,
        clientKey: this.clientKey,
      };
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(event.data) as ServerMessage;
      } catch {
        return;
      }
      if (msg.type === "welcome") {
        welcomed = true;
        this.clientId = msg.clientId;
        this.attempt = 0;
        this.events.state({ kind: "connected", reconnected: this.everConnected });
        this.everConnected = true;
      }
      if (msg.type === "error" && (msg.code === "protocol_mismatch" || msg.code === "unknown_room")) {
        this.fail(msg.message);
      }
      this.events.message(msg);
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (welcomed) {
        this.retry();
      } else {
        void this.probe();
      }
    };
  }

  /** The upgrade failed before `welcome`: ask REST why, and stop if retrying cannot help. */
  private async probe(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.secret !== "") headers.Authorization = `Bearer ${this.secret}`;
    try {
      const res = await fetch(`/api/rooms/${encodeURIComponent(this.roomId)}`, {
        headers,
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (res.status === 403 || res.status === 404) {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        const why = body?.error?.message ?? res.statusText;
        this.fail(
          res.status === 403
            ? `Cannot join: ${why}. Ask for the room's link again (the part after # is the secret).`
            : `Cannot join: ${why}.`,
        );
        return;
      }
    } catch {
      // The relay is unreachable; keep trying.
    }
    this.retry();
  }

  private fail(message: string): void {
    this.stopped = true;
    this.events.state({ kind: "failed", message });
    this.socket?.close(1000);
  }

  private retry(): void {
    if (this.stopped) return;
    this.attempt += 1;
    const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.attempt - 1));
    const inMs = Math.round(base / 2 + Math.random() * (base / 2));
    this.events.state({ kind: "reconnecting", attempt: this.attempt, inMs });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, inMs);
  }
}
