import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { repoConfigSchema } from "../../../src/config/schema.js";
import type { AgentFigures } from "../../../src/engine/agents.js";
import type { JobContext } from "../../../src/jobs/context.js";
import { retryableAgents, retryJob, scheduleRetry, splitAgreed } from "../../../src/jobs/retry-later.js";
import type { Finding, Job } from "../../../src/types.js";
import { makeJob } from "../../helpers/queue-fixtures.js";

const failed = (name: "codex" | "claude", failure: AgentFigures["failure"]): AgentFigures => ({
  name,
  status: "failed",
  failure,
  usage: null,
  costUsd: null,
  model: null,
  error: `${name} failed (${failure})`,
  commands: [],
  durationMs: 0,
});
const ok = (name: "codex" | "claude"): AgentFigures => ({ name, status: "succeeded", failure: null, usage: null, costUsd: null, model: "m", error: null, commands: [], durationMs: 0 });

const finding = (over: Partial<Finding> = {}): Finding => ({
  title: "Guard against division by zero",
  body: "divide(1, 0) returns Infinity.",
  priority: 1,
  confidence: 0.9,
  path: "src/math.js",
  startLine: 6,
  endLine: 6,
  anchor: "  return a / b;",
  suggestion: null,
  ...over,
});

function context(config: Record<string, unknown>, followUp?: (job: Job) => Promise<{ accepted: true } | { accepted: false; reason: "duplicate-request" }>): JobContext {
  const job = makeJob({ pull: null, command: true });
  return {
    job,
    config: repoConfigSchema.parse(config),
    pull: { headSha: "c".repeat(40), headRef: "f", baseSha: "b".repeat(40), baseRef: "main", fromFork: false, isDraft: false, author: "a", title: "t", body: "" },
    log: pino({ level: "silent" }),
    deps: { followUp } as unknown as JobContext["deps"],
  } as unknown as JobContext;
}

describe("retry later (fallback.retry)", () => {
  it("retries limits, crashes, hangs and bad output, but not a spent budget or a success", () => {
    expect(retryableAgents([ok("codex"), failed("claude", "rate-limit")])).toEqual(["claude"]);
    expect(retryableAgents([failed("codex", "timeout"), failed("claude", "invalid-output")])).toEqual(["codex", "claude"]);
    expect(retryableAgents([ok("codex"), failed("claude", null)])).toEqual([]);
    expect(retryableAgents([ok("codex"), ok("claude")])).toEqual([]);
  });

  it("builds a delayed job for the same head with only the failed agents and the first run's findings", () => {
    const ctx = context({ fallback: { retry: true, retry_after_minutes: 15 } });
    const job = retryJob(ctx, [ok("codex"), failed("claude", "rate-limit")], [finding()], 1_000_000);
    expect(job.id).not.toBe(ctx.job.id);
    expect(job.deliveryId).toBe(`retry:${ctx.job.id}`);
    expect(job.notBefore).toBe(1_000_000 + 15 * 60_000);
    // A command's job has no pull snapshot; the retry pins the head the first run reviewed.
    expect(job.pull?.headSha).toBe("c".repeat(40));
    expect(job.retry).toMatchObject({ of: ctx.job.id, executors: ["claude"], reason: "claude: claude failed (rate-limit)" });
    expect(job.retry!.earlier).toHaveLength(1);
  });

  it("queues nothing unless configured, and never retries a retry", async () => {
    const queued: Job[] = [];
    const followUp = async (j: Job) => {
      queued.push(j);
      return { accepted: true as const };
    };
    const figures = [ok("codex"), failed("claude", "rate-limit")];
    expect(await scheduleRetry(context({}, followUp), figures, [])).toBeNull();
    const retryCtx = context({ fallback: { retry: true } }, followUp);
    retryCtx.job.retry = { of: "x", executors: ["claude"], reason: "r", earlier: [] };
    expect(await scheduleRetry(retryCtx, figures, [])).toBeNull();
    expect(queued).toHaveLength(0);

    const note = await scheduleRetry(context({ fallback: { retry: true, retry_after_minutes: 1 } }, followUp), figures, []);
    expect(note).toBe("**claude** will run again alone in about 1 minute (`fallback.retry`); anything it finds that is not posted here follows as another review.");
    expect(queued).toHaveLength(1);
  });

  it("says so when the queue refuses the retry", async () => {
    const note = await scheduleRetry(
      context({ fallback: { retry: true } }, async () => {
        throw new Error("redis down");
      }),
      [ok("codex"), failed("claude", "exit")],
      [],
    );
    expect(note).toContain("could not be scheduled for a retry");
  });

  it("splits a retry's findings into news and agreement with the first run", () => {
    const job = makeJob({ retry: { of: "x", executors: ["claude"], reason: "r", earlier: [finding()] } });
    const reworded = finding({ title: "Division by zero is not guarded", body: "When b is 0, divide returns Infinity." });
    const other = finding({ title: "Export a named constant", body: "Callers compare floats.", startLine: 5, endLine: 5 });
    expect(splitAgreed(job, [reworded, other])).toEqual({ fresh: [other], agreed: 1 });
    expect(splitAgreed(makeJob(), [reworded, other])).toEqual({ fresh: [reworded, other], agreed: 0 });
  });
});
