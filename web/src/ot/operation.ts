// The text operation of protocol/src/operation.rs, in the same compact JSON form: an
// array whose elements are a positive integer (retain that many chars), a negative
// integer (delete that many chars) or a non-empty string (insert it).
//
// Lengths and offsets count Unicode scalar values ("chars"), as on the wire. JavaScript
// strings are UTF-16, so every count here goes through charLen, and text positions are
// converted only at the editor's edge (see ./units.ts).

import { charLen, sliceChars } from "./units.js";

export type Component = number | string;

export class OperationError extends Error {}

export enum Bias {
  /** The position stays in front of text inserted at it (a collaborator's cursor). */
  Before,
  /** The position moves past text inserted at it (the typist's own cursor). */
  After,
}

export class Operation {
  readonly ops: Component[] = [];
  baseLength = 0;
  targetLength = 0;

  static identity(len: number): Operation {
    return new Operation().retain(len);
  }

  /** Reads the wire form, refusing what the Rust side refuses. */
  static fromJSON(value: unknown): Operation {
    if (!Array.isArray(value)) throw new OperationError("an operation is an array");
    const op = new Operation();
    for (const c of value as unknown[]) {
      if (typeof c === "number" && Number.isSafeInteger(c) && c !== 0) {
        if (c > 0) op.retain(c);
        else op.delete(-c);
      } else if (typeof c === "string" && c.length > 0) {
        op.insert(c);
      } else {
        throw new OperationError(`not an operation component: ${JSON.stringify(c)}`);
      }
    }
    return op;
  }

  toJSON(): Component[] {
    return this.ops;
  }

  retain(n: number): this {
    if (n <= 0) return this;
    this.baseLength += n;
    this.targetLength += n;
    const last = this.ops.length - 1;
    const prev = this.ops[last];
    if (typeof prev === "number" && prev > 0) this.ops[last] = prev + n;
    else this.ops.push(n);
    return this;
  }

  insert(text: string): this {
    if (text === "") return this;
    this.targetLength += charLen(text);
    const ops = this.ops;
    const last = ops.length - 1;
    const prev = ops[last];
    if (typeof prev === "string") {
      ops[last] = prev + text;
    } else if (typeof prev === "number" && prev < 0) {
      // The normal form puts an insert before a delete at the same place, as Rust does.
      const before = ops[last - 1];
      if (typeof before === "string") ops[last - 1] = before + text;
      else {
        ops[last] = text;
        ops.push(prev);
      }
    } else {
      ops.push(text);
    }
    return this;
  }

  delete(n: number): this {
    if (n <= 0) return this;
    this.baseLength += n;
    const last = this.ops.length - 1;
    const prev = this.ops[last];
    if (typeof prev === "number" && prev < 0) this.ops[last] = prev - n;
    else this.ops.push(-n);
    return this;
  }

  isNoop(): boolean {
    return this.ops.length === 0 || (this.ops.length === 1 && typeof this.ops[0] === "number" && this.ops[0] > 0);
  }

  /** Applies the operation to `text`, which must be `baseLength` chars long. */
  apply(text: string): string {
    const chars = charLen(text);
    if (chars !== this.baseLength) {
      throw new OperationError(`the operation expects a document of ${this.baseLength} chars, not ${chars}`);
    }
    const out: string[] = [];
    let rest = text;
    for (const c of this.ops) {
      if (typeof c === "string") out.push(c);
      else if (c > 0) {
        const [head, tail] = sliceChars(rest, c);
        out.push(head);
        rest = tail;
      } else {
        rest = sliceChars(rest, -c)[1];
      }
    }
    out.push(rest);
    return out.join("");
  }

  /** The operation that does `this` then `next`. */
  compose(next: Operation): Operation {
    if (this.targetLength !== next.baseLength) {
      throw new OperationError(
        `cannot compose: the first operation yields ${this.targetLength} chars, the second expects ${next.baseLength}`,
      );
    }
    const out = new Operation();
    const a = new Pieces(this);
    const b = new Pieces(next);
    for (;;) {
      const x = a.peek();
      const y = b.peek();
      if (x === undefined && y === undefined) break;
      if (typeof x === "number" && x < 0) {
        out.delete(-x);
        a.take(-x);
      } else if (typeof y === "string") {
        out.insert(y);
        b.take(charLen(y));
      } else if (x === undefined || y === undefined) {
        throw new OperationError("cannot compose: lengths disagree");
      } else if (typeof x === "number" && y > 0) {
        const n = Math.min(x, y);
        out.retain(n);
        a.take(n);
        b.take(n);
      } else if (typeof x === "number") {
        const n = Math.min(x, -y);
        out.delete(n);
        a.take(n);
        b.take(n);
      } else if (y > 0) {
        const n = Math.min(charLen(x), y);
        out.insert(sliceChars(x, n)[0]);
        a.take(n);
        b.take(n);
      } else {
        // Inserted by `this`, deleted by `next`: neither survives.
        const n = Math.min(charLen(x), -y);
        a.take(n);
        b.take(n);
      }
    }
    return out;
  }

  /**
   * Transforms two concurrent operations on the same document: returns [left', right']
   * with left ∘ right' = right ∘ left'. At one position, `left`'s insert comes first.
   */
  static transform(left: Operation, right: Operation): [Operation, Operation] {
    if (left.baseLength !== right.baseLength) {
      throw new OperationError(
        `cannot transform: the operations expect ${left.baseLength} and ${right.baseLength} chars`,
      );
    }
    const l = new Operation();
    const r = new Operation();
    const a = new Pieces(left);
    const b = new Pieces(right);
    for (;;) {
      const x = a.peek();
      const y = b.peek();
      if (x === undefined && y === undefined) break;
      if (typeof x === "string") {
        const n = charLen(x);
        l.insert(x);
        r.retain(n);
        a.take(n);
      } else if (typeof y === "string") {
        const n = charLen(y);
        l.retain(n);
        r.insert(y);
        b.take(n);
      } else if (x === undefined || y === undefined) {
        throw new OperationError("cannot transform: lengths disagree");
      } else {
        const n = Math.min(Math.abs(x), Math.abs(y));
        if (x > 0 && y > 0) {
          l.retain(n);
          r.retain(n);
        } else if (x < 0 && y > 0) {
          l.delete(n);
        } else if (x > 0 && y < 0) {
          r.delete(n);
        }
        a.take(n);
        b.take(n);
      }
    }
    return [l, r];
  }

  /** Where `offset` (in chars, in the base document) ends up in the target. */
  transformOffset(offset: number, bias: Bias): number {
    offset = Math.min(Math.max(offset, 0), this.baseLength);
    let old = 0;
    let now = 0;
    for (const c of this.ops) {
      if (typeof c === "string") {
        if (old === offset && bias === Bias.Before) return now;
        now += charLen(c);
      } else if (c > 0) {
        if (old + c > offset) return now + (offset - old);
        old += c;
        now += c;
      } else {
        if (old - c > offset) return now;
        old -= c;
      }
    }
    return now;
  }

  /**
   * Where `offset` (in chars, in the target document) was in the base document: the
   * inverse of `transformOffset` for kept text; inside inserted text, the insert's start.
   * Mirrors protocol's `Operation::base_offset`.
   */
  baseOffset(offset: number): number {
    offset = Math.min(Math.max(offset, 0), this.targetLength);
    let old = 0;
    let now = 0;
    for (const c of this.ops) {
      if (typeof c === "string") {
        const len = charLen(c);
        if (now + len >= offset) return old;
        now += len;
      } else if (c > 0) {
        if (now + c > offset) return old + (offset - now);
        old += c;
        now += c;
      } else {
        old -= c;
      }
    }
    return old;
  }

  /** The operation replacing `deleted` chars at `at` with `text` in a document of `len`. */
  static splice(len: number, at: number, deleted: number, text: string): Operation {
    return new Operation().retain(at).insert(text).delete(deleted).retain(len - at - deleted);
  }
}

/** Walks an operation's components, splitting them where the other side needs. */
class Pieces {
  private index = 0;
  private current: Component | undefined;

  constructor(private readonly op: Operation) {
    this.current = op.ops[0];
  }

  peek(): Component | undefined {
    return this.current;
  }

  /** Consumes `n` chars of the current component. */
  take(n: number): void {
    const c = this.current;
    if (c === undefined) return;
    let rest: Component | undefined;
    if (typeof c === "string") {
      const tail = sliceChars(c, n)[1];
      rest = tail === "" ? undefined : tail;
    } else if (c > 0) {
      rest = c - n > 0 ? c - n : undefined;
    } else {
      rest = c + n < 0 ? c + n : undefined;
    }
    if (rest === undefined) {
      this.index += 1;
      this.current = this.op.ops[this.index];
    } else {
      this.current = rest;
    }
  }
}
