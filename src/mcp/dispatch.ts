import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { createProbot, type Probot } from "probot";
import { z } from "zod";
import { httpStatus, type Octokit } from "../github/client.js";
import { toPullSnapshot } from "../github/pulls.js";
import { repoSnapshot } from "../handlers/repo.js";
import { BullQueue } from "../jobs/bullmq-queue.js";
import { readDurableSettings, type DurableSettings } from "../jobs/create-queue.js";
import type { JobQueue } from "../jobs/queue.js";
import { RecordingQueue } from "../jobs/recording-queue.js";
import { SqliteQueue } from "../jobs/sqlite-queue.js";
import { RunStore } from "../store/runs.js";
import type { Job, Trigger } from "../types.js";

/**
 * The MCP tools `review_pr` and `fix_pr`: an MCP client asks the GitHub App to work on a pull
 * request. This process authenticates as the app, checks the installation and the PR, and puts a job
 * into the queue the app's workers read (the SQLite file under DATA_DIR, or Redis with QUEUE_URL),
 * recorded in the run store as queued. It never runs an agent itself: the app server or
 * `codex-pr-bot worker` does, exactly as for a webhook. Whoever runs this server holds the app's
 * private key, so these are operator tools; every dispatch records who asked (MCP_REQUESTED_BY).
 */

export interface DispatchOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A dispatch refused for a reason the caller can act on; its message is the tool's answer. */
export class DispatchError extends Error {
  override readonly name = "DispatchError";
}

export interface DispatchRequest {
  owner: string;
  repo: string;
  number: number;
  mode: "review" | "audit" | "fix" | "tests";
  instruction: string | null;
  executor: "codex" | "claude" | null;
}

export interface DispatchResult {
  /** The run store's id (what get_run takes), or null when this host keeps no run store for the queue. */
  runId: string | null;
  jobId: string;
  status: "queued";
  repo: string;
  number: number;
  mode: DispatchRequest["mode"];
  pullRequest: string;
  headSha: string;
  requestedBy: string;
  note: string;
}

/** Probot's standard variables: the app id and its private key (inline or as a file). */
export function hasAppCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.APP_ID?.trim() && (env.PRIVATE_KEY?.trim() || env.PRIVATE_KEY_PATH?.trim()));
}

const DEFAULT_REQUESTED_BY = "mcp";
const REQUESTED_BY = /^[\p{L}\p{N}][\p{L}\p{N} ._@+:/()-]{0,99}$/u;

/** MCP_REQUESTED_BY, checked: it is quoted in PR bodies and replies, so it stays one short plain line. */
export function requestedByFrom(env: NodeJS.ProcessEnv): string {
  const raw = env.MCP_REQUESTED_BY?.trim();
  if (!raw) return DEFAULT_REQUESTED_BY;
  if (!REQUESTED_BY.test(raw)) {
    throw new DispatchError(
      "MCP_REQUESTED_BY must be 1-100 characters: letters, digits, spaces and . _ @ + : / ( ) -, starting with a letter or digit (e.g. your GitHub login)",
    );
  }
  return raw;
}

/** Asks the app's queue to review or fix a pull request; one per MCP server, reused across calls. */
export class PullDispatcher {
  private probot: Probot | null = null;

  constructor(private readonly options: DispatchOptions) {}

  async dispatch(req: DispatchRequest): Promise<DispatchResult> {
    const requestedBy = requestedByFrom(this.options.env);
    const durable = this.durableSettings();
    const probot = this.app();
    const full = `${req.owner}/${req.repo}`;

    const appClient = (await probot.auth()) as unknown as Octokit;
    let installationId: number;
    try {
      installationId = (await appClient.rest.apps.getRepoInstallation({ owner: req.owner, repo: req.repo })).data.id;
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) throw new DispatchError(`the app is not installed on ${full} (or that repository does not exist)`);
      if (status === 401) throw new DispatchError("GitHub refused the app's credentials (401): check APP_ID and the private key");
      throw new DispatchError(`could not look up the app's installation on ${full}: ${errorText(err)}`);
    }

    const octokit = (await probot.auth(installationId)) as unknown as Octokit;
    let data: Awaited<ReturnType<Octokit["rest"]["pulls"]["get"]>>["data"];
    try {
      ({ data } = await octokit.rest.pulls.get({ owner: req.owner, repo: req.repo, pull_number: req.number }));
    } catch (err) {
      if (httpStatus(err) === 404) throw new DispatchError(`there is no pull request #${req.number} in ${full}`);
      throw new DispatchError(`could not read pull request #${req.number} of ${full}: ${errorText(err)}`);
    }
    if (data.state !== "open") {
      throw new DispatchError(`${full}#${req.number} is ${data.merged ? "merged" : "closed"}: only open pull requests can be reviewed or fixed`);
    }

    const pull = toPullSnapshot({ ...data, body: data.body ?? null });
    const trigger: Trigger = { kind: "dispatch", via: "mcp", requestedBy, ...(req.executor ? { executor: req.executor } : {}) };
    const id = randomUUID();
    const job: Job = {
      id,
      // Unique per dispatch: the queue's redelivery check must never take two dispatches for one.
      deliveryId: `mcp:${id}`,
      installationId,
      repo: repoSnapshot(data.base.repo),
      prNumber: req.number,
      mode: req.mode,
      trigger,
      instruction: req.instruction,
      // A review is of the head seen now, like a webhook's; a fix reads the PR when it runs, like a command.
      pull: req.mode === "review" || req.mode === "audit" ? pull : null,
      enqueuedAt: Date.now(),
    };

    const runId = await this.enqueue(job, durable, probot.log);
    const pullRequest = data.html_url || `${job.repo.htmlUrl}/pull/${req.number}`;
    const follow = runId
      ? `Follow it with get_run (id ${runId}).`
      : "This host keeps no run store for that queue, so get_run cannot follow it here; the runs page of the worker's host shows it.";
    return {
      runId,
      jobId: id,
      status: "queued",
      repo: full,
      number: req.number,
      mode: req.mode,
      pullRequest,
      headSha: pull.headSha,
      requestedBy,
      note: `Queued for the GitHub App: the app server or \`codex-pr-bot worker\` runs it, not this MCP server. ${follow}`,
    };
  }

  /** The queue and run store the app uses, from the same variables (DATA_DIR, DATABASE_PATH, QUEUE_URL). */
  private durableSettings(): DurableSettings {
    const { env, cwd } = this.options;
    const dataDir = path.resolve(cwd, env.DATA_DIR?.trim() || ".data");
    let durable: DurableSettings;
    try {
      durable = readDurableSettings(env, { dataDir, concurrency: 1 });
    } catch (err) {
      throw new DispatchError(`the queue settings are invalid: ${errorText(err)}`);
    }
    // An embedded queue file nobody created is one no app reads: the job would wait there forever.
    if (!durable.queueUrl && !existsSync(durable.databasePath)) {
      throw new DispatchError(
        `no queue database at ${durable.databasePath}: start the app once with the same DATA_DIR (or DATABASE_PATH) ` +
          "and give this MCP server the app's settings, or set QUEUE_URL to the app's Redis queue",
      );
    }
    return durable;
  }

  private app(): Probot {
    if (this.probot) return this.probot;
    const { env } = this.options;
    if (!/^\d+$/.test(env.APP_ID?.trim() ?? "")) throw new DispatchError(`APP_ID must be the GitHub App's numeric id, got "${env.APP_ID ?? ""}"`);
    try {
      // Probot logs to stdout, which is this server's protocol channel: keep it silent.
      this.probot = createProbot({ env: { ...env, LOG_LEVEL: "silent" } });
    } catch (err) {
      throw new DispatchError(`could not set up the GitHub App from APP_ID and PRIVATE_KEY / PRIVATE_KEY_PATH: ${errorText(err)}`);
    }
    return this.probot;
  }

  /**
   * Enqueue-only (no workers here), recorded as queued in the run store when this host keeps the one
   * the workers update: always with the embedded queue; with Redis only when this host runs workers
   * itself (WORKERS > 0, as in src/app.ts), or the record would stay "queued" forever.
   */
  private async enqueue(job: Job, durable: DurableSettings, log: Logger): Promise<string | null> {
    const common = { concurrency: 0, perInstallation: durable.perInstallationConcurrency, maxAttempts: durable.maxJobAttempts, log };
    const inner: JobQueue = durable.queueUrl
      ? new BullQueue({ url: durable.queueUrl, ...common })
      : new SqliteQueue({ database: durable.databasePath, ...common, exclusive: false });
    const runs = durable.workers > 0 && existsSync(durable.databasePath) ? new RunStore(durable.databasePath) : null;
    const recording = runs ? new RecordingQueue(inner, runs, log) : null;
    const queue = recording ?? inner;
    try {
      const result = await queue.enqueue(job);
      if (!result.accepted) throw new DispatchError(`the queue did not accept the job (${result.reason})`);
      recording?.recordPending();
      return runs?.byJob(job.id)?.id ?? null;
    } catch (err) {
      if (err instanceof DispatchError) throw err;
      throw new DispatchError(`could not queue the job: ${errorText(err)}`);
    } finally {
      await queue.close?.();
      runs?.close();
    }
  }
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);
}

// GitHub's rules for logins and repository names, so a typo is answered before any request.
const owner = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})$/, "owner must be a GitHub user or organisation login")
  .describe("Repository owner (user or organisation)");
const repo = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,100}$/, "repo must be a repository name (letters, digits, '.', '_', '-')")
  .refine((r) => r !== "." && r !== "..", "repo must be a repository name")
  .describe("Repository name");
const number = z.number().int().positive().max(2_147_483_647).describe("Pull request number");
const executor = z.enum(["codex", "claude"]).optional().describe("Run this agent only (default: the repository's routing)");

/** Registers review_pr and fix_pr when Probot's APP_ID and PRIVATE_KEY / PRIVATE_KEY_PATH are set. */
export function registerDispatchTools(server: McpServer, options: DispatchOptions): void {
  if (!hasAppCredentials(options.env)) return;
  const dispatcher = new PullDispatcher(options);

  server.registerTool(
    "review_pr",
    {
      title: "Review a pull request with the GitHub App",
      description:
        "Queues a review (or security audit) of an open pull request for the codex-pr-bot GitHub App, which posts it on the PR " +
        "(one review with inline comments and a check run) like an automatic review. Returns at once with the run id; " +
        "follow the run with get_run.",
      inputSchema: {
        owner,
        repo,
        number,
        mode: z.enum(["review", "audit"]).default("review").describe("review, or audit for a security audit"),
        executor,
      },
    },
    async (args) =>
      answer(() =>
        dispatcher.dispatch({ owner: args.owner, repo: args.repo, number: args.number, mode: args.mode, instruction: null, executor: args.executor ?? null }),
      ),
  );

  server.registerTool(
    "fix_pr",
    {
      title: "Fix a pull request with the GitHub App",
      description:
        "Queues a fix (or tests) run on an open pull request for the codex-pr-bot GitHub App: the agent edits a checkout of the PR head " +
        "and the app opens a fix-up pull request into the PR's branch (a patch comment for forks) and replies in the PR conversation. " +
        "Without an instruction, fix mode addresses the bot's open findings. Returns at once with the run id; follow it with get_run.",
      inputSchema: {
        owner,
        repo,
        number,
        mode: z.enum(["fix", "tests"]).default("fix").describe("fix, or tests to write tests for the change"),
        instruction: z.string().trim().min(1).max(8000).optional().describe("What to fix or test (default for fix: the bot's open findings)"),
        executor,
      },
    },
    async (args) =>
      answer(() =>
        dispatcher.dispatch({
          owner: args.owner,
          repo: args.repo,
          number: args.number,
          mode: args.mode,
          instruction: args.instruction ?? null,
          executor: args.executor ?? null,
        }),
      ),
  );
}

async function answer(run: () => Promise<DispatchResult>): Promise<CallToolResult> {
  try {
    const result = await run();
    const what = result.mode === "review" ? "a review" : result.mode === "audit" ? "a security audit" : result.mode === "tests" ? "a tests run" : "a fix";
    const text = [
      `Queued ${what} of ${result.repo}#${result.number} at ${result.headSha.slice(0, 12)}${result.runId ? ` as run ${result.runId}` : ` (job ${result.jobId})`}.`,
      result.pullRequest,
      result.note,
    ].join("\n");
    return { content: [{ type: "text", text }], structuredContent: { ...result } };
  } catch (err) {
    const text = err instanceof DispatchError ? err.message : `unexpected error: ${errorText(err)}`;
    return { isError: true, content: [{ type: "text", text }] };
  }
}
