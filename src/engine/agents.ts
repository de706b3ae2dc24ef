import type { ExecutorName } from "../config/schema.js";
import { Cancelled, ExecutorError, type ExecutorFailure } from "../errors.js";
import { mergeReviews } from "../executors/merge.js";
import { costOf, DEFAULT_PRICE_TABLE, type PriceTable } from "../executors/pricing.js";
import type { AgentRunRequest, AgentRunResult, Executor } from "../executors/types.js";
import { sumUsage } from "../executors/usage.js";
import type { CommandRun, Finding, Progress, ReviewOutcome, Usage } from "../types.js";

/**
 * The agents of one run, and what their parallel runs come to. Every door (the app's jobs, the CLI,
 * MCP, the Action) runs agents through here, so fallback (one agent failing leaves the other's
 * result, with a note), cancellation, the spend of a failed agent and cost are decided once.
 */

/** One agent ready to run: the executor and the per-agent request fields (model, effort, token ceiling). */
export interface AgentSpec {
  name: ExecutorName;
  executor: Executor;
  request: Pick<AgentRunRequest, "model" | "reasoningEffort" | "tokenCeiling">;
}

/** The agents a door picked for a run; `unavailable` were asked for but are not set up where it runs. */
export interface PickedAgents {
  agents: AgentSpec[];
  unavailable: ExecutorName[];
}

/** How a door words an agent in what users read; the app and the terminal differ (Markdown vs plain). */
export interface AgentWording {
  /** An agent's name in a note, e.g. "**claude**" on GitHub, "claude" on a terminal. */
  name(agent: ExecutorName): string;
  /** One line on why an agent failed (already free of secrets). */
  failure(agent: ExecutorName, err: unknown): string;
}

export interface AgentFigures {
  name: ExecutorName;
  status: "succeeded" | "failed";
  /** How a failed agent failed (null when it succeeded or the failure was not the agent's). */
  failure: ExecutorFailure | null;
  usage: Usage | null;
  costUsd: number | null;
  model: string | null;
  /** One line on why it failed (null when it succeeded). */
  error: string | null;
  commands: CommandRun[];
  durationMs: number;
}

export interface CombinedReview {
  outcome: ReviewOutcome;
  /** Every finding of `outcome` → the agents that reported it. */
  foundBy: Map<Finding, ExecutorName[]>;
  /** What users must know: an agent that failed or was unavailable, and that the result is partial. */
  notes: string[];
  /** What each agent did, in the order they were asked. */
  agents: AgentFigures[];
  dropped: { title: string; reason: string }[];
  usage: Usage;
  costUsd: number | null;
  /** Models of the agents that answered, comma-separated. */
  model: string | null;
}

/** Runs each agent on its own directory (`dirs[i]`) in parallel; never rejects. */
export function runAgents(
  agents: readonly AgentSpec[],
  dirs: readonly string[],
  base: Omit<AgentRunRequest, "worktree" | "model" | "reasoningEffort" | "tokenCeiling" | "onProgress">,
  onProgress?: (p: Progress, agent: ExecutorName) => void,
): Promise<PromiseSettledResult<AgentRunResult>[]> {
  return Promise.allSettled(
    agents.map((a, i) =>
      a.executor.run({
        ...base,
        ...a.request,
        worktree: dirs[i]!,
        ...(onProgress ? { onProgress: (p: Progress) => onProgress(p, a.name) } : {}),
      }),
    ),
  );
}

/** A cancellation wins over every result: rethrows it when any agent was cancelled. */
export function throwIfCancelled(settled: readonly PromiseSettledResult<unknown>[]): void {
  const cancelled = settled.find((s): s is PromiseRejectedResult => s.status === "rejected" && s.reason instanceof Cancelled);
  if (cancelled) throw cancelled.reason;
}

/**
 * Pure: settled review runs → one review. Two reviews are merged (agreed findings first, each keeps
 * who found it); one failing leaves the other's with a note; all failing rethrows the first failure
 * carrying what every agent spent.
 */
export function combineReviews(
  names: readonly ExecutorName[],
  settled: readonly PromiseSettledResult<AgentRunResult>[],
  options: { wording: AgentWording; unavailable?: readonly ExecutorName[]; priceTable?: PriceTable; elapsedMs?: number },
): CombinedReview {
  throwIfCancelled(settled);
  const { wording, priceTable } = options;
  const ok = settled.flatMap((s, i) => (s.status === "fulfilled" && s.value.review ? [{ name: names[i]!, result: s.value }] : []));
  if (ok.length === 0) {
    const failed = settled.flatMap((s, i) => (s.status === "rejected" ? [{ name: names[i]!, reason: s.reason as unknown }] : []));
    throw everyAgentFailed(failed, priceTable) ?? new ExecutorError("no agent returned a review", "invalid-output");
  }
  const figures: AgentFigures[] = settled.map((s, i) => {
    const name = names[i]!;
    if (s.status === "rejected") {
      const failure = s.reason instanceof ExecutorError ? s.reason.kind : null;
      const spent = failedSpend(name, s.reason, priceTable);
      return { name, status: "failed", failure, ...spent, error: wording.failure(name, s.reason), commands: [], durationMs: options.elapsedMs ?? 0 };
    }
    return {
      name,
      status: "succeeded",
      failure: null,
      usage: s.value.usage,
      costUsd: costFor(name, s.value, priceTable),
      model: s.value.model,
      error: null,
      commands: s.value.commands,
      durationMs: s.value.durationMs,
    };
  });
  const alone = ok.map((o) => o.name).join(" and ");
  const notes = [
    ...figures.filter((f) => f.status === "failed").map((f) => `${wording.name(f.name)} did not finish (${f.error}); this review is from ${alone} alone.`),
    ...(options.unavailable ?? []).map(
      (n) => `${wording.name(n)} is configured for this repository but not set up on this installation; this review is from ${alone} alone.`,
    ),
  ];
  const merged =
    ok.length > 1
      ? mergeReviews(ok.map((o) => ({ executor: o.name, review: o.result.review! })))
      : { outcome: ok[0]!.result.review!, agents: new Map(ok[0]!.result.review!.findings.map((f) => [f, [ok[0]!.name]])) };
  return {
    outcome: merged.outcome,
    foundBy: merged.agents as Map<Finding, ExecutorName[]>,
    notes,
    agents: figures,
    dropped: ok.flatMap((o) => o.result.droppedFindings),
    usage: sumUsage(figures.map((f) => f.usage)),
    costUsd: totalCost(figures.map((f) => f.costUsd)),
    model: ok.map((o) => o.result.model).filter((m): m is string => !!m).join(", ") || null,
  };
}

/** The sum of the known costs; null when none is known. */
export function totalCost(costs: readonly (number | null)[]): number | null {
  const known = costs.filter((c): c is number => c !== null);
  return known.length > 0 ? known.reduce((a, b) => a + b, 0) : null;
}

/** Claude reports its own cost; Codex's comes from the price table (null for a model it does not know). */
export function costFor(name: ExecutorName, result: AgentRunResult, priceTable: PriceTable = DEFAULT_PRICE_TABLE): number | null {
  if (name === "claude") return (result as AgentRunResult & { costUsd?: number | null }).costUsd ?? null;
  return costOf(result.usage, result.model, priceTable);
}

/**
 * What a failed agent used before it stopped (ExecutorError.spent), priced like a finished run.
 * Nulls when the agent reported nothing.
 */
export function failedSpend(name: ExecutorName, err: unknown, priceTable: PriceTable = DEFAULT_PRICE_TABLE): Pick<AgentFigures, "usage" | "costUsd" | "model"> {
  const spent = err instanceof ExecutorError ? err.spent : null;
  if (spent === null) return { usage: null, costUsd: null, model: null };
  const costUsd = name === "claude" ? spent.costUsd : costOf(spent.usage, spent.model, priceTable);
  return { usage: spent.usage, costUsd, model: spent.model };
}

/**
 * What to throw when no agent finished: the first failure, carrying what all of them used (priced),
 * so the failed run's record still counts every agent's tokens. Undefined for an empty list.
 */
export function everyAgentFailed(failed: readonly { name: ExecutorName; reason: unknown }[], priceTable?: PriceTable): unknown {
  const first = failed[0];
  if (first === undefined) return undefined;
  if (!(first.reason instanceof ExecutorError)) return first.reason;
  const spends = failed.map((f) => failedSpend(f.name, f.reason, priceTable)).filter((s) => s.usage !== null);
  if (spends.length === 0) return first.reason;
  const total = {
    usage: sumUsage(spends.map((s) => s.usage)),
    costUsd: totalCost(spends.map((s) => s.costUsd)),
    model: first.reason.spent?.model ?? null,
  };
  return new ExecutorError(first.reason.message, first.reason.kind, first.reason.detail, total);
}

/** The first line of an error's message, capped: enough for a note, never a stack. */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0]!.slice(0, 300);
}
