import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { MemoryQueue } from "../../../src/jobs/memory-queue.js";
import { controlledWorker, makeJob, tick } from "../../helpers/queue-fixtures.js";

const log = pino({ level: "silent" });


describe("MemoryQueue", () => {
  it("ignores a redelivered webhook and a duplicate logical request", async () => {
    const q = new MemoryQueue({ concurrency: 1, log });
    const w = controlledWorker();
    q.start(w.worker);
    const first = makeJob();
    expect(await q.enqueue(first)).toEqual({ accepted: true });
    expect(await q.enqueue({ ...first, id: "other" })).toEqual({ accepted: false, reason: "duplicate-delivery" });
    expect(await q.enqueue({ ...makeJob(), pull: first.pull })).toEqual({ accepted: false, reason: "duplicate-request" });
    w.finish(first.id);
    await q.idle();
    expect(w.started).toEqual([first.id]);
  });

  it("holds a job with notBefore until its time, while later jobs of other PRs run; a retry is its own request", async () => {
    const q = new MemoryQueue({ concurrency: 2, log });
    const w = controlledWorker();
    q.start(w.worker);
    const first = makeJob({ pr: 1 });
    const retry = makeJob({ pr: 1, pull: first.pull, notBefore: Date.now() + 300, retry: { of: first.id, executors: ["claude"], reason: "429", earlier: [] } });
    const other = makeJob({ pr: 2 });
    await q.enqueue(first);
    expect(await q.enqueue(retry)).toEqual({ accepted: true });
    await q.enqueue(other);
    await tick();
    w.finish(first.id);
    await tick();
    expect(w.started).toEqual([first.id, other.id]);
    const waited = Date.now();
    w.finish(other.id);
    await vi.waitFor(() => expect(w.started).toContain(retry.id), { timeout: 2000, interval: 20 });
    expect(Date.now() - waited).toBeGreaterThanOrEqual(150);
    w.finish(retry.id);
    await q.idle();
  });

  it("runs one job per PR at a time but different PRs in parallel", async () => {
    const q = new MemoryQueue({ concurrency: 4, log });
    const w = controlledWorker();
    q.start(w.worker);
    const a1 = makeJob({ pr: 1, command: true, mode: "audit" });
    const a2 = makeJob({ pr: 1, command: true, mode: "ask" });
    const b1 = makeJob({ pr: 2 });
    await q.enqueue(a1);
    await q.enqueue(a2);
    await q.enqueue(b1);
    await tick();
    expect(w.started).toEqual([a1.id, b1.id]);
    w.finish(a1.id);
    await tick();
    expect(w.started).toEqual([a1.id, b1.id, a2.id]);
    w.finish(a2.id);
    w.finish(b1.id);
    await q.idle();
  });

  it("a push replaces the pending review and cancels the running one of an older head", async () => {
    const q = new MemoryQueue({ concurrency: 1, log });
    const w = controlledWorker();
    q.start(w.worker);
    const old = makeJob({ head: "1".repeat(40) });
    const middle = makeJob({ head: "2".repeat(40) });
    const newest = makeJob({ head: "3".repeat(40) });
    await q.enqueue(old);
    await tick();
    // Two pushes in quick succession: the middle one never runs.
    await Promise.all([q.enqueue(middle), q.enqueue(newest)]);
    await tick();
    expect(w.aborted.map((a) => a.id)).toEqual([old.id]);
    expect(w.started).toEqual([old.id, newest.id]);
    w.finish(newest.id);
    await q.idle();
  });

  it("never drops a manual command because of a push", async () => {
    const q = new MemoryQueue({ concurrency: 1, log });
    const w = controlledWorker();
    q.start(w.worker);
    const command = makeJob({ command: true, mode: "audit" });
    await q.enqueue(command);
    await tick();
    const push = makeJob({ head: "9".repeat(40) });
    await q.enqueue(push);
    await tick();
    expect(w.aborted).toEqual([]);
    w.finish(command.id);
    await tick();
    expect(w.started).toEqual([command.id, push.id]);
    w.finish(push.id);
    await q.idle();
  });

  it("respects the global concurrency limit and drains a burst in order", async () => {
    const q = new MemoryQueue({ concurrency: 2, log });
    const order: number[] = [];
    let running = 0;
    let peak = 0;
    q.start(async (j) => {
      running++;
      peak = Math.max(peak, running);
      order.push(j.prNumber);
      await tick();
      running--;
    });
    for (let pr = 1; pr <= 20; pr++) await q.enqueue(makeJob({ pr }));
    await q.idle();
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(peak).toBe(2);
  });

  it("stop() aborts jobs still running after the grace period", async () => {
    const q = new MemoryQueue({ concurrency: 1, log });
    const w = controlledWorker();
    q.start(w.worker);
    const j = makeJob();
    await q.enqueue(j);
    await tick();
    await q.stop(20);
    expect(w.aborted.map((a) => a.id)).toEqual([j.id]);
  });
});
