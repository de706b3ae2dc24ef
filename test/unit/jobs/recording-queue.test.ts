import path from "node:path";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { RecordingQueue } from "../../../src/jobs/recording-queue.js";
import { SqliteQueue } from "../../../src/jobs/sqlite-queue.js";
import { RunStore } from "../../../src/store/runs.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const log = pino({ level: "silent" });

describe("RecordingQueue: the runs page shows every accepted job as queued before the webhook's answer", () => {
  it("a burst accepted by one group commit is recorded in one transaction, each job once, before enqueue() resolves", async () => {
    const file = path.join(makeTempDir("recording-queue"), "codex-pr-bot.sqlite");
    const inner = new SqliteQueue({ database: file, concurrency: 0, log });
    const runs = new RunStore(file);
    const ensureAll = vi.spyOn(runs, "ensureAll");
    const queue = new RecordingQueue(inner, runs, log);
    const jobs = Array.from({ length: 20 }, (_, i) => makeJob({ pr: i + 1 }));

    const results = await Promise.all(
      jobs.map(async (job) => {
        const result = await queue.enqueue(job);
        // Recorded by the time the handler would answer.
        return { result, run: runs.byJob(job.id) };
      }),
    );
    expect(results.map((r) => r.result.accepted)).toEqual(jobs.map(() => true));
    expect(results.map((r) => r.run?.status)).toEqual(jobs.map(() => "queued"));
    expect(ensureAll).toHaveBeenCalledTimes(1);
    expect(ensureAll.mock.calls[0]![0].map((j) => j.id)).toEqual(jobs.map((j) => j.id));

    // A duplicate delivery is not a job: nothing recorded; a job recorded already is not recorded again.
    await queue.enqueue({ ...jobs[0]!, id: "another-id" });
    runs.ensureAll([jobs[1]!]);
    expect(runs.list({ limit: 100 }).length).toBe(jobs.length);
    await queue.stop(0);
    await queue.close();
    runs.close();
  });
});
