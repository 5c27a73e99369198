// One shared document's synchronisation with the relay, as a pure state machine (it
// mirrors lsp/src/bridge/relay_side.rs): it numbers operations (`seq`), keeps the
// relay's text at the last revision seen, and catches up after a reconnect. The caller
// sends what it returns and applies the returned operations to the editor.

import type { Text } from "@codemirror/state";
import { OtClient } from "./client.js";
import { applyToText, textOf } from "./doc.js";
import { Bias, Operation } from "./operation.js";
import { charLen } from "./units.js";
import type { HistoryEntry } from "../protocol.js";

export interface Outgoing {
  base: number;
  seq: number;
  op: Operation;
}

export class DocSync {
  private ot: OtClient;
  private seq = 0;
  private inFlightSeq: number | null = null;
  /**
   * The relay's text at `revision`: what a resync after a long absence diffs against. A
   * CodeMirror `Text`, so keeping it costs each operation time in proportion to its size.
   */
  private server: Text;

  constructor(text: string, revision: number) {
    this.server = textOf(text);
    this.ot = new OtClient(revision);
  }

  get revision(): number {
    return this.ot.revision;
  }

  /** Whether every local edit is acknowledged. */
  isSynchronized(): boolean {
    return this.ot.isSynchronized();
  }

  /** How many operations await the relay (in flight and buffered), for the status line. */
  pendingOps(): number {
    return (this.ot.inFlight ? 1 : 0) + (this.ot.buffer ? 1 : 0);
  }

  /** Our operation `seq`, if it is the one in flight: what an ack of `seq` commits. */
  inFlightOp(seq: number): Operation | null {
    return seq === this.inFlightSeq ? this.ot.inFlight : null;
  }

  /**
   * An offset in the editor's text, stated in the relay's text at `revision`: our
   * unacknowledged edits taken out (inside one, its start; the relay moves our cursor
   * past our own insert when it commits).
   */
  toServer(offset: number): number {
    const pending = this.ot.pending();
    return pending === null ? offset : pending.baseOffset(offset);
  }

  /** An offset in the relay's text at `revision`, in the editor's text (before our own inserts there). */
  fromServer(offset: number): number {
    const pending = this.ot.pending();
    return pending === null ? offset : pending.transformOffset(offset, Bias.Before);
  }

  /** A local edit, already in the editor. */
  local(op: Operation): Outgoing | null {
    if (op.isNoop()) return null;
    const out = this.ot.applyLocal(op);
    return out === null ? null : this.numbered(out);
  }

  /** The relay committed our operation `seq`. Acks of other seqs (a resend's second ack) change nothing. */
  ack(seq: number): Outgoing | null {
    if (seq !== this.inFlightSeq) return null;
    const sent = this.ot.inFlight;
    if (sent !== null) this.server = applyToText(sent, this.server);
    this.inFlightSeq = null;
    const next = this.ot.serverAck();
    return next === null ? null : this.numbered(next);
  }

  /** A collaborator's committed operation; returns what to apply to the editor. */
  remote(op: Operation): Operation {
    this.server = applyToText(op, this.server);
    return this.ot.applyRemote(op);
  }

  /**
   * The relay answered a reopen after a reconnect, with either the operations since our
   * revision (ours among them recognised by client id and seq) or, when it could not,
   * its whole text. Returns the operations for the editor and what to send.
   */
  reopened(
    entries: HistoryEntry[] | undefined,
    text: string | undefined,
    revision: number,
    clientId: string,
  ): { remote: Operation[]; out: Outgoing | null } {
    if (entries !== undefined) {
      const remote: Operation[] = [];
      for (const entry of entries) {
        if (entry.revision <= this.ot.revision) continue;
        if (entry.clientId === clientId && entry.seq === this.inFlightSeq) {
          // The buffer becomes the in-flight operation, with a new seq; it is sent
          // below as a resend.
          this.ack(entry.seq);
        } else {
          remote.push(this.remote(Operation.fromJSON(entry.op)));
        }
      }
      return { remote, out: this.resend() };
    }
    if (text === undefined) return { remote: [], out: this.resend() };
    // Too far behind for operations: what we missed becomes one diff, and our pending
    // edits are rebased past it and sent as a new operation.
    const missed = diff(this.server.toString(), text);
    const pending = this.ot.pending();
    this.server = textOf(text);
    this.ot = new OtClient(revision);
    this.inFlightSeq = null;
    if (pending === null) return { remote: [missed], out: null };
    const [mine, theirs] = Operation.transform(pending, missed);
    return { remote: [theirs], out: this.local(mine) };
  }

  /** The in-flight operation again, with its original seq, for a new connection. */
  resend(): Outgoing | null {
    const op = this.ot.inFlight;
    if (op === null || this.inFlightSeq === null) return null;
    return { base: this.ot.revision, seq: this.inFlightSeq, op };
  }

  private numbered(op: Operation): Outgoing {
    this.seq += 1;
    this.inFlightSeq = this.seq;
    return { base: this.ot.revision, seq: this.seq, op };
  }
}

/** The operation turning `from` into `to`: keep the common prefix and suffix, replace the middle. */
export function diff(from: string, to: string): Operation {
  let start = 0;
  const max = Math.min(from.length, to.length);
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)) end++;
  // Never split a surrogate pair.
  if (start > 0 && isHigh(from.charCodeAt(start - 1))) start--;
  if (end > 0 && isLow(from.charCodeAt(from.length - end))) end--;
  return new Operation()
    .retain(charLen(from.slice(0, start)))
    .insert(to.slice(start, to.length - end))
    .delete(charLen(from.slice(start, from.length - end)))
    .retain(charLen(from.slice(from.length - end)));
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
