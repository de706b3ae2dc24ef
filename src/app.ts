import path from "node:path";
import type { ApplicationFunction, ApplicationFunctionOptions, Probot } from "probot";
import type { Executor } from "./executors/types.js";
import type { Octokit } from "./github/client.js";
import { installationClient } from "./github/installation-client.js";
import { signalClient } from "./github/signal-client.js";
import { applyClientPolicy, clientPolicyFromEnv } from "./github/policy.js";
import { onCheckRunAction } from "./handlers/check-run-action.js";
import { onIssueComment } from "./handlers/issue-comment.js";
import { onPullRequest, PULL_REQUEST_EVENTS } from "./handlers/pull-request.js";
import { onReviewComment } from "./handlers/review-comment.js";
import { buildPipelineDeps, buildQueue, sweepLeftovers } from "./jobs/assemble.js";
import { readDurableSettings, type DurableSettings } from "./jobs/create-queue.js";
import type { JobQueue } from "./jobs/queue.js";
import { FirstSignals } from "./jobs/first-signal.js";
import { RecordingQueue } from "./jobs/recording-queue.js";
import { createWorker } from "./jobs/run-job.js";
import { queuedJobLookup, sweepCheckRuns } from "./jobs/sweep-check-runs.js";
import { loadSettings, type Settings } from "./settings.js";
import { AGENT_UMASK } from "./security/agent-user.js";
import { appJail } from "./jail/for-settings.js";
import { agentIsolationWarnings } from "./security/preflight.js";
import { claimDataDir } from "./workspace/data-dir-lock.js";
import { scheduleRetention } from "./store/retention.js";
import { RunStore } from "./store/runs.js";
import { runsRoutes } from "./web/runs-routes.js";
import type { Workspaces } from "./workspace/workspaces.js";

export interface AppOptions {
  settings?: Settings;
  durable?: DurableSettings;
  /** Replaces the durable queue (tests use an in-memory one). */
  queue?: JobQueue;
  /** Run history; null keeps none. Default: the SQLite file from DATABASE_PATH. */
  runs?: RunStore | null;
  executor?: Executor;
  workspaces?: Workspaces;
  /** Stop the queue gracefully on SIGTERM/SIGINT (off in tests, which load many apps). */
  handleSignals?: boolean;
}

/** Wires handlers, queue, run history, workspaces and the executor into a Probot app function. */
export function createApp(options: AppOptions = {}): ApplicationFunction {
  return (app: Probot, appOptions?: ApplicationFunctionOptions) => {
    const settings = options.settings ?? loadSettings();
    const durable = options.durable ?? readDurableSettings(process.env, { dataDir: settings.dataDir, concurrency: settings.concurrency });
    const log = app.log.child({ name: "codex-pr-bot" });
    const policy = clientPolicyFromEnv();
    const runs = options.runs === undefined ? new RunStore(durable.databasePath, { backgroundCheckpoints: true }) : options.runs;

    const deps = buildPipelineDeps({
      settings,
      runs,
      log,
      installationOctokit: (id) => installationClient(app, id, policy),
      ...(options.workspaces ? { workspaces: options.workspaces } : {}),
      ...(options.executor ? { executor: options.executor } : {}),
    });
    const inner = options.queue ?? buildQueue(deps, durable, durable.workers);
    // First signals (a queued check run, the 👀) at enqueue, web-only processes included, through a
    // client of their own so they don't wait behind the workers' writes (github/signal-client.ts).
    const firstSignals = new FirstSignals({ octokit: (id) => signalClient(app, id, policy), queue: inner, runs, log });
    // A web-only process (WORKERS=0) can't know when a worker elsewhere finishes a job, so it leaves
    // the run record to the worker that runs it instead of leaving a "queued" record behind.
    const queue = new RecordingQueue(inner, durable.workers > 0 ? runs : null, log, firstSignals);
    deps.followUp = (job) => queue.enqueue(job);
    deps.signals = inner.signals;

    // The handlers' own requests (permission checks, config reads, refusals) follow the same policy.
    const withPolicy = <C extends { octokit: Octokit }>(handler: (context: C) => Promise<void>) => (context: C) => {
      applyClientPolicy(context.octokit, policy);
      return handler(context);
    };
    app.on([...PULL_REQUEST_EVENTS], withPolicy(onPullRequest(queue)));
    app.on("issue_comment.created", withPolicy(onIssueComment(queue, settings.handles)));
    app.on("pull_request_review_comment.created", withPolicy(onReviewComment(queue, settings.handles)));
    app.on("check_run.requested_action", withPolicy(onCheckRunAction(queue, (jobId) => runs?.byJob(jobId)?.prNumber ?? null)));
    appOptions?.addHandler(runsRoutes({ runs, token: durable.runsToken, stats: async () => (await queue.stats?.()) ?? { pending: 0, running: 0 }, position: (job) => queue.position(job) }));

    if (settings.agentUser) {
      // Checkouts made while an agent runs must be closed to it from the start, not after a chmod.
      process.umask(AGENT_UMASK);
    }
    warnAboutIsolation(settings, log);

    if (durable.workers > 0) {
      // Refused, with the reason, when another process already runs agents in this DATA_DIR.
      claimDataDir(settings.dataDir);
      void sweepLeftovers(deps);
      const since = Date.now();
      queue.start(createWorker(deps));
      // After the queue recovered its jobs: check runs left in progress by jobs that will not run again.
      void sweepCheckRuns(deps, queuedJobLookup(inner), since);
    }
    if (runs) scheduleRetention(runs, { runDays: durable.runRetentionDays, logDays: durable.runLogRetentionDays }, log);

    if (options.handleSignals ?? true) {
      const shutdown = (signal: string): void => {
        log.info({ signal }, "draining jobs before exit");
        void queue
          .stop()
          .then(() => queue.close?.())
          .finally(() => process.exit(0));
      };
      process.once("SIGTERM", shutdown);
      process.once("SIGINT", shutdown);
    }
    log.info(
      { dataDir: settings.dataDir, handles: settings.handles, workers: durable.workers, queue: durable.queueUrl ? "bullmq" : "sqlite" },
      "codex-pr-bot ready",
    );
  };
}

/** The agent can read whatever its OS user can: say so loudly when that includes the app's secrets. */
function warnAboutIsolation(settings: Settings, log: Probot["log"]): void {
  const jail = appJail(settings, (message) => log.warn(message));
  if (jail.isolated) {
    // Fail closed: without a working jail every job ends with the probe's reason and fix, and the
    // operator reads the same sentence here at start-up.
    void jail
      .check(path.join(settings.dataDir, "codex-homes"))
      .then((probe) => {
        if (probe.ok) log.info({ jail: jail.describe(), probeMs: probe.durationMs }, "agents run jailed");
        else log.error({ jail: jail.describe() }, `agents will not run: ${probe.reason} ${probe.fix}`);
      });
    // AGENT_USER is an extra layer on top of the jail: its own checks still apply.
    if (!settings.agentUser) return;
  }
  agentIsolationWarnings({
    privateKeyPath: process.env.PRIVATE_KEY_PATH ? path.resolve(process.env.PRIVATE_KEY_PATH) : null,
    agentUser: settings.agentUser ?? null,
    dataDir: settings.dataDir,
    extraSecretFiles: [path.resolve(".env")],
    // codex.js is a node script; claude is a native binary.
    agentPrograms: [settings.codexBin, process.execPath, ...(settings.claude ? [settings.claude.bin] : [])],
  })
    .then((warnings) => warnings.forEach((w) => log.warn({ code: w.code }, w.message)))
    .catch((err: unknown) => log.warn({ err }, "agent isolation check failed"));
}
