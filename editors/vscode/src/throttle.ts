// A trailing throttle: at most one call per interval, and the last value always goes out.
// Cursor updates need exactly this: a drag sends a few positions, not hundreds, and the
// final position is never lost.

export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class Throttle<T> {
  private last = -Infinity;
  private pending: { value: T } | undefined;
  private timer: unknown;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (value: T) => void,
    private readonly timers: Timers = realTimers,
  ) {}

  push(value: T): void {
    const wait = this.last + this.intervalMs - this.timers.now();
    if (wait <= 0 && this.timer === undefined) {
      this.fire(value);
      return;
    }
    this.pending = { value };
    if (this.timer === undefined) {
      this.timer = this.timers.setTimeout(() => this.flush(), Math.max(0, wait));
    }
  }

  /** Drops anything not yet sent (the document closed or the client stopped). */
  dispose(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
    }
    this.timer = undefined;
    this.pending = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      this.fire(pending.value);
    }
  }

  private fire(value: T): void {
    this.last = this.timers.now();
    this.send(value);
  }
}
