import { writeFileSync } from "node:fs";
import path from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BullQueue } from "../../src/jobs/bullmq-queue.js";
import { logicalKey, prKey, type EnqueueResult } from "../../src/jobs/queue.js";
import type { Job } from "../../src/types.js";
import { makeJob, tick, waitFor } from "../helpers/queue-fixtures.js";
import { makeTempDir } from "../helpers/tmp.js";
import { startRedis, type RedisServer } from "../helpers/redis.js";
import { REDIS, skipWithout } from "../helpers/services.js";
import { readWorkerLog, spawnWorkerProcess, type WorkerLogLine, type WorkerProcess } from "../helpers/worker-process-harness.js";

/**
 * The scale-out shape for real: a web-only process (this test, WORKERS=0) enqueues into Redis and
 * two separate worker processes, each with concurrency 2, run the jobs (test/helpers/worker-process.ts
 * stands in for `codex-pr-bot worker`). Needs redis-server (CI installs it; skipped without, saying so).
 */

const skip = skipWithout(REDIS, "the two-worker Redis test (test/integration/two-workers.test.ts)");

const log = pino({ level: "silent" });
let redis: RedisServer | null = null;
const workers: WorkerProcess[] = [];
const opened: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  for (const c of opened.splice(0)) await c.close().catch(() => undefined);
  await redis?.stop();
});

describe.skipIf(skip)("two worker processes on one Redis queue", () => {
  it("drains a burst of 100 jobs with nothing lost or run twice, one job per PR at a time", async () => {
    const url = redis!.url;
    const queueName = `burst-${process.pid}`;
    const dir = makeTempDir("two-workers");
    const logFile = path.join(dir, "runs.jsonl");
    const gateFile = path.join(dir, "go");
    writeFileSync(logFile, "");

    const perInstallation = 2;
    for (const name of ["worker-a", "worker-b"]) {
      workers.push(
        spawnWorkerProcess({ name, url, queueName, logFile, gateFile, concurrency: 2, perInstallation, sleepMs: 25, busyRetryMs: 40 }),
      );
    }
    await Promise.all(workers.map((w) => w.ready()));

    // The web process: enqueues only.
    const web = new BullQueue({ url, queueName, concurrency: 0, perInstallation, log });
    opened.push(web);
    web.start(async () => {
      throw new Error("a web-only process must never run a job");
    });

    // 88 automatic reviews of distinct PRs, plus 12 commands on PRs 1-4 (three each), which queue
    // behind each other and behind that PR's review: 100 jobs, over two installations.
    const accepted: Job[] = [];
    const originals: Job[] = [];
    for (let pr = 1; pr <= 88; pr++) originals.push(makeJob({ pr, installationId: 1 + (pr % 2), head: sha(pr) }));
    for (let pr = 1; pr <= 4; pr++) {
      for (const mode of ["audit", "ask", "review"] as const) {
        originals.push(makeJob({ pr, installationId: 1 + (pr % 2), command: true, mode }));
      }
    }
    expect(originals).toHaveLength(100);

    // Redeliveries (same X-GitHub-Delivery, as GitHub's "Redeliver" sends) and duplicate logical
    // requests (a second delivery for the same PR, head and mode, or the same command comment).
    const redeliveries: Job[] = [];
    const sameRequests: Job[] = [];
    const results = new Map<string, EnqueueResult>();
    const enqueue = async (job: Job) => {
      const result = await web.enqueue(job);
      results.set(job.id, result);
      return result;
    };
    for (const [i, job] of originals.entries()) {
      expect(await enqueue(job)).toEqual({ accepted: true });
      accepted.push(job);
      if (i % 10 === 3) {
        const again = { ...job, id: `${job.id}-redelivered` };
        redeliveries.push(again);
        expect(await enqueue(again)).toEqual({ accepted: false, reason: "duplicate-delivery" });
      }
      if (i % 10 === 7) {
        const twin = { ...job, id: `${job.id}-twin`, deliveryId: `${job.deliveryId}-twin` };
        expect(logicalKey(twin)).toBe(logicalKey(job));
        sameRequests.push(twin);
        expect(await enqueue(twin)).toEqual({ accepted: false, reason: "duplicate-request" });
      }
    }
    // A burst arrives out of order too: a late redelivery of the very first webhook.
    const late = { ...originals[0]!, id: "late-redelivery" };
    redeliveries.push(late);
    expect(await enqueue(late)).toEqual({ accepted: false, reason: "duplicate-delivery" });
    expect(redeliveries.length).toBeGreaterThanOrEqual(10);
    expect(sameRequests.length).toBeGreaterThanOrEqual(10);

    // Until now every job the workers took waited at the gate, so no job had ended and every
    // duplicate above met its original still pending or running. Let them go.
    writeFileSync(gateFile, "");
    await waitFor(() => readWorkerLog(logFile).filter((l) => l.event === "end").length >= 100, "100 jobs to finish", 30_000);
    await web.idle();
    // Nothing more turns up late (a redelivered or stalled copy would start within this window).
    await tick(300);

    const lines = readWorkerLog(logFile);
    const starts = lines.filter((l) => l.event === "start");
    const ends = lines.filter((l) => l.event === "end");

    // Every accepted job ran exactly once, and nothing else ran.
    expect(starts.map((l) => l.id).sort()).toEqual(accepted.map((j) => j.id).sort());
    expect(ends.map((l) => l.id).sort()).toEqual(accepted.map((j) => j.id).sort());
    for (const dup of [...redeliveries, ...sameRequests]) {
      expect(results.get(dup.id)?.accepted).toBe(false);
      expect(starts.some((l) => l.id === dup.id)).toBe(false);
    }
    // One run per delivery id.
    expect(new Set(starts.map((l) => l.deliveryId)).size).toBe(100);

    // Both processes took work, and each ran every job it started to the end itself.
    const byWorker = countBy(starts, (l) => l.worker);
    expect(Object.keys(byWorker).sort()).toEqual(["worker-a", "worker-b"]);
    expect(byWorker["worker-a"]! + byWorker["worker-b"]!).toBe(100);
    for (const s of starts) expect(ends.find((e) => e.id === s.id)?.worker).toBe(s.worker);

    // One running job per PR at a time, across both processes: each PR's runs never overlap.
    const jobsByPr = new Map<string, WorkerLogLine[]>();
    for (const s of starts) jobsByPr.set(s.pr, [...(jobsByPr.get(s.pr) ?? []), s]);
    for (const pr of ["o/r#1", "o/r#2", "o/r#3", "o/r#4"]) expect(jobsByPr.get(pr)).toHaveLength(4);
    expect(peakOverlap(lines, (l) => l.pr)).toBe(1);
    // The installation limit holds across processes too, and the four slots were used in parallel.
    expect(Math.max(...Object.values(peakPerKey(lines, (l) => String(l.installationId))))).toBeLessThanOrEqual(perInstallation);
    expect(peakOverlap(lines, () => "all")).toBeGreaterThan(1);
    expect(peakOverlap(lines, () => "all")).toBeLessThanOrEqual(4);

    // BullMQ agrees: 100 completed, none failed or left behind.
    const connection = new Redis(url, { maxRetriesPerRequest: 3 });
    const inspect = new Queue(queueName, { connection });
    opened.push({ close: async () => (await inspect.close(), await connection.quit()) });
    const counts = await inspect.getJobCounts("completed", "failed", "active", "waiting", "delayed");
    expect(counts).toEqual({ completed: 100, failed: 0, active: 0, waiting: 0, delayed: 0 });

    // The duplicates' logical keys are free again: the same request is accepted once its job ended.
    const again = { ...originals[7]!, id: "after-drain", deliveryId: "after-drain" };
    expect(prKey(again)).toBe("o/r#8");
    expect(await web.enqueue(again)).toEqual({ accepted: true });
    await waitFor(() => readWorkerLog(logFile).some((l) => l.event === "end" && l.id === "after-drain"), "the repeated request to run");
    expect(workers.every((w) => w.exitCode() === null)).toBe(true);
  }, 40_000);
});

function sha(n: number): string {
  return n.toString(16).padStart(40, "0");
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

/** The most jobs running at once per key, replaying start/end lines in time order. */
function peakPerKey(lines: WorkerLogLine[], key: (l: WorkerLogLine) => string): Record<string, number> {
  // At equal times an end sorts first: the next job can only start after the previous one ended
  // (the PR lock is released after the worker's "end" line), so a tie is not an overlap.
  const sorted = [...lines].sort((a, b) => a.t - b.t || (a.event === b.event ? 0 : a.event === "end" ? -1 : 1));
  const now: Record<string, number> = {};
  const peak: Record<string, number> = {};
  for (const l of sorted) {
    const k = key(l);
    now[k] = (now[k] ?? 0) + (l.event === "start" ? 1 : -1);
    peak[k] = Math.max(peak[k] ?? 0, now[k]!);
  }
  return peak;
}

function peakOverlap(lines: WorkerLogLine[], key: (l: WorkerLogLine) => string): number {
  return Math.max(...Object.values(peakPerKey(lines, key)));
}
