import path from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteQueue, type SqliteQueueOptions } from "../../../src/jobs/sqlite-queue.js";
import type { Job } from "../../../src/types.js";
import { controlledWorker, makeJob as job, spawnQueueChild, tick, waitFor } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const log = pino({ level: "silent" });
const dir = makeTempDir("sqlite-queue");
let fileSeq = 0;
const opened: SqliteQueue[] = [];

function dbFile(): string {
  return path.join(dir, `queue-${++fileSeq}.sqlite`);
}

function open(file: string, options: Partial<SqliteQueueOptions> = {}): SqliteQueue {
  const q = new SqliteQueue({ database: file, concurrency: 1, log, ...options });
  opened.push(q);
  return q;
}

afterEach(async () => {
  for (const q of opened.splice(0)) {
    await q.stop(0);
    await q.close();
  }
});

describe("SqliteQueue", () => {
  it("ignores a redelivered webhook and a duplicate logical request", async () => {
    const q = open(dbFile());
    const w = controlledWorker();
    q.start(w.worker);
    const first = job();
    expect(await q.enqueue(first)).toEqual({ accepted: true });
    expect(await q.enqueue({ ...first, id: "other" })).toEqual({ accepted: false, reason: "duplicate-delivery" });
    const again = job({ pull: first.pull });
    expect(await q.enqueue(again)).toEqual({ accepted: false, reason: "duplicate-request" });
    // The refused delivery is remembered too, like MemoryQueue does.
    expect(await q.enqueue({ ...again, id: "third" })).toEqual({ accepted: false, reason: "duplicate-delivery" });
    w.finish(first.id);
    await q.idle();
    expect(w.started).toEqual([first.id]);
    expect(q.jobState(first.id)?.status).toBe("done");
    // Once the first job ended, the same logical request is new work.
    expect(await q.enqueue(job({ pull: first.pull }))).toEqual({ accepted: true });
  });

  it("does not claim a job before its notBefore time; a retry of the same head is its own request", async () => {
    const q = open(dbFile(), { pollMs: 50 });
    const w = controlledWorker();
    q.start(w.worker);
    const first = job();
    await q.enqueue(first);
    await waitFor(() => w.started.length === 1, "the first job to start");
    const retry = job({ pull: first.pull, notBefore: Date.now() + 400, retry: { of: first.id, executors: ["claude"], reason: "429", earlier: [] } });
    expect(await q.enqueue(retry)).toEqual({ accepted: true });
    w.finish(first.id);
    await tick();
    await new Promise((r) => setTimeout(r, 150));
    expect(w.started).toEqual([first.id]);
    expect(q.jobState(retry.id)?.status).toBe("pending");
    await waitFor(() => w.started.length === 2, "the retry to start once due");
    expect(q.jobState(retry.id)?.startedAt).toBeGreaterThanOrEqual(retry.notBefore!);
    w.finish(retry.id);
    await q.idle();
  });

  it("remembers delivery ids across a restart", async () => {
    const file = dbFile();
    const first = open(file);
    const j = job();
    await first.enqueue(j);
    await first.close();

    const second = open(file);
    expect(await second.enqueue({ ...j, id: "redelivered" })).toEqual({ accepted: false, reason: "duplicate-delivery" });
    expect(await second.stats()).toEqual({ pending: 1, running: 0 });
  });

  it("has the job committed to the file when enqueue resolves, and runs it after a restart", async () => {
    const file = dbFile();
    const first = open(file);
    const j = job();
    await first.enqueue(j);
    // Another connection sees it: the transaction is committed, not just buffered in this one.
    const other = new Database(file, { readonly: true });
    expect(other.prepare("SELECT status FROM queue_jobs WHERE id = ?").pluck().get(j.id)).toBe("pending");
    expect(other.pragma("journal_mode", { simple: true })).toBe("wal");
    other.close();
    await first.close();

    const second = open(file);
    const ran: string[] = [];
    second.start(async (x) => void ran.push(x.id));
    await second.idle();
    expect(ran).toEqual([j.id]);
  });

  it("runs one job per PR at a time but different PRs in parallel", async () => {
    const q = open(dbFile(), { concurrency: 4 });
    const w = controlledWorker();
    q.start(w.worker);
    const a1 = job({ pr: 1, command: true, mode: "audit" });
    const a2 = job({ pr: 1, command: true, mode: "ask" });
    const b1 = job({ pr: 2 });
    await q.enqueue(a1);
    await q.enqueue(a2);
    await q.enqueue(b1);
    await tick();
    expect(w.started).toEqual([a1.id, b1.id]);
    expect(await q.stats()).toEqual({ pending: 1, running: 2 });
    w.finish(a1.id);
    await tick();
    expect(w.started).toEqual([a1.id, b1.id, a2.id]);
    w.finish(a2.id);
    w.finish(b1.id);
    await q.idle();
  });

  it("a push replaces the pending review and cancels the running one of an older head", async () => {
    const dropped: string[] = [];
    const q = open(dbFile(), { onSuperseded: (j) => void dropped.push(j.id) });
    const w = controlledWorker();
    q.start(w.worker);
    const old = job({ head: "1".repeat(40) });
    const middle = job({ head: "2".repeat(40) });
    const newest = job({ head: "3".repeat(40) });
    await q.enqueue(old);
    await tick();
    await Promise.all([q.enqueue(middle), q.enqueue(newest)]);
    await tick();
    expect(w.abortedIds()).toEqual([old.id]);
    expect(w.aborted[0]!.reason).toContain("superseded");
    expect(w.started).toEqual([old.id, newest.id]);
    w.finish(newest.id);
    await q.idle();
    expect(q.jobState(old.id)?.status).toBe("cancelled");
    expect(q.jobState(middle.id)?.status).toBe("superseded");
    expect(dropped).toEqual([middle.id]);
    expect(q.jobState(newest.id)?.status).toBe("done");
  });

  it("never drops a manual command because of a push", async () => {
    const q = open(dbFile());
    const w = controlledWorker();
    q.start(w.worker);
    const command = job({ command: true, mode: "audit" });
    await q.enqueue(command);
    await tick();
    const push = job({ head: "9".repeat(40) });
    await q.enqueue(push);
    await tick();
    expect(w.aborted).toEqual([]);
    w.finish(command.id);
    await tick();
    expect(w.started).toEqual([command.id, push.id]);
    w.finish(push.id);
    await q.idle();
    expect(q.jobState(command.id)?.status).toBe("done");
  });

  it("drains a burst of 100 PR events in order within the concurrency limit", async () => {
    const q = open(dbFile(), { concurrency: 4 });
    const order: number[] = [];
    let running = 0;
    let peak = 0;
    q.start(async (j) => {
      running++;
      peak = Math.max(peak, running);
      order.push(j.prNumber);
      await tick(1);
      running--;
    });
    // Arriving together (one event-loop turn), as a burst of webhooks does: one group commit.
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => q.enqueue(job({ pr: i + 1 }))));
    expect(results.every((r) => r.accepted)).toBe(true);
    await q.idle();
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(peak).toBe(4);
    expect(await q.stats()).toEqual({ pending: 0, running: 0 });
  });

  it("limits running jobs per installation, counting every process sharing the file", async () => {
    const file = dbFile();
    const a = open(file, { concurrency: 4, perInstallation: 1 });
    const b = open(file, { concurrency: 4, perInstallation: 1, exclusive: false });
    const w = controlledWorker();
    const i1 = [job({ pr: 1 }), job({ pr: 2 }), job({ pr: 3 })];
    const i2 = job({ pr: 4, installationId: 2 });
    for (const j of [...i1, i2]) await a.enqueue(j);
    a.start(w.worker);
    b.start(w.worker);
    await tick(20);
    expect(w.started.sort()).toEqual([i1[0]!.id, i2.id].sort());
    w.finish(i1[0]!.id);
    await waitFor(() => w.started.length === 3, "the next job of installation 1");
    expect(w.started[2]).toBe(i1[1]!.id);
    w.finish(i1[1]!.id);
    await waitFor(() => w.started.length === 4, "the last job of installation 1");
    w.finish(i1[2]!.id);
    w.finish(i2.id);
    await a.idle();
  });

  it("an installation at its limit with a backlog holds back neither another installation nor its own order", async () => {
    const file = dbFile();
    const q = open(file, { concurrency: 3, perInstallation: 1 });
    const w = controlledWorker();
    // Installation 5's backlog comes first in the file; installations 3 and 9 queue behind it.
    const backlog = Array.from({ length: 300 }, (_, i) => job({ pr: i + 1, installationId: 5 }));
    await Promise.all(backlog.map((j) => q.enqueue(j)));
    const three = job({ pr: 1000, installationId: 3 });
    const nine = [job({ pr: 2000, installationId: 9 }), job({ pr: 2001, installationId: 9 })];
    for (const j of [three, ...nine]) await q.enqueue(j);
    q.start(w.worker);
    // One job of each installation, the oldest of each; the third slot stays free (each is at 1).
    await waitFor(() => w.started.length === 3, "one job of each installation");
    expect(w.started.sort()).toEqual([backlog[0]!.id, three.id, nine[0]!.id].sort());
    await tick(20);
    expect(w.started).toHaveLength(3);
    w.finish(nine[0]!.id);
    await waitFor(() => w.started.length === 4, "installation 9's next job");
    expect(w.started[3]).toBe(nine[1]!.id);
    w.finish(backlog[0]!.id);
    await waitFor(() => w.started.length === 5, "the backlog's next job");
    expect(w.started[4]).toBe(backlog[1]!.id);
    // Every pending job is still there, in its place.
    expect((await q.position({ ...backlog[2]!, id: backlog[2]!.id }))?.ahead).toBe(0);
    expect(await q.stats()).toEqual({ pending: 298, running: 3 });
  });

  it("upgrades a file made before the pending-jobs index and keeps its jobs", async () => {
    const file = dbFile();
    const old = open(file);
    const j = job({ pr: 1 });
    await old.enqueue(j);
    await old.close();
    // Roll the file back to version 2: the (installation_id, status) index, no queue_jobs_pending.
    const raw = new Database(file);
    raw.exec(`DROP INDEX queue_jobs_pending; CREATE INDEX queue_jobs_installation ON queue_jobs (installation_id, status);
      DELETE FROM schema_migrations WHERE namespace = 'queue' AND version = 3;`);
    raw.close();
    const again = open(file);
    const indexes = new Database(file, { readonly: true });
    const names = indexes.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'queue_jobs'").pluck().all();
    indexes.close();
    expect(names).toContain("queue_jobs_pending");
    expect(names).not.toContain("queue_jobs_installation");
    const w = controlledWorker();
    again.start(w.worker);
    await waitFor(() => w.started.length === 1, "the job from before the upgrade");
    expect(w.started).toEqual([j.id]);
    w.finish(j.id);
    await again.idle();
  });

  it("stop() lets a job finish within the grace period", async () => {
    const q = open(dbFile());
    const w = controlledWorker();
    q.start(w.worker);
    const j = job();
    await q.enqueue(j);
    await tick();
    const stopping = q.stop(5_000);
    w.finish(j.id);
    await stopping;
    expect(w.aborted).toEqual([]);
    expect(q.jobState(j.id)?.status).toBe("done");
  });

  it("stop() requeues a job still running after the grace period; the next process runs it", async () => {
    const file = dbFile();
    const first = open(file);
    const w = controlledWorker();
    first.start(w.worker);
    const j = job();
    await first.enqueue(j);
    await tick();
    await first.stop(20);
    expect(w.aborted).toEqual([{ id: j.id, reason: "shutting down" }]);
    // The attempt is given back: a deploy is not the job's fault.
    expect(q(first, j)).toMatchObject({ status: "pending", attempts: 0 });
    // Jobs accepted while draining are kept for the next process.
    const late = job({ pr: 2 });
    expect(await first.enqueue(late)).toEqual({ accepted: true });
    await first.close();

    const second = open(file);
    const ran: string[] = [];
    second.start(async (x) => void ran.push(x.id));
    await second.idle();
    expect(ran).toEqual([j.id, late.id]);
    expect(q(second, j)).toMatchObject({ status: "done", attempts: 1 });
  });

  it("records a job whose worker threw as failed and carries on", async () => {
    const q = open(dbFile());
    const ok = job({ pr: 2 });
    const bad = job({ pr: 1 });
    q.start(async (x) => {
      if (x.id === bad.id) throw new Error("boom");
    });
    await q.enqueue(bad);
    await q.enqueue(ok);
    await q.idle();
    expect(q.jobState(bad.id)).toMatchObject({ status: "failed", error: "boom" });
    expect(q.jobState(ok.id)?.status).toBe("done");
  });

  it("retries a job whose process was killed mid-run, then reports it when that happens again", async () => {
    const file = dbFile();
    const j = job();
    const first = spawnQueueChild({ backend: "sqlite", target: file, job: j });
    expect(await first.waitForEvent("started")).toMatchObject({ id: j.id, attempts: 1 });
    await first.crash();

    const second = spawnQueueChild({ backend: "sqlite", target: file });
    expect(await second.waitForEvent("started")).toMatchObject({ id: j.id, attempts: 2 });
    await second.crash();

    const abandoned: { job: Job; reason: string }[] = [];
    const third = open(file, { onAbandoned: (job, reason) => void abandoned.push({ job, reason }) });
    const ran: string[] = [];
    third.start(async (x) => void ran.push(x.id));
    await third.idle();
    await waitFor(() => abandoned.length === 1, "onAbandoned");
    expect(abandoned[0]!.job.id).toBe(j.id);
    expect(abandoned[0]!.reason).toMatch(/interrupted 2 times/);
    expect(ran).toEqual([]);
    expect(third.jobState(j.id)).toMatchObject({ status: "failed", attempts: 2 });
    // A job is never left 'running' by a dead process.
    expect(await third.stats()).toEqual({ pending: 0, running: 0 });
  }, 30_000);

  it("commits enqueues that arrive in one event-loop turn as one transaction, each judged on its own", async () => {
    const file = dbFile();
    const q = open(file);
    const first = job({ pr: 1 });
    const sameDelivery = { ...job({ pr: 2 }), deliveryId: first.deliveryId };
    const sameRequest = job({ pr: 1 });
    const other = job({ pr: 3 });
    // A job the table refuses (a NOT NULL column) fails alone: its savepoint rolls back, not the batch.
    const broken = { ...job({ pr: 4 }), installationId: null } as unknown as Job;
    const before = dataVersionCommits(file);
    const results = await Promise.allSettled([first, sameDelivery, sameRequest, other, broken].map((j) => q.enqueue(j)));
    expect(results.slice(0, 4).map((r) => (r.status === "fulfilled" ? r.value : r.reason))).toEqual([
      { accepted: true },
      { accepted: false, reason: "duplicate-delivery" },
      { accepted: false, reason: "duplicate-request" },
      { accepted: true },
    ]);
    expect(results[4]!.status).toBe("rejected");
    expect(dataVersionCommits(file) - before).toBe(1);
    const raw = new Database(file, { readonly: true });
    const ids = raw.prepare("SELECT id FROM queue_jobs ORDER BY seq").pluck().all();
    raw.close();
    expect(ids).toEqual([first.id, other.id]);
  });

  it("close() commits enqueues handed in during the same turn before releasing the file", async () => {
    const file = dbFile();
    const q = open(file);
    const j = job();
    const pending = q.enqueue(j);
    await q.close();
    expect(await pending).toEqual({ accepted: true });
    const again = open(file);
    expect(again.jobState(j.id)?.status).toBe("pending");
  });

  it("takes over only expired leases when the file is shared", async () => {
    const file = dbFile();
    const owner = open(file, { leaseMs: 60_000 });
    const w = controlledWorker();
    owner.start(w.worker);
    const j = job();
    await owner.enqueue(j);
    await tick();
    const other = open(file, { exclusive: false });
    expect(other.recover()).toEqual({ retried: [], abandoned: [] });
    expect(owner.jobState(j.id)?.status).toBe("running");
    w.finish(j.id);
    await owner.idle();
  });
});

/** Commits made to the file by any connection, read from another one (PRAGMA data_version counts others' commits). */
const watchers = new Map<string, Database.Database>();
function dataVersionCommits(file: string): number {
  let w = watchers.get(file);
  if (!w) {
    w = new Database(file);
    watchers.set(file, w);
  }
  return w.pragma("data_version", { simple: true }) as number;
}

function q(queue: SqliteQueue, j: Job) {
  return queue.jobState(j.id);
}
