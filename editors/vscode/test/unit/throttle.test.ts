import { strict as assert } from "node:assert";
import { test } from "node:test";
import { Throttle, type Timers } from "../../src/throttle";

/** A clock the test moves by hand, so no test waits on real time. */
class FakeTimers implements Timers {
  time = 0;
  private queue: { at: number; callback: () => void; id: number }[] = [];
  private next = 0;
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++;
    this.queue.push({ at: this.time + ms, callback, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.queue.filter((t) => t.at <= this.time);
    this.queue = this.queue.filter((t) => t.at > this.time);
    for (const t of due) {
      t.callback();
    }
  }
}

test("the first value goes out at once, a burst sends only its last value after the interval", () => {
  const timers = new FakeTimers();
  const sent: number[] = [];
  const throttle = new Throttle<number>(50, (v) => sent.push(v), timers);
  throttle.push(1);
  assert.deepEqual(sent, [1]);
  timers.advance(10);
  throttle.push(2);
  throttle.push(3);
  assert.deepEqual(sent, [1]);
  timers.advance(39);
  assert.deepEqual(sent, [1]);
  timers.advance(1);
  assert.deepEqual(sent, [1, 3]);
});

test("values spaced wider than the interval all go out at once", () => {
  const timers = new FakeTimers();
  const sent: number[] = [];
  const throttle = new Throttle<number>(50, (v) => sent.push(v), timers);
  for (let i = 0; i < 3; i++) {
    throttle.push(i);
    timers.advance(60);
  }
  assert.deepEqual(sent, [0, 1, 2]);
});

test("dispose drops a pending value", () => {
  const timers = new FakeTimers();
  const sent: number[] = [];
  const throttle = new Throttle<number>(50, (v) => sent.push(v), timers);
  throttle.push(1);
  throttle.push(2);
  throttle.dispose();
  timers.advance(100);
  assert.deepEqual(sent, [1]);
});
