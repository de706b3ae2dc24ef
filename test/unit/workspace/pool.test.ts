import { describe, expect, it } from "vitest";
import { Cancelled } from "../../../src/errors.js";
import { Mutex } from "../../../src/workspace/lock.js";
import { SlotPool } from "../../../src/workspace/pool.js";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("SlotPool", () => {
  it("hands out free slots, using the picker, then queues waiters first come first served", async () => {
    const pool = new SlotPool(["a", "b"]);
    expect(await pool.acquire(undefined, (free) => free[free.length - 1]!)).toBe("b");
    expect(await pool.acquire()).toBe("a");
    const order: string[] = [];
    const first = pool.acquire().then((slot) => order.push(`first:${slot}`));
    const second = pool.acquire().then((slot) => order.push(`second:${slot}`));
    await tick();
    expect(order).toEqual([]);
    pool.release("b");
    pool.release("a");
    await Promise.all([first, second]);
    expect(order).toEqual(["first:b", "second:a"]);
  });

  it("tryAcquire takes a free slot (using the picker) or returns null, never waiting or jumping the queue", async () => {
    const pool = new SlotPool(["a", "b"]);
    expect(pool.tryAcquire((free) => free[free.length - 1]!)).toBe("b");
    expect(pool.tryAcquire()).toBe("a");
    expect(pool.tryAcquire()).toBeNull();
    expect(pool.waiting).toBe(0);
    const waiter = pool.acquire();
    pool.release("a");
    expect(await waiter).toBe("a");
    expect(pool.tryAcquire()).toBeNull();
    pool.release("b");
    expect(pool.tryAcquire()).toBe("b");
    expect(pool.isLeased("b")).toBe(true);
  });

  it("drops an aborted waiter", async () => {
    const pool = new SlotPool(["only"]);
    await pool.acquire();
    const controller = new AbortController();
    const aborted = pool.acquire(controller.signal);
    const next = pool.acquire();
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(Cancelled);
    expect(pool.waiting).toBe(1);
    pool.release("only");
    expect(await next).toBe("only");
    expect(pool.isLeased("only")).toBe(true);
    await expect(pool.acquire(AbortSignal.abort())).rejects.toBeInstanceOf(Cancelled);
  });
});

describe("Mutex", () => {
  it("runs critical sections one at a time, in order, and lets a waiter give up", async () => {
    const mutex = new Mutex();
    const log: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const a = mutex.run(async () => {
      log.push("a:start");
      await gate;
      log.push("a:end");
    });
    const controller = new AbortController();
    const gaveUp = mutex.run(async () => log.push("never"), controller.signal);
    const b = mutex.run(async () => log.push("b"));
    controller.abort();
    await expect(gaveUp).rejects.toBeInstanceOf(Cancelled);
    open();
    await Promise.all([a, b]);
    expect(log).toEqual(["a:start", "a:end", "b"]);
  });

  it("releases the lock when the section throws", async () => {
    const mutex = new Mutex();
    await expect(mutex.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await mutex.run(async () => "next")).toBe("next");
  });
});
