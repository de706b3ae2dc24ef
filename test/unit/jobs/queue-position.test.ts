import path from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryQueue } from "../../../src/jobs/memory-queue.js";
import { placeLabel, type JobQueue } from "../../../src/jobs/queue.js";
import { queuePositions, SqliteQueue } from "../../../src/jobs/sqlite-queue.js";
import type { Job } from "../../../src/types.js";
import { controlledWorker, makeJob, waitFor } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { queuedPositions, statusWithPlace } from "../../../src/web/runs-routes.js";
import type { RunSummary } from "../../../src/store/runs.js";

/**
 * Issue 23: a pending job's place among its installation's pending jobs, the same from both embedded
 * backends (BullQueue's is in test/integration/bullmq-queue.test.ts, against a real Redis).
 */

const log = pino({ level: "silent" });
const dir = makeTempDir("queue-position");
let files = 0;
const opened: JobQueue[] = [];

afterEach(async () => {
  for (const q of opened.splice(0)) {
    await q.stop(0);
    await q.close?.();
  }
});

const backends: [string, () => JobQueue][] = [
  ["MemoryQueue", () => new MemoryQueue({ concurrency: 1, log })],
  ["SqliteQueue", () => new SqliteQueue({ database: path.join(dir, `q-${++files}.sqlite`), concurrency: 1, log, durability: "process-crash" })],
];

function other(installationId: number, repo: string, spec: Parameters<typeof makeJob>[0] = {}): Job {
  const j = makeJob(spec);
  return { ...j, installationId, repo: { ...j.repo, name: repo } };
}

describe.each(backends)("%s.position", (_name, make) => {
  it("counts the installation's pending jobs ahead, names this repository's, and forgets a job once it starts", async () => {
    const q = make();
    opened.push(q);
    const w = controlledWorker();
    q.start(w.worker);
    const running = makeJob({ pr: 1 });
    await q.enqueue(running);
    await waitFor(() => w.started.length === 1, "the first job to start");

    const a = makeJob({ pr: 2 });
    const elsewhere = other(1, "private-one", { pr: 7 });
    const otherInstallation = other(2, "r", { pr: 3 });
    const b = makeJob({ pr: 4, mode: "audit", command: true });
    const c = makeJob({ pr: 5 });
    for (const j of [a, elsewhere, otherInstallation, b, c]) expect((await q.enqueue(j)).accepted).toBe(true);

    expect(await q.position!(a)).toEqual({ ahead: 0, running: 1, aheadInRepo: [] });
    // Another installation's job is not counted; another repository's is counted but not named.
    expect(await q.position!(c)).toEqual({
      ahead: 3,
      running: 1,
      aheadInRepo: [
        { prNumber: 2, mode: "review" },
        { prNumber: 4, mode: "audit" },
      ],
    });
    expect(await q.position!(otherInstallation)).toEqual({ ahead: 0, running: 0, aheadInRepo: [] });
    expect(await q.position!(running)).toBeNull();

    w.finish(running.id);
    await waitFor(() => w.started.length === 2, "the next job to start");
    expect(w.started[1]).toBe(a.id);
    expect(await q.position!(a)).toBeNull();
    expect(await q.position!(c)).toEqual({ ahead: 2, running: 1, aheadInRepo: [{ prNumber: 4, mode: "audit" }] });
  });

  it("a superseded pending review has no place, and the newer head takes its own at the end", async () => {
    const q = make();
    opened.push(q);
    const w = controlledWorker();
    q.start(w.worker);
    await q.enqueue(makeJob({ pr: 1 }));
    await waitFor(() => w.started.length === 1, "the first job to start");
    const old = makeJob({ pr: 2, head: "1".repeat(40) });
    const next = makeJob({ pr: 3 });
    await q.enqueue(old);
    await q.enqueue(next);
    const newer = makeJob({ pr: 2, head: "2".repeat(40) });
    await q.enqueue(newer);
    expect(await q.position!(old)).toBeNull();
    expect(await q.position!(next)).toMatchObject({ ahead: 0 });
    expect(await q.position!(newer)).toMatchObject({ ahead: 1, aheadInRepo: [{ prNumber: 3, mode: "review" }] });
  });
});

describe("queuePositions (the runs CLI's read of a database file)", () => {
  it("reads the same places from the file's queue table, and nothing from a file without one", async () => {
    const file = path.join(dir, `q-${++files}.sqlite`);
    const q = new SqliteQueue({ database: file, concurrency: 1, log, durability: "process-crash" });
    opened.push(q);
    const w = controlledWorker();
    q.start(w.worker);
    await q.enqueue(makeJob({ pr: 1 }));
    await waitFor(() => w.started.length === 1, "the first job to start");
    const a = makeJob({ pr: 2 });
    const b = makeJob({ pr: 3 });
    await q.enqueue(a);
    await q.enqueue(b);
    const db = new Database(file, { readonly: true });
    try {
      const places = queuePositions(db, [a, b]);
      expect(places.get(a.id)).toEqual(await q.position(a));
      expect(places.get(b.id)).toMatchObject({ ahead: 1 });
    } finally {
      db.close();
    }
    const empty = new Database(":memory:");
    expect(queuePositions(empty, [a]).size).toBe(0);
    empty.close();
  });
});

describe("placeLabel", () => {
  it("says next, then ordinals", () => {
    expect([0, 1, 2, 3, 10, 11, 12, 20, 21].map(placeLabel)).toEqual(["next", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]);
  });
});

describe("the runs page's and CLI's place of a queued run", () => {
  it("asks the queue for queued app runs only, and words the place", async () => {
    const asked: string[] = [];
    const runs = [
      { id: "r1", status: "queued", jobId: "j1", installationId: 1, repo: "o/r" },
      { id: "r2", status: "running", jobId: "j2", installationId: 1, repo: "o/r" },
      { id: "r3", status: "queued", jobId: null, installationId: null, repo: "local" },
    ] as RunSummary[];
    const places = await queuedPositions(runs, async (job) => {
      asked.push(`${job.id}@${job.installationId}:${job.repo.owner}/${job.repo.name}`);
      return { ahead: 2, running: 1, aheadInRepo: [] };
    });
    expect(asked).toEqual(["j1@1:o/r"]);
    expect(statusWithPlace(runs[0]!, places)).toBe("queued (3rd, 2 ahead)");
    expect(statusWithPlace(runs[1]!, places)).toBe("running");
    expect(statusWithPlace({ id: "x", status: "queued" }, new Map([["x", { ahead: 0, running: 2, aheadInRepo: [] }]]))).toBe("queued (next)");
  });
});
