import path from "node:path";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { RecordingQueue } from "../../../src/jobs/recording-queue.js";
import { SqliteQueue } from "../../../src/jobs/sqlite-queue.js";
import { RunStore } from "../../../src/store/runs.js";
import type { Job } from "../../../src/types.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const log = pino({ level: "silent" });

function setup(): { inner: SqliteQueue; runs: RunStore; queue: RecordingQueue; ensureAll: ReturnType<typeof vi.spyOn> } {
  const file = path.join(makeTempDir("recording-queue"), "codex-pr-bot.sqlite");
  const inner = new SqliteQueue({ database: file, concurrency: 0, log });
  const runs = new RunStore(file);
  const ensureAll = vi.spyOn(runs, "ensureAll");
  return { inner, runs, queue: new RecordingQueue(inner, runs, log), ensureAll };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("RecordingQueue: the runs page shows every accepted job as queued, written in a lull of the intake", () => {
  it("a burst is answered before its runs are written, then recorded in one transaction, each job once", async () => {
    const { runs, queue, ensureAll } = setup();
    const jobs = Array.from({ length: 20 }, (_, i) => makeJob({ pr: i + 1 }));

    const results = await Promise.all(
      jobs.map(async (job) => {
        const result = await queue.enqueue(job);
        // What the handler's answer waited for: the durable job, not its run record.
        return { result, run: runs.byJob(job.id) };
      }),
    );
    expect(results.map((r) => r.result.accepted)).toEqual(jobs.map(() => true));
    expect(results.map((r) => r.run)).toEqual(jobs.map(() => null));
    expect(ensureAll).not.toHaveBeenCalled();

    await vi.waitFor(() => expect(ensureAll).toHaveBeenCalledTimes(1), { timeout: 2_000, interval: 5 });
    expect(ensureAll.mock.calls[0]![0].map((j: { id: string }) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(jobs.map((j) => runs.byJob(j.id)?.status)).toEqual(jobs.map(() => "queued"));

    // A duplicate delivery is not a job: nothing recorded; a job recorded already is not recorded again.
    await queue.enqueue({ ...jobs[0]!, id: "another-id" });
    runs.ensureAll([jobs[1]!]);
    await sleep(100);
    expect(runs.list({ limit: 100 }).length).toBe(jobs.length);
    await queue.stop(0);
    await queue.close();
    runs.close();
  });

  it("a steady stream without a lull is still recorded within the maximum wait", async () => {
    const { runs, queue, ensureAll } = setup();
    const jobs = Array.from({ length: 40 }, (_, i) => makeJob({ pr: i + 1 }));
    const started = Date.now();
    // One job every 10 ms: never the 20 ms of quiet, for 400 ms.
    for (const job of jobs) {
      await queue.enqueue(job);
      await sleep(10);
    }
    const firstRecorded = ensureAll.mock.calls[0]?.[0] as { id: string }[] | undefined;
    expect(firstRecorded).toBeDefined();
    expect(firstRecorded!.length).toBeGreaterThan(1);
    expect(firstRecorded!.length).toBeLessThan(jobs.length);
    expect(Date.now() - started).toBeGreaterThan(250);
    await queue.close();
    expect(jobs.map((j) => runs.byJob(j.id)?.status)).toEqual(jobs.map(() => "queued"));
    runs.close();
  });

  it("a long burst's runs are written 50 per transaction, one transaction per event-loop turn", async () => {
    const { runs, queue, ensureAll } = setup();
    const jobs = Array.from({ length: 120 }, (_, i) => makeJob({ pr: i + 1 }));
    await Promise.all(jobs.map((job) => queue.enqueue(job)));
    // Each slice is its own turn: something scheduled between them (an answer) runs in between.
    const between: number[] = [];
    ensureAll.mockImplementation(function (this: RunStore, batch: readonly Job[]) {
      between.push(batch.length);
      setImmediate(() => between.push(0));
      return RunStore.prototype.ensureAll.call(runs, batch);
    });
    await vi.waitFor(() => expect(jobs.every((j) => runs.byJob(j.id)?.status === "queued")).toBe(true), { timeout: 2_000, interval: 5 });
    expect(between.filter((n) => n > 0)).toEqual([50, 50, 20]);
    expect(between.slice(0, 3)).toEqual([50, 0, 50]);
    await queue.close();
    runs.close();
  });

  it("stop() and close() write the runs still waiting, and recordPending() writes them at once", async () => {
    const { runs, queue, inner } = setup();
    const [a, b] = [makeJob({ pr: 1 }), makeJob({ pr: 2 })];
    await queue.enqueue(a);
    queue.recordPending();
    expect(runs.byJob(a.id)?.status).toBe("queued");
    await queue.enqueue(b);
    expect(runs.byJob(b.id)).toBeNull();
    await queue.stop(0);
    expect(runs.byJob(b.id)?.status).toBe("queued");
    expect(inner.jobState(b.id)?.status).toBe("pending");
    await queue.close();
    runs.close();
  });
});
