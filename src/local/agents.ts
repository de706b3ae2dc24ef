import { agentLabel } from "../fix/body.js";
import type { ExecutorName, RepoConfig } from "../config/schema.js";
import { Cancelled, ExecutorError } from "../errors.js";
import { ClaudeExecutor } from "../executors/claude.js";
import { CodexExecutor } from "../executors/codex.js";
import { CODEX_CREDENTIALS_HINT, codexCredentialSource } from "../executors/codex-credentials.js";
import { mergeReviews } from "../executors/merge.js";
import { costOf } from "../executors/pricing.js";
import { effectiveTokenCeiling } from "../executors/token-ceiling.js";
import type { AgentRunRequest, AgentRunResult, Executor, ReasoningEffort } from "../executors/types.js";
import { sumUsage } from "../executors/usage.js";
import type { CommandRun, Finding, Progress, ReviewOutcome, Usage } from "../types.js";
import { CLAUDE_CREDENTIALS_HINT, type LocalSettings } from "./settings.js";

/**
 * Which agents a local run uses and how their results combine: `--executor codex|claude|both`.
 * Mirrors the app's jobs/agents.ts without a job context: the agents run in parallel, their reviews
 * are merged (agreed findings first, each finding keeps who found it), and one agent failing leaves
 * the other's review with a note instead of failing the run.
 */

export const EXECUTOR_CHOICES = ["codex", "claude", "both"] as const;
export type ExecutorChoice = (typeof EXECUTOR_CHOICES)[number];

/** A choice as the list of agents it runs, codex first. */
export function agentNames(choice: ExecutorChoice): ExecutorName[] {
  return choice === "both" ? ["codex", "claude"] : [choice];
}

/** An agent asked for but not set up on this machine (no Claude credential). */
export class AgentSetupError extends Error {
  override readonly name = "AgentSetupError";
}

/** Fails before anything runs when an agent is asked for that cannot run (codex would wait for the network until it times out). */
export function checkAgents(names: readonly ExecutorName[], settings: LocalSettings): void {
  if (names.includes("codex") && codexCredentialSource(settings.codex.apiKey, settings.codex.homeTemplate) === null) {
    throw new AgentSetupError(`codex has no credentials: ${CODEX_CREDENTIALS_HINT} (see docs/cli.md)`);
  }
  if (names.includes("claude") && settings.claude === null) {
    throw new AgentSetupError(`claude is not set up: ${CLAUDE_CREDENTIALS_HINT} (see docs/cli.md)`);
  }
}

export interface LocalAgent {
  name: ExecutorName;
  executor: Executor;
  /** Per-agent request fields: model, reasoning effort and (codex) the token ceiling. */
  request: Pick<AgentRunRequest, "model" | "reasoningEffort" | "tokenCeiling">;
}

/**
 * The executors for `names`, with the repository's per-agent settings. `model` (the command line's
 * --model) applies to a single agent only; callers reject it with two.
 */
export function localAgents(
  names: readonly ExecutorName[],
  settings: LocalSettings,
  config: RepoConfig,
  overrides: { model?: string | null; reasoningEffort?: ReasoningEffort | null } = {},
): LocalAgent[] {
  checkAgents(names, settings);
  const homesRoot = settings.codex.homesRoot;
  return names.map((name): LocalAgent => {
    if (name === "codex") {
      return {
        name,
        executor: new CodexExecutor(settings.codex),
        request: {
          model: overrides.model ?? config.codex.model ?? settings.codex.defaultModel,
          reasoningEffort: overrides.reasoningEffort ?? config.codex.reasoning_effort,
          // As in the app (jobs/agents.ts): the repository's codex.max_tokens may lower the operator's CODEX_MAX_TOKENS.
          tokenCeiling: effectiveTokenCeiling(config.codex.max_tokens, settings.codexMaxTokens ?? null),
        },
      };
    }
    const claude = settings.claude!;
    return {
      name,
      executor: new ClaudeExecutor({
        bin: claude.bin,
        homesRoot,
        apiKey: claude.apiKey,
        oauthToken: claude.oauthToken,
        baseUrl: claude.baseUrl,
        passEnv: claude.passEnv,
        defaultModel: claude.model,
        maxTurns: config.claude.max_turns,
        maxBudgetUsd: config.claude.max_budget_usd,
        maxRetries: claude.maxRetries,
        bashAllow: claude.fixCommands ?? [],
      }),
      request: { model: overrides.model ?? config.claude.model ?? claude.model, reasoningEffort: null, tokenCeiling: null },
    };
  });
}

/** Secrets of the local agents: kept out of messages and refused in a fix's added lines. */
export function knownSecrets(settings: LocalSettings): string[] {
  return [settings.codex.apiKey, settings.claude?.apiKey ?? null, settings.claude?.oauthToken ?? null].filter(
    (s): s is string => s !== null && s.length >= 6,
  );
}

/** What one agent did in a local run. */
export interface AgentReport {
  name: ExecutorName;
  status: "succeeded" | "failed";
  /** One line on why it failed (null when it succeeded). */
  error: string | null;
  model: string | null;
  usage: Usage | null;
  /** Claude's own estimate; Codex's from the built-in price table (null for unknown models). */
  costUsd: number | null;
  commands: CommandRun[];
  durationMs: number;
}

export interface CombinedReview {
  outcome: ReviewOutcome;
  /** Every finding of `outcome` → the agents that reported it. */
  foundBy: Map<Finding, ExecutorName[]>;
  agents: AgentReport[];
  /** An agent that did not finish, and that the review is from the other alone. */
  notes: string[];
  dropped: { title: string; reason: string }[];
  usage: Usage;
  /** Models of the agents that answered, comma-separated. */
  model: string | null;
}

/**
 * Runs the agents in parallel on the same directory (review and audit are read-only for both: codex
 * in its read-only sandbox, claude with Read/Grep/Glob and read-only git only), then combines them.
 * A cancellation wins over everything; all agents failing rethrows the first failure.
 */
export async function runReviewAgents(
  agents: readonly LocalAgent[],
  base: Omit<AgentRunRequest, "model" | "reasoningEffort" | "onProgress"> & { mode: "review" | "audit" },
  onProgress?: (p: Progress, agent: ExecutorName) => void,
): Promise<CombinedReview> {
  const started = Date.now();
  const settled = await Promise.allSettled(
    agents.map((a) =>
      a.executor.run({ ...base, ...a.request, ...(onProgress ? { onProgress: (p: Progress) => onProgress(p, a.name) } : {}) }),
    ),
  );
  return combineReviews(
    agents.map((a) => a.name),
    settled,
    Date.now() - started,
  );
}

/** Pure: settled agent runs → one review. Exported for tests. */
export function combineReviews(names: readonly ExecutorName[], settled: readonly PromiseSettledResult<AgentRunResult>[], elapsedMs = 0): CombinedReview {
  const cancelled = settled.find((s): s is PromiseRejectedResult => s.status === "rejected" && s.reason instanceof Cancelled);
  if (cancelled) throw cancelled.reason;
  const ok = settled.flatMap((s, i) => (s.status === "fulfilled" && s.value.review ? [{ name: names[i]!, result: s.value }] : []));
  if (ok.length === 0) {
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    throw failed?.reason ?? new ExecutorError("no agent returned a review", "invalid-output");
  }
  const agents: AgentReport[] = settled.map((s, i) => {
    const name = names[i]!;
    if (s.status === "rejected") {
      return { name, status: "failed", error: failureLine(name, s.reason), model: null, usage: null, costUsd: null, commands: [], durationMs: elapsedMs };
    }
    return {
      name,
      status: "succeeded",
      error: null,
      model: s.value.model,
      usage: s.value.usage,
      costUsd: costFor(s.value),
      commands: s.value.commands,
      durationMs: s.value.durationMs,
    };
  });
  const alone = ok.map((o) => o.name).join(" and ");
  const notes = agents.filter((a) => a.status === "failed").map((a) => `${a.name} did not finish (${a.error}); this review is from ${alone} alone.`);
  const merged =
    ok.length > 1
      ? mergeReviews(ok.map((o) => ({ executor: o.name, review: o.result.review! })))
      : { outcome: ok[0]!.result.review!, agents: new Map(ok[0]!.result.review!.findings.map((f) => [f, [ok[0]!.name]])) };
  return {
    outcome: merged.outcome,
    foundBy: merged.agents as Map<Finding, ExecutorName[]>,
    agents,
    notes,
    dropped: ok.flatMap((o) => o.result.droppedFindings),
    usage: sumUsage(agents.map((a) => a.usage)),
    model: ok.map((o) => o.result.model).filter((m): m is string => !!m).join(", ") || null,
  };
}

/** Claude's own cost estimate; Codex's from the price table (null for a model it does not know). */
export function costFor(result: AgentRunResult): number | null {
  if (result.executor === "claude") return (result as AgentRunResult & { costUsd?: number | null }).costUsd ?? null;
  return costOf(result.usage, result.model);
}

/** "Claude failed: <first line of the message>", for notes and reports. */
export function failureLine(name: ExecutorName, err: unknown): string {
  const agent = agentLabel(name);
  const kind =
    err instanceof ExecutorError
      ? err.kind === "timeout"
        ? "timed out"
        : err.kind === "rate-limit"
          ? "hit a rate or usage limit"
          : err.kind === "invalid-output"
            ? "returned an unusable result"
            : "failed"
      : "failed";
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);
  return `${agent} ${kind}: ${message}`;
}
