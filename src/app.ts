import path from "node:path";
import type { ApplicationFunction, Probot } from "probot";
import { CodexExecutor } from "./executors/codex.js";
import { clearCodexHomes } from "./executors/home.js";
import type { Executor } from "./executors/types.js";
import type { Octokit } from "./github/client.js";
import { onIssueComment } from "./handlers/issue-comment.js";
import { onPullRequest, PULL_REQUEST_EVENTS } from "./handlers/pull-request.js";
import type { PipelineDeps } from "./jobs/deps.js";
import { MemoryQueue } from "./jobs/memory-queue.js";
import type { JobQueue } from "./jobs/queue.js";
import { createWorker } from "./jobs/run-job.js";
import { loadSettings, type Settings } from "./settings.js";
import { Workspaces } from "./workspace/workspaces.js";

export interface AppOptions {
  settings?: Settings;
  queue?: JobQueue;
  executor?: Executor;
  workspaces?: Workspaces;
  /** Stop the queue gracefully on SIGTERM/SIGINT (off in tests, which load many apps). */
  handleSignals?: boolean;
}

/** Wires handlers, queue, workspaces and the executor into a Probot app function. */
export function createApp(options: AppOptions = {}): ApplicationFunction {
  return (app: Probot) => {
    const settings = options.settings ?? loadSettings();
    const log = app.log.child({ name: "codex-pr-bot" });
    const workspaces =
      options.workspaces ??
      new Workspaces({ root: path.join(settings.dataDir, "workspaces"), poolSize: settings.poolSize });
    const executor =
      options.executor ??
      new CodexExecutor({
        bin: settings.codexBin,
        homesRoot: path.join(settings.dataDir, "codex-homes"),
        homeTemplate: settings.codexHomeTemplate,
        apiKey: settings.codexApiKey,
        passEnv: settings.codexPassEnv,
        defaultModel: settings.codexModel,
      });
    const queue = options.queue ?? new MemoryQueue({ concurrency: settings.concurrency, log });

    const deps: PipelineDeps = {
      log,
      settings,
      workspaces,
      executor,
      auth: async (installationId) => {
        const octokit = (await app.auth(installationId)) as Octokit;
        return {
          octokit,
          token: async () => ((await octokit.auth({ type: "installation" })) as { token: string }).token,
        };
      },
    };

    app.on([...PULL_REQUEST_EVENTS], onPullRequest(queue));
    app.on("issue_comment.created", onIssueComment(queue, settings.handles));

    // Worktrees and CODEX_HOMEs left by a crashed process would otherwise leak disk and pool slots
    // (and a home may hold a copy of the operator's auth.json).
    workspaces.sweep().catch((err: unknown) => log.warn({ err }, "workspace sweep failed"));
    clearCodexHomes(path.join(settings.dataDir, "codex-homes")).catch((err: unknown) => log.warn({ err }, "CODEX_HOME sweep failed"));
    queue.start(createWorker(deps));

    if (options.handleSignals ?? true) {
      const shutdown = (signal: string): void => {
        log.info({ signal }, "draining jobs before exit");
        void queue.stop().finally(() => process.exit(0));
      };
      process.once("SIGTERM", shutdown);
      process.once("SIGINT", shutdown);
    }
    log.info({ dataDir: settings.dataDir, handles: settings.handles, concurrency: settings.concurrency }, "codex-pr-bot ready");
  };
}
