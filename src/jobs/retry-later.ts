import { randomUUID } from "node:crypto";
import type { ExecutorName } from "../config/schema.js";
import type { ExecutorFailure } from "../errors.js";
import { sameProblem } from "../executors/merge.js";
import type { Finding, Job } from "../types.js";
import type { AgentFigures } from "../engine/agents.js";
import type { JobContext } from "./context.js";

/**
 * `fallback.retry`: when one agent of a multi-agent review failed and the other's review was posted,
 * the failed agent runs again alone, later, as a job of its own. Its findings go through the same
 * fingerprint dedupe as any review, so only what the first run did not post appears.
 */

/**
 * Failures another try may get past: a limit that resets, a crash, a hang, output that did not parse.
 * A spent budget or token ceiling is not among them: the same run would spend it again.
 */
const RETRYABLE: ReadonlySet<ExecutorFailure> = new Set(["rate-limit", "timeout", "exit", "turn-failed", "invalid-output"]);

export function retryableAgents(figures: readonly AgentFigures[]): ExecutorName[] {
  return figures.filter((f) => f.status === "failed" && f.failure !== null && RETRYABLE.has(f.failure)).map((f) => f.name);
}

/** The follow-up job: same PR, head, mode and trigger; only the failed agents; not before the delay. */
/** Enough to recognise agreement, and small enough for a queue payload. */
const EARLIER_CAP = 100;

export function retryJob(ctx: JobContext, figures: readonly AgentFigures[], earlier: readonly Finding[], now = Date.now()): Job {
  const executors = retryableAgents(figures);
  const delayMs = ctx.config.fallback.retry_after_minutes * 60_000;
  const reasons = figures
    .filter((f) => executors.includes(f.name))
    .map((f) => `${f.name}: ${f.error ?? "failed"}`)
    .join("; ");
  return {
    ...ctx.job,
    id: randomUUID(),
    // Unique per original job, so a redelivered original cannot schedule a second retry.
    deliveryId: `retry:${ctx.job.id}`,
    // The head the first run reviewed: the retry must not quietly review a later push.
    pull: ctx.pull,
    enqueuedAt: now,
    notBefore: now + delayMs,
    retry: {
      of: ctx.job.id,
      executors,
      reason: reasons,
      earlier: [...earlier].sort((a, b) => a.priority - b.priority || b.confidence - a.confidence).slice(0, EARLIER_CAP),
    },
  };
}

/**
 * Queues the retry when the repository asks for one, and returns the sentence users read about it
 * (in the review body and the check run), or null when nothing is retried.
 */
export async function scheduleRetry(ctx: JobContext, figures: readonly AgentFigures[], earlier: readonly Finding[]): Promise<string | null> {
  if (!ctx.config.fallback.retry || ctx.job.retry) return null;
  const agents = retryableAgents(figures);
  if (agents.length === 0) return null;
  const names = agents.map((a) => `**${a}**`).join(" and ");
  if (!ctx.deps.followUp) {
    ctx.log.warn({ agents }, "fallback.retry is set but this process cannot queue follow-up jobs");
    return null;
  }
  const job = retryJob(ctx, figures, earlier);
  try {
    const result = await ctx.deps.followUp(job);
    if (!result.accepted) {
      ctx.log.info({ reason: result.reason }, "retry of failed agents already queued");
      return null;
    }
  } catch (err) {
    ctx.log.warn({ err, agents }, "could not queue the retry of failed agents");
    return `${names} could not be scheduled for a retry (the queue refused it); ask again with a command.`;
  }
  ctx.log.info({ retryJobId: job.id, agents, notBefore: job.notBefore }, "retry of failed agents queued");
  const minutes = ctx.config.fallback.retry_after_minutes;
  const when = minutes === 0 ? "shortly" : `in about ${minutes} minute${minutes === 1 ? "" : "s"}`;
  return `${names} will run again alone ${when} (\`fallback.retry\`); anything it finds that is not posted here follows as another review.`;
}

/**
 * A retry's findings split into news and agreement with the first run. Agreement is not posted
 * again (in other words it would be a second comment on the same problem); the run counts it.
 */
export function splitAgreed(job: Job, findings: readonly Finding[]): { fresh: Finding[]; agreed: number } {
  const earlier = job.retry?.earlier ?? [];
  const fresh = findings.filter((f) => !earlier.some((e) => sameProblem(f, e)));
  return { fresh, agreed: findings.length - fresh.length };
}
