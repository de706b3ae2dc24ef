import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BullQueue, type BullQueueOptions } from "../../src/jobs/bullmq-queue.js";
import { createQueue } from "../../src/jobs/create-queue.js";
import type { Job } from "../../src/types.js";
import { controlledWorker, makeJob as job, spawnQueueChild, tick, waitFor } from "../helpers/queue-fixtures.js";
import { startRedis, type RedisServer } from "../helpers/redis.js";
import { REDIS, skipWithout } from "../helpers/services.js";

/**
 * BullQueue against a real, throwaway redis-server on a random loopback port (no persistence).
 * CI installs redis-server (.ci/run); without it this file is skipped, saying so (and fails with CI=true).
 */

const skip = skipWithout(REDIS, "the BullQueue tests (test/integration/bullmq-queue.test.ts)");

const log = pino({ level: "silent" });
let redis: RedisServer | null = null;
let url = "";
const opened: BullQueue[] = [];

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
  url = redis.url;
});

afterAll(async () => {
  await redis?.stop();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((q) => q.close()));
});

/** Each test gets its own queue name, so tests never see each other's jobs or keys. */
function open(queueName: string, options: Partial<BullQueueOptions> = {}): BullQueue {
  const q = new BullQueue({ url, queueName, concurrency: 1, log, busyRetryMs: 50, ...options });
  opened.push(q);
  return q;
}

const name = () => `t-${randomUUID().slice(0, 8)}`;

describe.skipIf(skip)("BullQueue (real Redis)", () => {
  it("is what createQueue picks when QUEUE_URL is set", async () => {
    const q = createQueue({ queueUrl: url, sqlitePath: "/nonexistent/never-opened.sqlite", concurrency: 1, perInstallation: 1, log });
    expect(q).toBeInstanceOf(BullQueue);
    expect(await q.stats?.()).toEqual({ pending: 0, running: 0 });
    await q.close?.();
  });

  it("ignores a redelivered webhook and a duplicate logical request", async () => {
    const q = open(name());
    const w = controlledWorker();
    q.start(w.worker);
    const first = job();
    expect(await q.enqueue(first)).toEqual({ accepted: true });
    expect(await q.enqueue({ ...first, id: "other" })).toEqual({ accepted: false, reason: "duplicate-delivery" });
    expect(await q.enqueue(job({ pull: first.pull }))).toEqual({ accepted: false, reason: "duplicate-request" });
    await waitFor(() => w.started.length === 1, "the job to start");
    w.finish(first.id);
    await q.idle();
    expect(w.started).toEqual([first.id]);
    // The logical key is released when the job ends.
    expect(await q.enqueue(job({ pull: first.pull }))).toEqual({ accepted: true });
    await waitFor(() => w.started.length === 2, "the repeated request to start");
    w.finish(w.started[1]!);
    await q.idle();
  });

  it("delays a job with notBefore (a failed agent's retry later)", async () => {
    const q = open(name());
    const w = controlledWorker();
    q.start(w.worker);
    const notBefore = Date.now() + 500;
    const delayed = job({ notBefore, retry: { of: "x", executors: ["claude"], reason: "429", earlier: [] } });
    expect(await q.enqueue(delayed)).toEqual({ accepted: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(w.started).toEqual([]);
    await waitFor(() => w.started.length === 1, "the delayed job to start");
    expect(Date.now()).toBeGreaterThanOrEqual(notBefore);
    w.finish(delayed.id);
    await q.idle();
  });

  it("a job of the same installation ending does not start a job waiting for its notBefore", async () => {
    const q = open(name(), { concurrency: 2, perInstallation: 1 });
    const w = controlledWorker();
    q.start(w.worker);
    const notBefore = Date.now() + 3_000;
    // Enqueued first: the oldest pending job of installation 1, delayed for a retry later.
    const later = job({ pr: 1, notBefore, retry: { of: "x", executors: ["claude"], reason: "429", earlier: [] } });
    await q.enqueue(later);
    const now = job({ pr: 2 });
    await q.enqueue(now);
    await waitFor(() => w.started.length === 1, "the job without a delay");
    w.finish(now.id);
    await tick(500);
    expect(w.started).toEqual([now.id]);
    await waitFor(() => w.started.length === 2, "the delayed job at its time", 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(notBefore);
    w.finish(later.id);
    await q.idle();
  });

  it("runs one job per PR at a time but different PRs in parallel", async () => {
    const q = open(name(), { concurrency: 4 });
    const w = controlledWorker();
    const a1 = job({ pr: 1, command: true, mode: "audit" });
    const a2 = job({ pr: 1, command: true, mode: "ask" });
    const b1 = job({ pr: 2 });
    await q.enqueue(a1);
    await q.enqueue(a2);
    await q.enqueue(b1);
    q.start(w.worker);
    await waitFor(() => w.started.length === 2, "two jobs to start");
    await tick(200);
    expect(w.started.sort()).toEqual([a1.id, b1.id].sort());
    w.finish(a1.id);
    await waitFor(() => w.started.length === 3, "the PR's second job");
    expect(w.started[2]).toBe(a2.id);
    w.finish(a2.id);
    w.finish(b1.id);
    await q.idle();
  });

  it("a push skips the pending review and cancels the running one of an older head", async () => {
    const qn = name();
    // Enqueued through a web-only instance: the cancel reaches the worker process over pub/sub.
    const web = open(qn, { concurrency: 0 });
    const dropped: string[] = [];
    const q = open(qn, { onSuperseded: (j) => void dropped.push(j.id) });
    const w = controlledWorker();
    q.start(w.worker);
    web.start(w.worker);
    await tick(100);
    const old = job({ head: "1".repeat(40) });
    const middle = job({ head: "2".repeat(40) });
    const newest = job({ head: "3".repeat(40) });
    await web.enqueue(old);
    await waitFor(() => w.started.length === 1, "the old review to start");
    await web.enqueue(middle);
    await web.enqueue(newest);
    // Well before the heartbeat's re-check (lockMs / 3 = 10 s): the pub/sub message did it.
    await waitFor(() => w.started.length === 2, "the newest review to start", 3_000);
    expect(w.abortedIds()).toEqual([old.id]);
    expect(w.aborted[0]!.reason).toContain("superseded");
    expect(w.started).toEqual([old.id, newest.id]);
    w.finish(newest.id);
    await q.idle();
    expect(dropped).toEqual([middle.id]);
  });

  it("cancels an outdated running review at the next heartbeat when the cancel message was missed", async () => {
    const qn = name();
    const q = open(qn, { lockMs: 300 });
    const w = controlledWorker();
    q.start(w.worker);
    const old = job({ head: "1".repeat(40) });
    await q.enqueue(old);
    await waitFor(() => w.started.length === 1, "the review to start");
    // What another process's enqueue writes, without the message.
    const raw = new Redis(url);
    await raw.set(`bull:${qn}:cpb:head:${old.repo.owner}/${old.repo.name}#${old.prNumber}`, "2".repeat(40));
    await raw.quit();
    await waitFor(() => w.aborted.length === 1, "the heartbeat to cancel the review", 2_000);
    expect(w.aborted[0]!.reason).toContain("superseded");
    await q.idle();
  });

  it("never drops a manual command because of a push", async () => {
    const q = open(name());
    const w = controlledWorker();
    q.start(w.worker);
    const command = job({ command: true, mode: "audit" });
    await q.enqueue(command);
    await waitFor(() => w.started.length === 1, "the command to start");
    const push = job({ head: "9".repeat(40) });
    await q.enqueue(push);
    await tick(100);
    expect(w.aborted).toEqual([]);
    w.finish(command.id);
    await waitFor(() => w.started.length === 2, "the push's review to start");
    expect(w.started).toEqual([command.id, push.id]);
    w.finish(push.id);
    await q.idle();
  });

  it("drains a burst of 100 PR events in order, nothing lost", async () => {
    const q = open(name());
    const order: number[] = [];
    for (let pr = 1; pr <= 100; pr++) expect(await q.enqueue(job({ pr }))).toEqual({ accepted: true });
    q.start(async (j) => void order.push(j.prNumber));
    await q.idle();
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("respects the per-process concurrency and the per-installation limit across processes", async () => {
    const qn = name();
    const a = open(qn, { concurrency: 3, perInstallation: 2 });
    const b = open(qn, { concurrency: 3, perInstallation: 2 });
    const running = new Map<number, number>();
    const peaks = new Map<number, number>();
    let total = 0;
    let peakTotal = 0;
    const seen: string[] = [];
    const worker = async (j: Job) => {
      seen.push(j.id);
      total++;
      peakTotal = Math.max(peakTotal, total);
      running.set(j.installationId, (running.get(j.installationId) ?? 0) + 1);
      peaks.set(j.installationId, Math.max(peaks.get(j.installationId) ?? 0, running.get(j.installationId)!));
      await tick(30);
      running.set(j.installationId, running.get(j.installationId)! - 1);
      total--;
    };
    const jobs = Array.from({ length: 24 }, (_, i) => job({ pr: i + 1, installationId: i % 2 === 0 ? 1 : 2 }));
    for (const j of jobs) await a.enqueue(j);
    a.start(worker);
    b.start(worker);
    await a.idle();
    expect(seen.sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(peaks.get(1)).toBe(2);
    expect(peaks.get(2)).toBe(2);
    expect(peakTotal).toBeLessThanOrEqual(4);
  });

  it("parks the jobs of an installation at its limit instead of cycling through them, and starts the oldest when a slot frees", async () => {
    const qn = name();
    // parkMs far beyond the test: only the promotion can start a parked job in time.
    const q = open(qn, { concurrency: 3, perInstallation: 1, parkMs: 120_000 });
    const w = controlledWorker();
    const backlog = Array.from({ length: 20 }, (_, i) => job({ pr: i + 1, installationId: 5 }));
    for (const j of backlog) await q.enqueue(j);
    const other = job({ pr: 100, installationId: 7 });
    await q.enqueue(other);
    q.start(w.worker);
    await waitFor(() => w.started.length === 2, "installation 5's first job and installation 7's");
    expect(w.started.sort()).toEqual([backlog[0]!.id, other.id].sort());
    const bull = new Redis(url);
    try {
      const delayed = async () => bull.zcard(`bull:${qn}:delayed`);
      await waitFor(async () => (await delayed()) === 19, "the other 19 to be parked");
      // One slot is free and 19 jobs wait: nothing is pulled again until a slot of 5 frees.
      const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await bull.info("stats"))![1]);
      const before = await commands();
      await tick(1_000);
      const during = (await commands()) - before;
      expect(during).toBeLessThan(100);
      expect(w.started).toHaveLength(2);
      w.finish(backlog[0]!.id);
      await waitFor(() => w.started.length === 3, "the oldest parked job, promoted", 5_000);
      expect(w.started[2]).toBe(backlog[1]!.id);
      w.finish(backlog[1]!.id);
      await waitFor(() => w.started.length === 4, "the next one", 5_000);
      expect(w.started[3]).toBe(backlog[2]!.id);
    } finally {
      bull.disconnect();
    }
  });

  it("stop() requeues a job still running after the grace period; another worker runs it", async () => {
    const qn = name();
    const first = open(qn);
    const w = controlledWorker();
    first.start(w.worker);
    const j = job();
    await first.enqueue(j);
    await waitFor(() => w.started.length === 1, "the job to start");
    await first.stop(50);
    expect(w.aborted).toEqual([{ id: j.id, reason: "shutting down" }]);
    expect(await first.stats()).toEqual({ pending: 1, running: 0 });

    const second = open(qn);
    const ran: string[] = [];
    second.start(async (x) => void ran.push(x.id));
    await second.idle();
    expect(ran).toEqual([j.id]);
  });

  it("retries a job whose process was killed mid-run, then reports it when that happens again", async () => {
    const qn = name();
    const fast = { lockMs: 600, stalledIntervalMs: 300 };
    const j = job();
    const first = spawnQueueChild({ backend: "bull", target: url, queueName: qn, job: j, ...fast });
    expect(await first.waitForEvent("started")).toMatchObject({ id: j.id });
    await first.crash();

    const second = spawnQueueChild({ backend: "bull", target: url, queueName: qn, ...fast });
    expect(await second.waitForEvent("started")).toMatchObject({ id: j.id });
    await second.crash();

    const abandoned: { job: Job; reason: string }[] = [];
    const third = open(qn, { ...fast, onAbandoned: (x, reason) => void abandoned.push({ job: x, reason }) });
    const ran: string[] = [];
    third.start(async (x) => void ran.push(x.id));
    await waitFor(() => abandoned.length === 1, "onAbandoned", 15_000);
    expect(abandoned[0]!.job.id).toBe(j.id);
    expect(abandoned[0]!.reason).toMatch(/interrupted 2 times/);
    expect(ran).toEqual([]);
    await third.idle();
    // The logical key was released: the same request can be made again.
    expect(await third.enqueue(job({ pull: j.pull }))).toEqual({ accepted: true });
    await third.idle();
  }, 30_000);
  it("position: the installation's pending jobs ahead from its index, this repository's named; gone once started (issue 23)", async () => {
    const qn = name();
    const q = open(qn);
    const w = controlledWorker();
    q.start(w.worker);
    const first = job({ pr: 1 });
    await q.enqueue(first);
    await waitFor(() => w.started.length === 1, "the first job to start");
    const a = job({ pr: 2 });
    const elsewhere = { ...job({ pr: 7 }), repo: { ...first.repo, name: "private-one" } };
    const otherInstallation = { ...job({ pr: 3 }), installationId: 2 };
    const b = job({ pr: 4, mode: "audit", command: true });
    for (const j of [a, elsewhere, otherInstallation, b]) expect((await q.enqueue(j)).accepted).toBe(true);
    expect(await q.position(first)).toBeNull();
    expect(await q.position(a)).toEqual({ ahead: 0, running: 1, aheadInRepo: [] });
    expect(await q.position(b)).toEqual({ ahead: 2, running: 1, aheadInRepo: [{ prNumber: 2, mode: "review" }] });
    w.finish(first.id);
    await waitFor(() => w.started.length === 2, "the next job to start");
    expect(await q.position(a)).toBeNull();
    expect(await q.position(b)).toMatchObject({ ahead: 1, aheadInRepo: [] });
    for (const id of w.started) w.finish(id);
  });

  it("signals: the intake's claim and a worker's take-over meet in Redis, across two queue objects (issue 23)", async () => {
    const qn = name();
    const web = open(qn, { concurrency: 0 });
    const worker = open(qn);
    // The intake first: the worker's take-over waits for what it sent.
    expect(await web.signals.claim("j1")).toBe(true);
    const taking = worker.signals.takeOver("j1", 5_000);
    await tick(50);
    await web.signals.publish("j1", { checkRunId: 42, checkRunName: "codex-pr-bot / review", reacted: false });
    expect(await taking).toEqual({ checkRunId: 42, checkRunName: "codex-pr-bot / review", reacted: false });
    expect(await web.signals.taken("j1")).toBe(true);
    // The worker first: the intake may not send anything.
    expect(await worker.signals.takeOver("j2", 1_000)).toBeNull();
    expect(await web.signals.claim("j2")).toBe(false);
    // Taken while still sending after the wait: "unknown", and a late publish does not undo the take-over.
    expect(await web.signals.claim("j3")).toBe(true);
    expect(await worker.signals.takeOver("j3", 200)).toBe("unknown");
    await web.signals.publish("j3", { checkRunId: 1, checkRunName: "n", reacted: true });
    expect(await web.signals.taken("j3")).toBe(true);
  });
});
