import type { CommandRun, Mode, Progress, ReviewOutcome, Usage } from "../types.js";
import type { TokenCeiling } from "./token-ceiling.js";

/**
 * What the pipeline asks of an agent CLI, and what it gets back. Codex and Claude implement the same
 * interface so the pipeline can run either (or both) without knowing their flags or event formats.
 */

export type ReasoningEffort = "minimal" | "low" | "medium" | "high" | "xhigh";

export interface AgentRunRequest {
  /** Absolute path, the agent's working directory. */
  worktree: string;
  /** review | audit | ask run read-only with (review, audit) or without (ask) a structured answer; fix | tests may edit. */
  mode: Mode;
  /** The full prompt, sent on stdin. */
  prompt: string;
  /** null → the operator's default. */
  model: string | null;
  reasoningEffort: ReasoningEffort | null;
  timeoutMs: number;
  /** Codex only: stop the run once its tokens pass this (Claude has its own --max-budget-usd). Absent/null = none. */
  tokenCeiling?: TokenCeiling | null;
  signal?: AbortSignal;
  /** Called on every meaningful change of the live progress (the caller throttles). */
  onProgress?: (progress: Progress) => void;
  /** Every raw event line the agent printed, for the run's event log (the caller caps it). */
  onEvent?: (line: string) => void;
}

export interface AgentRunResult {
  executor: "codex" | "claude";
  /** The last agent message text. */
  finalMessage: string;
  /** Parsed and validated for review/audit; null for the other modes. */
  review: ReviewOutcome | null;
  /** Findings that could not be used, e.g. a path outside the worktree. */
  droppedFindings: { title: string; reason: string }[];
  usage: Usage;
  /** Every command_execution item seen, in its final state. */
  commands: CommandRun[];
  model: string | null;
  durationMs: number;
  /** Non-fatal warnings (error items, "Reconnecting..." messages) for logs. */
  warnings: string[];
}

export interface Executor {
  readonly name: "codex" | "claude";
  /** Resolves with the result, or rejects with ExecutorError (a failed run) or Cancelled (aborted). */
  run(request: AgentRunRequest): Promise<AgentRunResult>;
}
