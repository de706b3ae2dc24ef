import { randomBytes, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { pino } from "pino";
import { RecordingQueue } from "../src/jobs/recording-queue.js";
import { SqliteQueue } from "../src/jobs/sqlite-queue.js";
import { openDatabase, type Db } from "../src/store/db.js";
import { RunStore } from "../src/store/runs.js";
import type { Job } from "../src/types.js";
import { makeJob } from "../test/helpers/queue-fixtures.js";
import { benchDir, isEntry, QUICK, round, runBench, summarize, type Row } from "./lib/common.js";

/**
 * Figure 1's durable part, alone: what one accepted job costs the event loop before its webhook is
 * answered, in a burst (groups of 50 enqueues, one group commit each, on a file with a week of
 * finished jobs). Peer: the same groups the way the intake did it until 2026-12-08 — the same
 * statements with a savepoint per job inside the group's transaction, then the queued runs in a
 * second transaction before the answer. Medians of the groups: a WAL checkpoint runs on the app's worker thread, not here.
 */

const GROUPS = QUICK ? 60 : 300;
const GROUP = 50;
const HISTORY = QUICK ? 2_000 : 20_000;
const log = pino({ level: "silent" });

interface Internals {
  db: Db;
  enqueueOne(job: Job, now: number): unknown;
  flush(): void;
}

function job(): Job {
  const j = makeJob({ pr: Math.floor(Math.random() * 1e9) + 1, head: randomBytes(20).toString("hex") });
  return { ...j, id: randomUUID(), deliveryId: randomUUID() };
}

async function measure(): Promise<Row[]> {
  const file = path.join(benchDir("intake"), "intake.sqlite");
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
  const db = openDatabase(file, { synchronous: "NORMAL" });
  const queue = new SqliteQueue({ database: db, concurrency: 0, log, durability: "process-crash" });
  const runs = new RunStore(db);
  const internals = queue as unknown as Internals;
  for (let at = 0; at < HISTORY; at += 1_000) {
    const jobs = Array.from({ length: 1_000 }, job);
    await Promise.all(jobs.map((j) => queue.enqueue(j)));
    runs.ensureAll(jobs);
  }
  const finishAll = db.prepare("UPDATE queue_jobs SET status = 'done', finished_at = ? WHERE status = 'pending'");
  finishAll.run(Date.now());

  const perJob = { now: [] as number[], before: [] as number[], runsBefore: [] as number[] };
  const timed = (f: () => void): number => {
    const t = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t) / 1000 / GROUP;
  };
  for (let g = 0; g < GROUPS; g++) {
    // Alternating, so a slower stretch of the machine hits both alike.
    const current = Array.from({ length: GROUP }, job);
    const pending = current.map((j) => queue.enqueue(j));
    perJob.now.push(timed(() => internals.flush()));
    await Promise.all(pending);

    const earlier = Array.from({ length: GROUP }, job);
    const now = Date.now();
    perJob.before.push(
      timed(() => {
        const one = db.transaction((j: Job) => internals.enqueueOne(j, now));
        db.transaction(() => earlier.map((j) => one(j))).immediate();
      }),
    );
    perJob.runsBefore.push(timed(() => runs.ensureAll(earlier)));
    finishAll.run(Date.now());
  }

  // Where the runs of the current intake go: one transaction after the burst, not before its answers.
  const recording = new RecordingQueue(queue, runs, log);
  const burst = Array.from({ length: GROUP }, job);
  await Promise.all(burst.map((j) => recording.enqueue(j)));
  const recordedAtAnswer = burst.filter((j) => runs.byJob(j.id) !== null).length;
  await new Promise((r) => setTimeout(r, 300));
  const recordedAfter = burst.filter((j) => runs.byJob(j.id) !== null).length;
  await recording.close();
  runs.close();
  db.close();

  const now = summarize(perJob.now).median;
  const before = summarize(perJob.before).median + summarize(perJob.runsBefore).median;
  return [
    {
      "groups of 50": GROUPS,
      "finished jobs in the file": HISTORY,
      "enqueue µs/job before the answer": round(now, 1),
      "before: enqueue (savepoint per job) µs/job": round(summarize(perJob.before).median, 1),
      "before: queued runs µs/job": round(summarize(perJob.runsBefore).median, 1),
      "before: total µs/job": round(before, 1),
      "runs recorded at the answer / 300 ms later": `${recordedAtAnswer} / ${recordedAfter} of ${GROUP}`,
    },
  ];
}

export async function main(): Promise<void> {
  await runBench("intake", "1b. What an accepted job costs the event loop before its answer", async () => {
    const table = await measure();
    const row = table[0]!;
    const now = row["enqueue µs/job before the answer"] as number;
    const before = row["before: total µs/job"] as number;
    const recorded = String(row["runs recorded at the answer / 300 ms later"]);
    return {
      sizes: { groups: GROUPS, group: GROUP, history: HISTORY },
      table,
      targets: [
        {
          target: "durable enqueue of a burst: at most half the event-loop time per job of the intake before 2026-12-08 (same run), every run recorded within 300 ms",
          measured: `${now} µs/job (before: ${before} µs/job, enqueue with a savepoint per job + queued runs before the answer); runs at the answer / 300 ms later: ${recorded}`,
          met: now <= before / 2 && recorded.endsWith(`/ ${GROUP} of ${GROUP}`),
          value: now,
          floor: before,
          unit: "µs",
        },
      ],
      details: {},
    };
  });
}

if (isEntry(import.meta.url)) await main();
