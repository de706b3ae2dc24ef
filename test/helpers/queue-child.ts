/**
 * A disposable queue process for crash tests: it opens a durable queue, optionally enqueues a job,
 * and runs a worker that never finishes, so the test can SIGKILL it mid-job.
 *
 *   node --import tsx test/helpers/queue-child.ts '<json ChildConfig>'
 *
 * Prints one JSON object per line on stdout: {"event":"started","id":…,"attempts":n} when the worker
 * gets a job, {"event":"abandoned","id":…,"reason":…} when the queue gives one up.
 */
import { pino } from "pino";
import { BullQueue } from "../../src/jobs/bullmq-queue.js";
import type { JobQueue } from "../../src/jobs/queue.js";
import { SqliteQueue } from "../../src/jobs/sqlite-queue.js";
import type { Job } from "../../src/types.js";

export interface ChildConfig {
  backend: "sqlite" | "bull";
  /** SQLite file or Redis URL. */
  target: string;
  job?: Job;
  queueName?: string;
  lockMs?: number;
  stalledIntervalMs?: number;
  maxAttempts?: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as ChildConfig;
const log = pino({ level: "silent" });
const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const onAbandoned = (job: Job, reason: string) => say({ event: "abandoned", id: job.id, reason });

let queue: JobQueue;
let attemptsOf: (id: string) => Promise<number | null>;
if (config.backend === "sqlite") {
  const q = new SqliteQueue({ database: config.target, concurrency: 1, maxAttempts: config.maxAttempts, log, onAbandoned });
  queue = q;
  attemptsOf = async (id) => q.jobState(id)?.attempts ?? null;
} else {
  const q = new BullQueue({
    url: config.target,
    concurrency: 1,
    maxAttempts: config.maxAttempts,
    log,
    onAbandoned,
    queueName: config.queueName,
    lockMs: config.lockMs,
    stalledIntervalMs: config.stalledIntervalMs,
  });
  queue = q;
  attemptsOf = async () => null;
}

if (config.job) say({ event: "enqueued", result: await queue.enqueue(config.job) });
queue.start(async (job) => {
  say({ event: "started", id: job.id, attempts: await attemptsOf(job.id) });
  await new Promise(() => undefined);
});
// Keeps the process alive until the test kills it (the queues' own timers are unref'd).
setInterval(() => undefined, 60_000);
