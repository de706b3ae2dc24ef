import type { ExecutorName } from "../config/schema.js";
import type { AgentSpec, AgentWording, PickedAgents } from "../engine/agents.js";
import { firstLine } from "../engine/agents.js";
import { ExecutorError } from "../errors.js";
import { agentLabel } from "../fix/body.js";
import { formatUsd } from "../executors/pricing.js";
import { effectiveTokenCeiling } from "../executors/token-ceiling.js";
import { codeSpan } from "../review/sanitize.js";
import type { Job, Mode } from "../types.js";
import type { AgentFigures } from "../engine/agents.js";
import type { JobContext } from "./context.js";
import { describeFailure } from "./outcome.js";

/**
 * Which agents the app runs for a job, and how it words them on GitHub. The running, merging and
 * fallback are the engine's (engine/agents.ts); this is only the app's door: routing, commands and
 * what the operator has set up.
 */

/** Which agents a job runs: a command (or a dispatch that asks for one) names its agent; otherwise the per-mode routing or `executors`. */
export function executorNames(ctx: JobContext, mode: Mode): ExecutorName[] {
  if (ctx.job.retry) return ctx.job.retry.executors;
  if (ctx.job.trigger.kind === "command") return [ctx.job.trigger.executor];
  if (ctx.job.trigger.kind === "dispatch" && ctx.job.trigger.executor) return [ctx.job.trigger.executor];
  return ctx.config.routing[mode] ?? ctx.config.executors;
}

/** Whom a failure names: `@claude fix` (or a dispatch naming claude) failing must not read "Codex failed". */
export function namedAgentLabel(job: Job): string {
  const t = job.trigger;
  return agentLabel(t.kind === "command" || t.kind === "dispatch" ? t.executor : undefined);
}

/** The job's agents that this installation has set up; the rest are `unavailable`. Throws when none is. */
export function pickAgents(ctx: JobContext, mode: Mode): PickedAgents {
  const picked: PickedAgents = { agents: [], unavailable: [] };
  for (const name of executorNames(ctx, mode)) {
    const executor =
      name === "codex"
        ? ctx.deps.executor
        : ctx.deps.claude?.({ maxTurns: ctx.config.claude.max_turns, maxBudgetUsd: ctx.config.claude.max_budget_usd }) ?? null;
    if (executor) picked.agents.push({ name, executor, request: agentRequest(ctx, name) });
    else picked.unavailable.push(name);
  }
  if (picked.agents.length === 0) {
    throw new ExecutorError(
      `${picked.unavailable.join(" and ")} is not set up on this installation: the operator must configure it (for Claude: ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_BASE_URL).`,
      "spawn",
    );
  }
  return picked;
}

/** The per-run request fields that depend on which agent runs. */
export function agentRequest(ctx: JobContext, name: ExecutorName): AgentSpec["request"] {
  return name === "codex"
    ? {
        model: ctx.config.codex.model ?? ctx.deps.settings.codexModel,
        reasoningEffort: ctx.config.codex.reasoning_effort,
        tokenCeiling: effectiveTokenCeiling(ctx.config.codex.max_tokens, ctx.deps.settings.codexMaxTokens ?? null),
      }
    : { model: ctx.config.claude.model ?? ctx.deps.settings.claude?.model ?? null, reasoningEffort: null, tokenCeiling: null };
}

/** How agents read on GitHub: bold names, failures titled like the check run's and redacted. */
export function appWording(ctx: JobContext): AgentWording {
  return {
    name: (agent) => `**${agent}**`,
    failure: (agent, err) => `${describeFailure(err, ctx.secrets, ctx.job.id, agentLabel(agent)).title}: ${firstLine(err)}`,
  };
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
