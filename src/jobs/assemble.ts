import path from "node:path";
import type { Logger } from "pino";
import { ClaudeExecutor } from "../executors/claude.js";
import { requireCodexCredentials } from "../executors/codex-credentials.js";
import { CodexExecutor } from "../executors/codex.js";
import { clearCodexHomes } from "../executors/home.js";
import type { Executor } from "../executors/types.js";
import type { Octokit } from "../github/client.js";
import { appJail } from "../jail/for-settings.js";
import type { RunAs } from "../security/agent-user.js";
import type { ClaudeOperatorSettings, Settings } from "../settings.js";
import type { RunStore } from "../store/runs.js";
import { Workspaces } from "../workspace/workspaces.js";
import { recordSuperseded, reportAbandoned } from "./abandoned.js";
import { createQueue, type DurableSettings } from "./create-queue.js";
import type { PipelineDeps } from "./deps.js";
import type { JobQueue } from "./queue.js";

/**
 * The one place the pipeline's parts are built from operator settings, shared by the web app
 * (src/app.ts) and the standalone worker (src/cli/worker.ts) so both run jobs the same way.
 */
export function buildPipelineDeps(input: {
  settings: Settings;
  runs: RunStore | null;
  log: Logger;
  /** An installation-scoped client (Probot's app.auth / probot.auth). */
  installationOctokit: (installationId: number) => Promise<Octokit>;
  workspaces?: Workspaces;
  executor?: Executor;
  claude?: PipelineDeps["claude"];
}): PipelineDeps {
  const { settings } = input;
  return {
    log: input.log,
    settings,
    runs: input.runs,
    workspaces: input.workspaces ?? new Workspaces({ root: path.join(settings.dataDir, "workspaces"), poolSize: settings.poolSize }),
    executor:
      input.executor ??
      requireCodexCredentials(
        new CodexExecutor({
          bin: settings.codexBin,
          homesRoot: codexHomesRoot(settings),
          homeTemplate: settings.codexHomeTemplate,
          apiKey: settings.codexApiKey,
          passEnv: settings.codexPassEnv,
          defaultModel: settings.codexModel,
          connectRetries: settings.codexConnectRetries,
          runAs: agentRunAs(settings),
          jail: appJail(settings, (message) => input.log.warn(message)),
        }),
        settings.codexApiKey,
        settings.codexHomeTemplate,
      ),
    claude:
      input.claude !== undefined
        ? input.claude
        : settings.claude
          ? claudeFactory(settings, settings.claude)
          : null,
    auth: async (installationId) => {
      const octokit = await input.installationOctokit(installationId);
      return {
        octokit,
        token: async () => ((await octokit.auth({ type: "installation" })) as { token: string }).token,
      };
    },
  };
}

/** The durable queue for these settings, reporting jobs it gives up on back through the pipeline. */
export function buildQueue(deps: PipelineDeps, durable: DurableSettings, workers: number): JobQueue {
  return createQueue({
    queueUrl: durable.queueUrl,
    sqlitePath: durable.databasePath,
    durability: durable.queueDurability,
    concurrency: workers,
    perInstallation: durable.perInstallationConcurrency,
    maxAttempts: durable.maxJobAttempts,
    log: deps.log,
    onAbandoned: (job, reason) => reportAbandoned(deps, job, reason),
    onSuperseded: (job, reason) => recordSuperseded(deps, job, reason),
  });
}

/**
 * Worktrees and CODEX_HOMEs left by a crashed process would otherwise leak disk and pool slots (and
 * a home may hold a copy of the operator's auth.json). Only safe when no other process runs jobs
 * from the same DATA_DIR.
 */
export async function sweepLeftovers(deps: PipelineDeps): Promise<void> {
  await deps.workspaces.sweep().catch((err: unknown) => deps.log.warn({ err }, "workspace sweep failed"));
  await clearCodexHomes(codexHomesRoot(deps.settings)).catch((err: unknown) => deps.log.warn({ err }, "CODEX_HOME sweep failed"));
}

function claudeFactory(settings: Settings, claude: ClaudeOperatorSettings): PipelineDeps["claude"] {
  return (limits) =>
    new ClaudeExecutor({
      bin: claude.bin,
      // Shared with codex's homes so the start-up sweep removes leftovers of both.
      homesRoot: codexHomesRoot(settings),
      apiKey: claude.apiKey,
      oauthToken: claude.oauthToken,
      baseUrl: claude.baseUrl,
      passEnv: claude.passEnv,
      defaultModel: claude.model,
      maxTurns: limits.maxTurns,
      maxBudgetUsd: limits.maxBudgetUsd,
      maxRetries: claude.maxRetries,
      bashAllow: claude.fixCommands ?? [],
      runAs: agentRunAs(settings),
      jail: appJail(settings),
    });
}

/** AGENT_USER for every agent the app starts (codex and claude alike), or null to run as the app's user. */
function agentRunAs(settings: Settings): RunAs | null {
  return settings.agentUser ? { user: settings.agentUser, dataDir: settings.dataDir } : null;
}

function codexHomesRoot(settings: Settings): string {
  return path.join(settings.dataDir, "codex-homes");
}
