import { parseArgs } from "node:util";
import { createProbot } from "probot";
import { claimDataDir } from "../workspace/data-dir-lock.js";
import { installationClient } from "../github/installation-client.js";
import { clientPolicyFromEnv } from "../github/policy.js";
import { buildPipelineDeps, buildQueue, sweepLeftovers } from "../jobs/assemble.js";
import { queuedJobLookup, sweepCheckRuns } from "../jobs/sweep-check-runs.js";
import { readDurableSettings } from "../jobs/create-queue.js";
import { RecordingQueue } from "../jobs/recording-queue.js";
import { createWorker } from "../jobs/run-job.js";
import { loadSettings } from "../settings.js";
import { RunStore } from "../store/runs.js";
import { EXIT, UsageError, type CliIO } from "./io.js";

/**
 * `codex-pr-bot worker`: runs jobs from the shared Redis queue (QUEUE_URL) and serves no HTTP, so
 * web processes (WORKERS=0) and any number of workers scale apart (docs/operations.md).
 */

export const WORKER_HELP = `Usage: codex-pr-bot worker [options]

Runs jobs from the shared queue (QUEUE_URL=redis://…) without serving HTTP. Needs the GitHub App's
APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) to act on installations. Stops gracefully on SIGTERM/SIGINT:
running jobs finish (or are handed back to the queue) before it exits.

Options:
  --concurrency <n>   Jobs this process runs at once (default: WORKERS, else WORKER_CONCURRENCY)
  --skip-sweep        Do not clear leftover worktrees and CODEX_HOMEs at start-up (to look at what a
                      crashed run left). Each worker needs its own DATA_DIR: one in use is refused
`;

export async function workerCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      concurrency: { type: "string" },
      "skip-sweep": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(WORKER_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const env = io.env;
  if (!env.QUEUE_URL?.trim()) {
    throw new UsageError("QUEUE_URL is not set: a worker runs jobs from the shared Redis queue (e.g. QUEUE_URL=redis://localhost:6379)");
  }
  if (!env.APP_ID?.trim()) throw new UsageError("APP_ID is not set: the worker needs the GitHub App's id and private key");
  if (!env.PRIVATE_KEY?.trim() && !env.PRIVATE_KEY_PATH?.trim()) {
    throw new UsageError("PRIVATE_KEY (or PRIVATE_KEY_PATH) is not set: the worker needs the GitHub App's private key");
  }
  let concurrency: number | null = null;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a positive integer (got "${values.concurrency}")`);
  }

  const settings = loadSettings(env, io.cwd);
  const durable = readDurableSettings(env, { dataDir: settings.dataDir, concurrency: settings.concurrency });
  const workers = concurrency ?? durable.workers;
  if (workers < 1) throw new UsageError("WORKERS=0 leaves a worker nothing to do: set WORKERS>=1 or pass --concurrency");

  // Before anything starts: another process running agents in this DATA_DIR would lose jobs.
  const claim = claimDataDir(settings.dataDir);
  const probot = createProbot({ env });
  // Probot 14 initialises asynchronously (its logger is null until then); auth() without an
  // installation id waits for that and makes no request.
  await probot.auth();
  const log = probot.log.child({ name: "codex-pr-bot-worker" });
  const runs = new RunStore(durable.databasePath);
  const deps = buildPipelineDeps({
    settings,
    runs,
    log,
    installationOctokit: (id) => installationClient(probot, id, clientPolicyFromEnv(env)),
  });
  const inner = buildQueue(deps, durable, workers);
  // Follow-ups (a failed agent's retry) show on the runs page as queued, like webhook jobs.
  const queue = new RecordingQueue(inner, runs, log);
  deps.followUp = (job) => queue.enqueue(job);
  deps.signals = inner.signals;

  if (!values["skip-sweep"]) {
    await sweepLeftovers(deps);
  }
  const since = Date.now();
  queue.start(createWorker(deps));
  // After the queue recovered its jobs: check runs left in progress by jobs that will not run again.
  void sweepCheckRuns(deps, queuedJobLookup(inner), since);
  log.info({ workers, dataDir: settings.dataDir }, "codex-pr-bot worker ready");

  await new Promise<void>((resolve) => {
    if (!io.signal) return; // no way to stop: run until the process is killed
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  log.info("draining jobs before exit");
  try {
    await queue.stop();
    await queue.close?.();
  } finally {
    runs.close();
    claim.release();
  }
  log.info("worker stopped");
  return EXIT.ok;
}
