/**
 * A worker process for the scale-out tests: what `codex-pr-bot worker` does with the shared Redis
 * queue (a BullQueue with its own concurrency), with the pipeline replaced by a stand-in that records
 * every job it runs. Several of these run at once against one Redis.
 *
 *   node --import tsx test/helpers/worker-process.ts '<json WorkerProcessConfig>'
 *
 * Each job appends two JSON lines to `logFile` (one write each, O_APPEND, so lines from several
 * processes never interleave): {"event":"start",…} when the worker gets it and {"event":"end",…}
 * when it is done. A job first waits until `gateFile` exists (when set), so a test can hold every
 * accepted job pending or running until it has finished enqueuing, then sleeps `sleepMs`.
 * stdout gets {"event":"ready"} once the queue is started; SIGTERM stops it gracefully and exits.
 */
import { appendFileSync, existsSync } from "node:fs";
import { pino } from "pino";
import { BullQueue } from "../../src/jobs/bullmq-queue.js";
import type { Job } from "../../src/types.js";

export interface WorkerProcessConfig {
  /** A name for this process, written on every line it logs. */
  name: string;
  url: string;
  queueName: string;
  logFile: string;
  concurrency: number;
  perInstallation?: number;
  sleepMs: number;
  gateFile?: string;
  busyRetryMs?: number;
}

export interface WorkerLogLine {
  event: "start" | "end";
  worker: string;
  pid: number;
  id: string;
  deliveryId: string;
  pr: string;
  installationId: number;
  /** Milliseconds on the host's clock (every process of the test shares it). */
  t: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerProcessConfig;
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }, pino.destination(2));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function record(event: WorkerLogLine["event"], job: Job): void {
  const line: WorkerLogLine = {
    event,
    worker: config.name,
    pid: process.pid,
    id: job.id,
    deliveryId: job.deliveryId,
    pr: `${job.repo.owner}/${job.repo.name}#${job.prNumber}`,
    installationId: job.installationId,
    t: Date.now(),
  };
  appendFileSync(config.logFile, `${JSON.stringify(line)}\n`);
}

const queue = new BullQueue({
  url: config.url,
  queueName: config.queueName,
  concurrency: config.concurrency,
  perInstallation: config.perInstallation,
  busyRetryMs: config.busyRetryMs ?? 50,
  log,
});

queue.start(async (job) => {
  record("start", job);
  while (config.gateFile && !existsSync(config.gateFile)) await sleep(20);
  await sleep(config.sleepMs);
  record("end", job);
});
process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid })}\n`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await queue.stop(5_000);
    await queue.close();
    process.exit(0);
  })();
});
// Keeps the process alive until it is told to stop (the queue's own timers may be unref'd).
setInterval(() => undefined, 60_000);
