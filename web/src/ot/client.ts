// The client half of server-sequenced OT, mirroring protocol/src/client.rs (the ot.js
// client state machine): at most one operation in flight, everything typed meanwhile
// composed into a buffer, remote operations transformed past both. It holds no text.

import { Operation } from "./operation.js";

export class OtClient {
  private rev: number;
  private inFlightOp: Operation | null = null;
  private bufferOp: Operation | null = null;

  constructor(revision: number) {
    this.rev = revision;
  }

  get revision(): number {
    return this.rev;
  }

  get inFlight(): Operation | null {
    return this.inFlightOp;
  }

  get buffer(): Operation | null {
    return this.bufferOp;
  }

  isSynchronized(): boolean {
    return this.inFlightOp === null;
  }

  /** A local edit, already applied to the editor. Returns the operation to send now. */
  applyLocal(op: Operation): Operation | null {
    if (this.inFlightOp === null) {
      this.inFlightOp = op;
      return op;
    }
    this.bufferOp = this.bufferOp === null ? op : this.bufferOp.compose(op);
    return null;
  }

  /** The in-flight operation was committed. Returns the buffered one to send next. */
  serverAck(): Operation | null {
    if (this.inFlightOp === null) throw new Error("the server acknowledged an operation while none was in flight");
    this.rev += 1;
    this.inFlightOp = this.bufferOp;
    this.bufferOp = null;
    return this.inFlightOp;
  }

  /** A collaborator's committed operation; returns it transformed for the local text. */
  applyRemote(op: Operation): Operation {
    let remote = op;
    if (this.inFlightOp !== null) {
      [this.inFlightOp, remote] = Operation.transform(this.inFlightOp, remote);
    }
    if (this.bufferOp !== null) {
      [this.bufferOp, remote] = Operation.transform(this.bufferOp, remote);
    }
    this.rev += 1;
    return remote;
  }

  /** The in-flight and buffered edits as one operation (after a reconnect). */
  pending(): Operation | null {
    if (this.inFlightOp === null) return null;
    return this.bufferOp === null ? this.inFlightOp : this.inFlightOp.compose(this.bufferOp);
  }
}
