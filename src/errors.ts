import type { Usage } from "./types.js";

/**
 * The few error classes the job boundary maps to a user-facing outcome. Every message here may be
 * shown in a check run, so it must be written for the PR author and never include secrets.
 */

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Human-readable list of problems (z.prettifyError output or a parse error). */
  constructor(message: string, readonly details: string) {
    super(message);
  }
}

export class WorkspaceError extends Error {
  override readonly name = "WorkspaceError";
}

export type ExecutorFailure =
  | "exit"          // non-zero exit code
  | "timeout"       // killed by our wall clock
  | "turn-failed"   // the CLI reported a failed turn
  | "invalid-output" // final message missing, not JSON, or not matching the schema
  | "spawn"         // the CLI could not be started
  | "rate-limit"    // provider said 429 / usage limit
  | "budget";       // stopped at its configured ceiling (Codex's max tokens, Claude's max budget)

/** What a failed run had used when it stopped, as far as the agent reported it. */
export interface AgentSpend {
  usage: Usage;
  /** The agent's own cost estimate (Claude's total_cost_usd); null when it gave none (Codex is priced by the caller). */
  costUsd: number | null;
  model: string | null;
}

export class ExecutorError extends Error {
  override readonly name = "ExecutorError";
  constructor(
    message: string,
    readonly kind: ExecutorFailure,
    /** Tail of the agent's stderr/last error, already free of secrets, for logs and the check run. */
    readonly detail: string = "",
    /** Tokens (and cost) spent before the failure, so a failed run still counts; null when unknown. */
    readonly spent: AgentSpend | null = null,
  ) {
    super(message);
  }

  /** The same failure carrying `spent`; unchanged when `spent` is null or the error already has one. */
  withSpent(spent: AgentSpend | null): ExecutorError {
    if (spent === null || this.spent !== null) return this;
    const copy = new ExecutorError(this.message, this.kind, this.detail, spent);
    if (this.stack !== undefined) copy.stack = this.stack;
    return copy;
  }
}

/** The job was cancelled (superseded by a newer push, or the app is shutting down). */
export class Cancelled extends Error {
  override readonly name = "Cancelled";
}
