import type { Logger } from "pino";
import type { Executor } from "../executors/types.js";
import type { Job } from "../types.js";
import type { EnqueueResult, SignalClaims } from "./queue.js";
import type { Octokit } from "../github/client.js";
import type { Settings } from "../settings.js";
import type { RunStore } from "../store/runs.js";
import type { Workspaces } from "../workspace/workspaces.js";

/** An installation's API client and a way to mint its short-lived token for git. */
export interface InstallationAccess {
  octokit: Octokit;
  token(): Promise<string>;
}

/** Everything the pipeline needs from the outside, handed in so tests can swap any part. */
export interface PipelineDeps {
  log: Logger;
  settings: Settings;
  auth(installationId: number): Promise<InstallationAccess>;
  workspaces: Workspaces;
  /** Codex: the default agent. */
  executor: Executor;
  /** Claude Code with a repository's limits, or null when the operator has not set it up. */
  claude: ((limits: { maxTurns: number; maxBudgetUsd: number | null }) => Executor) | null;
  /** Run history; null when none is kept. */
  runs: RunStore | null;
  /**
   * Queues follow-up work of a job (a failed agent's retry later). Set once the queue exists; unset
   * (tests with no queue) means follow-ups are not possible and the run says so.
   */
  followUp?: (job: Job) => Promise<EnqueueResult>;
  /** The queue's hand-over of first signals (jobs/first-signal.ts); unset: the worker sends its own. */
  signals?: SignalClaims;
}
