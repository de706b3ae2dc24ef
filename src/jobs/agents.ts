import { agentLabel } from "../fix/body.js";
import type { ExecutorName } from "../config/schema.js";
import { Cancelled, ExecutorError, type ExecutorFailure } from "../errors.js";
import { mergeReviews } from "../executors/merge.js";
import { costOf, DEFAULT_PRICE_TABLE, formatUsd } from "../executors/pricing.js";
import type { AgentRunRequest, AgentRunResult, Executor } from "../executors/types.js";
import { codeSpan } from "../review/sanitize.js";
import type { Finding, Mode, ReviewOutcome, Usage } from "../types.js";
import type { CheckedOut } from "./checkout.js";
import { checkoutPull } from "./checkout.js";
import type { JobContext } from "./context.js";
import { describeFailure } from "./outcome.js";
import { sumUsage } from "../executors/usage.js";
import { effectiveTokenCeiling } from "../executors/token-ceiling.js";

/** Which agents a job runs: a command (or a dispatch that asks for one) names its agent; otherwise the per-mode routing or `executors`. */
export function executorNames(ctx: JobContext, mode: Mode): ExecutorName[] {
  if (ctx.job.retry) return ctx.job.retry.executors;
  if (ctx.job.trigger.kind === "command") return [ctx.job.trigger.executor];
  if (ctx.job.trigger.kind === "dispatch" && ctx.job.trigger.executor) return [ctx.job.trigger.executor];
  return ctx.config.routing[mode] ?? ctx.config.executors;
}

export interface SelectedExecutors {
  executors: { name: ExecutorName; executor: Executor }[];
  /** Requested but not configured by the operator. */
  unavailable: ExecutorName[];
}

export function selectExecutors(ctx: JobContext, mode: Mode): SelectedExecutors {
  const selected: SelectedExecutors = { executors: [], unavailable: [] };
  for (const name of executorNames(ctx, mode)) {
    const executor =
      name === "codex"
        ? ctx.deps.executor
        : ctx.deps.claude?.({ maxTurns: ctx.config.claude.max_turns, maxBudgetUsd: ctx.config.claude.max_budget_usd }) ?? null;
    if (executor) selected.executors.push({ name, executor });
    else selected.unavailable.push(name);
  }
  if (selected.executors.length === 0) {
    throw new ExecutorError(
      `${selected.unavailable.join(" and ")} is not set up on this installation: the operator must configure it (for Claude: ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_BASE_URL).`,
      "spawn",
    );
  }
  return selected;
}

/** The per-run request fields that depend on which agent runs. */
export function agentRequest(ctx: JobContext, name: ExecutorName): Pick<AgentRunRequest, "model" | "reasoningEffort" | "tokenCeiling"> {
  return name === "codex"
    ? {
        model: ctx.config.codex.model ?? ctx.deps.settings.codexModel,
        reasoningEffort: ctx.config.codex.reasoning_effort,
        tokenCeiling: effectiveTokenCeiling(ctx.config.codex.max_tokens, ctx.deps.settings.codexMaxTokens ?? null),
      }
    : { model: ctx.config.claude.model ?? ctx.deps.settings.claude?.model ?? null, reasoningEffort: null, tokenCeiling: null };
}

export interface AgentFigures {
  name: ExecutorName;
  status: "succeeded" | "failed";
  /** How a failed agent failed (null when it succeeded or the failure was not the agent's). */
  failure: ExecutorFailure | null;
  usage: Usage | null;
  costUsd: number | null;
  model: string | null;
  error: string | null;
}

export interface ReviewAgentsResult {
  outcome: ReviewOutcome;
  /** Who found each finding, when more than one agent ran. */
  agents: Map<Finding, string[]> | null;
  /** What users must know: an agent that failed or was unavailable, and that the result is partial. */
  notes: string[];
  figures: AgentFigures[];
  usage: Usage;
  costUsd: number | null;
  models: string | null;
}

/**
 * Runs the review agents in parallel, each on its own worktree at the same head, and combines what
 * they found. One agent failing is not the run failing: the others' findings are posted with a note.
 */
export async function runReviewAgents(
  ctx: JobContext,
  mode: "review" | "audit",
  first: CheckedOut,
  base: Omit<AgentRunRequest, "worktree" | "mode" | "model" | "reasoningEffort">,
): Promise<ReviewAgentsResult> {
  const { executors, unavailable } = selectExecutors(ctx, mode);
  const extra: CheckedOut[] = [];
  try {
    for (let i = 1; i < executors.length; i++) extra.push(await checkoutPull(ctx, { extra: true }));
    const trees = [first, ...extra];
    const settled = await Promise.allSettled(
      executors.map(({ name, executor }, i) =>
        executor.run({ ...base, ...agentRequest(ctx, name), worktree: trees[i]!.lease.dir, mode }),
      ),
    );
    return combine(ctx, executors.map((e) => e.name), settled, unavailable);
  } finally {
    await Promise.all(extra.map((c) => c.lease.release().catch(() => undefined)));
  }
}

function combine(
  ctx: JobContext,
  names: ExecutorName[],
  settled: PromiseSettledResult<AgentRunResult>[],
  unavailable: ExecutorName[],
): ReviewAgentsResult {
  const cancelled = settled.find((s) => s.status === "rejected" && s.reason instanceof Cancelled);
  if (cancelled) throw (cancelled as PromiseRejectedResult).reason;
  const ok = settled.flatMap((s, i) => (s.status === "fulfilled" && s.value.review ? [{ name: names[i]!, result: s.value }] : []));
  if (ok.length === 0) {
    const failed = settled.flatMap((s, i) => (s.status === "rejected" ? [{ name: names[i]!, reason: s.reason as unknown }] : []));
    throw everyAgentFailed(ctx, failed) ?? new Error("no agent returned a review");
  }

  const figures: AgentFigures[] = settled.map((s, i) => {
    const name = names[i]!;
    if (s.status === "rejected") {
      const report = describeFailure(s.reason, ctx.secrets, ctx.job.id, agentLabel(name));
      const failure = s.reason instanceof ExecutorError ? s.reason.kind : null;
      const spent = failedSpend(ctx, name, s.reason);
      return { name, status: "failed", failure, ...spent, error: `${report.title}: ${firstLine(s.reason)}` };
    }
    return { name, status: "succeeded", failure: null, usage: s.value.usage, costUsd: costFor(ctx, name, s.value), model: s.value.model, error: null };
  });

  const alone = ok.map((o) => o.name).join(" and ");
  const notes = [
    ...figures.filter((f) => f.status === "failed").map((f) => `**${f.name}** did not finish (${f.error}); this review is from ${alone} alone.`),
    ...unavailable.map((n) => `**${n}** is configured for this repository but not set up on this installation; this review is from ${alone} alone.`),
  ];
  const merged =
    ok.length > 1 ? mergeReviews(ok.map((o) => ({ executor: o.name, review: o.result.review! }))) : { outcome: ok[0]!.result.review!, agents: null };
  const costs = figures.map((f) => f.costUsd).filter((c): c is number => c !== null);
  return {
    outcome: merged.outcome,
    agents: names.length > 1 ? merged.agents ?? new Map(ok[0]!.result.review!.findings.map((f) => [f, [ok[0]!.name]])) : null,
    notes,
    figures,
    usage: sumUsage(figures.map((f) => f.usage)),
    costUsd: costs.length > 0 ? costs.reduce((a, b) => a + b, 0) : null,
    models: ok.map((o) => o.result.model).filter((m): m is string => !!m).join(", ") || null,
  };
}

/** Claude reports its own cost; Codex's comes from the operator's price table. */
function costFor(ctx: JobContext, name: ExecutorName, result: AgentRunResult): number | null {
  if (name === "claude") return (result as AgentRunResult & { costUsd?: number | null }).costUsd ?? null;
  return costOf(result.usage, result.model, ctx.deps.settings.priceTable ?? DEFAULT_PRICE_TABLE);
}

/**
 * What a failed agent used before it stopped (ExecutorError.spent), priced like a finished run:
 * Claude's own estimate, Codex's from the price table. Nulls when the agent reported nothing.
 */
export function failedSpend(ctx: JobContext, name: ExecutorName, err: unknown): Pick<AgentFigures, "usage" | "costUsd" | "model"> {
  const spent = err instanceof ExecutorError ? err.spent : null;
  if (spent === null) return { usage: null, costUsd: null, model: null };
  const costUsd =
    name === "claude" ? spent.costUsd : costOf(spent.usage, spent.model, ctx.deps.settings.priceTable ?? DEFAULT_PRICE_TABLE);
  return { usage: spent.usage, costUsd, model: spent.model };
}

/**
 * What to throw when no agent finished: the first failure, carrying what all of them used (priced),
 * so the failed job's run record still counts every agent's tokens. Undefined for an empty list.
 */
export function everyAgentFailed(ctx: JobContext, failed: { name: ExecutorName; reason: unknown }[]): unknown {
  const first = failed[0];
  if (first === undefined) return undefined;
  if (!(first.reason instanceof ExecutorError)) return first.reason;
  const spends = failed.map((f) => failedSpend(ctx, f.name, f.reason)).filter((s) => s.usage !== null);
  if (spends.length === 0) return first.reason;
  const costs = spends.map((s) => s.costUsd).filter((c): c is number => c !== null);
  const total = {
    usage: sumUsage(spends.map((s) => s.usage)),
    costUsd: costs.length > 0 ? costs.reduce((a, b) => a + b, 0) : null,
    model: first.reason.spent?.model ?? null,
  };
  return new ExecutorError(first.reason.message, first.reason.kind, first.reason.detail, total);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0]!.slice(0, 300);
}

/** Per-agent figures for the check-run summary: status, tokens and cost. */
export function agentsTable(figures: AgentFigures[]): string {
  const rows = figures.map((f) => {
    const tokens = f.usage ? `${f.usage.inputTokens} in (${f.usage.cachedInputTokens} cached) / ${f.usage.outputTokens} out` : "–";
    const cost = f.costUsd === null ? "–" : formatUsd(f.costUsd);
    const status = f.status === "succeeded" ? "✅ finished" : `❌ ${f.error ?? "failed"}`;
    return `| ${f.name} | ${f.model ? codeSpan(f.model) : "–"} | ${status.replace(/\|/g, "\\|")} | ${tokens} | ${cost} |`;
  });
  return ["| Agent | Model | Status | Tokens | Cost |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}
