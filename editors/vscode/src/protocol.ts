// Wire types of the "Editor ↔ pairprog-lsp" interface (docs/PROTOCOL.md). They mirror
// the Rust definitions, which are the only source of truth: keep the two in step.

/** Mirrors `protocol/src/editor.rs` `PRESENCE_METHOD`. */
export const PRESENCE_METHOD = "$/pairprog/presence";
/** Mirrors `protocol/src/editor.rs` `CURSOR_METHOD`. */
export const CURSOR_METHOD = "$/pairprog/cursor";

/** The server's `workspace/executeCommand` commands (mirrors `lsp/src/commands.rs`). */
export const ServerCommand = {
  createRoom: "pairprog.createRoom",
  joinRoom: "pairprog.joinRoom",
  leaveRoom: "pairprog.leaveRoom",
  status: "pairprog.status",
} as const;

/** An LSP position in the negotiated encoding (UTF-16 for VS Code). */
export interface Position {
  line: number;
  character: number;
}

/** Mirrors `protocol/src/editor.rs` `EditorSelection`. */
export interface EditorSelection {
  anchor: Position;
  head: Position;
}

/** Mirrors `protocol/src/editor.rs` `CursorParams`. */
export interface CursorParams {
  uri: string;
  selections: EditorSelection[];
}

/** Mirrors `protocol/src/messages.rs` `Participant`; `color` is `#rrggbb`. */
export interface Participant {
  id: string;
  name: string;
  color: string;
}

/** Mirrors `protocol/src/editor.rs` `RemoteCursor`. */
export interface RemoteCursor {
  participantId: string;
  name: string;
  color: string;
  uri: string;
  path: string;
  selections: EditorSelection[];
}

/** Mirrors `protocol/src/editor.rs` `ConnectionState`. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting";

/** Mirrors `protocol/src/editor.rs` `PresenceParams`; `participants` excludes `you`. */
export interface PresenceParams {
  room: string | null;
  connection: ConnectionState;
  you: Participant | null;
  participants: Participant[];
  cursors: RemoteCursor[];
}

/** Mirrors `protocol/src/editor.rs` `RoomResult`. */
export interface RoomResult {
  roomId: string;
  /** The secret this session presents, for a room with secrets. */
  secret?: string;
  /** `pairprog.createRoom` only: the read-only secret, for people who should only watch. */
  readOnlySecret?: string;
  /** What others join with: `roomId#secret`, or the bare id for a room without secrets. */
  link?: string;
}

/** Mirrors `protocol/src/editor.rs` `StatusResult` (the fields this extension reads). */
export interface StatusResult {
  room: string | null;
  connection: ConnectionState;
  you: Participant | null;
  participants: Participant[];
  pendingEdits: number;
}

/** What the extension shows before the server has said anything. */
export const NO_PRESENCE: PresenceParams = {
  room: null,
  connection: "disconnected",
  you: null,
  participants: [],
  cursors: [],
};
