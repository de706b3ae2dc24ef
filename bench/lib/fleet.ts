import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { startRedis, type RedisServer } from "../../test/helpers/redis.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../../test/helpers/webhooks.js";
import { startAppProcess, WEBHOOK_SECRET, type AppProcess } from "./app-process.js";
import { closeOnSignal, killOnExit } from "./cleanup.js";
import { benchDir, wallMs } from "./common.js";
import { GitHubStandIn } from "./github-stand-in.js";
import type { PrOrigin } from "./pr-origin.js";
import { codexConfigToml, startResponses, type ResponsesServer } from "./responses.js";
import { startWorkerCli, type WorkerCli } from "./worker-cli.js";

/**
 * The real app as one operator would run it, with GitHub and the model stood in: either one process
 * with the embedded SQLite queue and WORKER_CONCURRENCY job slots, or (queue "redis") a web process
 * (WORKERS=0) and `processes` × `codex-pr-bot worker` sharing a throwaway redis-server and one
 * run-history file, each worker with its own DATA_DIR. Every
 * agent run is the pinned codex binary, jailed as in production, against the scripted model.
 */

export interface FleetOptions {
  /** Folder under .data/bench; emptied first. */
  name: string;
  queue: "sqlite" | "redis";
  /** Worker processes besides the web process (redis only; sqlite runs its jobs in the one process). */
  processes: number;
  /** Job slots per process (WORKER_CONCURRENCY / WORKERS). */
  slots: number;
  /** The model's answer to every request. */
  answer: () => string;
  /** Model time per request (ms), or per request number. */
  modelDelayMs: number | ((n: number) => number);
  env?: Record<string, string>;
}

export interface Fleet {
  gh: GitHubStandIn;
  mock: ResponsesServer;
  web: AppProcess;
  workers: WorkerCli[];
  dataDir: string;
  databasePath: string;
  redis: RedisServer | null;
  /** Sends pull_request.opened for `pr` of `origin`; resolves at the 2xx. */
  openPr(origin: PrOrigin, pr: number, installationId: number): Promise<Sent>;
  /** Sends an issue comment `body` on the open `pr`; resolves at the 2xx. */
  comment(origin: PrOrigin, pr: number, installationId: number, body: string, commentId: number, user?: string): Promise<Sent>;
  /** Pids of the app's processes (web and workers), for their CPU time. */
  pids(): number[];
  /** Rows of the run history (shared by every process). */
  runs(): RunRow[];
  close(): Promise<void>;
}

export interface Sent {
  sentAt: number;
  ackMs: number;
  deliveryId: string;
}

export interface RunRow {
  repo: string;
  pr_number: number;
  head_sha: string | null;
  status: string;
  attempts: number;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  queue_ms: number | null;
  checkout_ms: number | null;
  agent_ms: number | null;
  publish_ms: number | null;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dataDir = path.join(benchDir(), options.name);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const databasePath = path.join(dataDir, "codex-pr-bot.sqlite");
  const opened: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of opened.splice(0).reverse()) await close().catch(() => undefined);
  };
  const forgetSignal = closeOnSignal(closeAll);
  try {
    const mock = await startResponses(options.answer, { delayMs: options.modelDelayMs });
    opened.push(() => mock.close());
    const template = path.join(dataDir, "codex-template");
    mkdirSync(template, { recursive: true });
    writeFileSync(path.join(template, "config.toml"), codexConfigToml(mock.url));
    const gh = new GitHubStandIn({ config: null, keepBodies: true });
    await gh.start();
    opened.push(() => gh.close());
    let redis: RedisServer | null = null;
    if (options.queue === "redis") {
      redis = await startRedis();
      opened.push(() => redis!.stop());
    }
    const common: Record<string, string> = {
      CODEX_HOME_TEMPLATE: template,
      DATABASE_PATH: databasePath,
      LOG_FORMAT: "json",
      // One running job per installation would be a policy, not a measure of the bot: allow them all.
      PER_INSTALLATION_CONCURRENCY: "64",
      ...options.env,
    };
    const web = await startAppProcess({
      dataDir,
      githubUrl: gh.url,
      env:
        options.queue === "redis"
          ? { ...common, QUEUE_URL: redis!.url, WORKERS: "0", WORKER_CONCURRENCY: String(options.slots) }
          : { ...common, WORKER_CONCURRENCY: String(options.slots) },
    });
    const forgetWeb = killOnExit(web.pid);
    opened.push(async () => {
      await web.stop(15_000);
      forgetWeb();
    });
    const workers: WorkerCli[] = [];
    if (options.queue === "redis") {
      for (let i = 0; i < options.processes; i++) {
        const name = `worker-${i + 1}`;
        // Each worker its own DATA_DIR (one per process is enforced: workspace/data-dir-lock.ts); one run history.
        const own = path.join(dataDir, name);
        mkdirSync(own, { recursive: true });
        const w = await startWorkerCli({
          name,
          dataDir: own,
          githubUrl: gh.url,
          env: { ...common, QUEUE_URL: redis!.url, WORKERS: String(options.slots), WORKER_CONCURRENCY: String(options.slots) },
          args: [],
        });
        workers.push(w);
        opened.push(() => w.stop(15_000));
      }
    }
    let db: Database.Database | null = null;
    const send = async (event: string, payload: unknown): Promise<Sent> => {
      const sentAt = wallMs();
      const d = await deliver(web.url, event, payload, { secret: WEBHOOK_SECRET });
      if (d.status < 200 || d.status >= 300) throw new Error(`${event} delivery answered ${d.status}`);
      return { sentAt, ackMs: d.ms, deliveryId: d.deliveryId };
    };
    return {
      gh,
      mock,
      web,
      workers,
      dataDir,
      databasePath,
      redis,
      openPr: (origin, pr, installationId) => send("pull_request", publishPull(gh, origin, pr, installationId)),
      comment: (origin, pr, installationId, body, commentId, user) => {
        publishPull(gh, origin, pr, installationId);
        const repo = { owner: origin.owner, name: origin.name, cloneUrl: origin.url };
        return send("issue_comment", issueCommentPayload(repo, { number: pr, body, commentId, ...(user ? { user } : {}) }, installationId));
      },
      pids: () => [web.pid, ...workers.map((w) => w.pid)],
      runs: () => {
        db ??= new Database(databasePath, { readonly: true, fileMustExist: true });
        return db
          .prepare(
            "SELECT repo, pr_number, head_sha, status, attempts, queued_at, started_at, finished_at, queue_ms, checkout_ms, agent_ms, publish_ms FROM runs",
          )
          .all() as RunRow[];
      },
      close: async () => {
        db?.close();
        await closeAll();
        forgetSignal();
      },
    };
  } catch (err) {
    await closeAll();
    forgetSignal();
    throw err;
  }
}

/** The PR as pull_request.opened describes it; GET /repos/:o/:r/pulls/:n answers it from now on. */
function publishPull(gh: GitHubStandIn, origin: PrOrigin, pr: number, installationId: number): ReturnType<typeof pullRequestPayload> {
  const head = origin.heads.get(pr);
  if (!head) throw new Error(`${origin.owner}/${origin.name} has no PR #${pr}`);
  const payload = pullRequestPayload(
    "opened",
    { owner: origin.owner, name: origin.name, cloneUrl: origin.url },
    { number: pr, headSha: head, baseSha: origin.mainSha, headRef: `bench-pr-${pr}` },
    installationId,
  );
  gh.setPull(origin.owner, origin.name, pr, { ...payload.pull_request, state: "open" });
  return payload;
}
