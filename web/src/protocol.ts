// The WebSocket messages of protocol/src/messages.rs (docs/PROTOCOL.md), as TypeScript
// types. Offsets and lengths count Unicode scalar values.

import type { Component } from "./ot/operation.js";

export const PROTOCOL_VERSION = 1;

/**
 * The WebSocket subprotocol the page offers, and the prefix of the one that carries the
 * room secret. A browser's WebSocket cannot set headers, and a secret in the URL would
 * land in access logs; the subprotocol list is the one header a page can set.
 */
export const SUBPROTOCOL = "pairprog.v1";
export const SECRET_SUBPROTOCOL_PREFIX = "pairprog.secret.";

export interface Selection {
  anchor: number;
  head: number;
}

export type ClientMessage =
  // clientKey: a secret of at least 128 random bits, kept across reconnects and never
  // shown; the relay derives the public clientId (in welcome and history) from it.
  | { type: "hello"; protocol: number; name: string; clientKey?: string }
  | { type: "open"; path: string; language?: string; text?: string; revision?: number }
  | { type: "close"; path: string }
  | { type: "op"; path: string; base: number; seq: number; op: Component[] }
  // revision: the revision the offsets refer to (ours, with nothing awaiting an ack), so
  // the relay moves them past what it committed since and we had not received yet.
  | { type: "cursor"; path: string; selections: Selection[]; revision?: number };

export interface Participant {
  id: string;
  name: string;
  color: string;
  readOnly?: boolean;
}

export interface DocumentInfo {
  path: string;
  language: string;
  revision: number;
}

export interface CursorInfo {
  participantId: string;
  path: string;
  selections: Selection[];
}

export interface HistoryEntry {
  revision: number;
  op: unknown;
  authorName: string;
  clientId: string;
  seq: number;
}

export type ServerMessage =
  | {
      type: "welcome";
      protocol: number;
      roomId: string;
      clientId: string;
      you: Participant;
      participants: Participant[];
      documents: DocumentInfo[];
    }
  | {
      type: "opened";
      path: string;
      language: string;
      revision: number;
      text?: string;
      operations?: HistoryEntry[];
      cursors: CursorInfo[];
    }
  | { type: "ack"; path: string; revision: number; seq: number }
  | { type: "remote"; path: string; revision: number; op: unknown; author: string }
  | { type: "joined"; participant: Participant; count: number }
  | { type: "left"; participantId: string; count: number }
  | ({ type: "presence" } & CursorInfo)
  | ({ type: "documentAdded" } & DocumentInfo)
  | { type: "error"; code: string; message: string; path?: string; seq?: number };
