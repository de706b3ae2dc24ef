import { CheckRun, type Conclusion } from "../github/checks.js";
import { formatProgress } from "../review/format.js";
import type { FixMode } from "../engine/fix.js";
import type { Progress } from "../types.js";
import type { JobContext } from "./context.js";
import { canDefer, gitHubUnavailable } from "./defer.js";
import { describeFailure } from "./outcome.js";
import { namedAgentLabel } from "./pick-agents.js";
import { ProgressReporter } from "./progress.js";

/**
 * A fix or tests job asked for on a pull request (a command, the "Fix findings" button, a dispatch)
 * shows on the head commit like a review (issue 17.5): its own check run, live progress while the
 * agent works, and the outcome with a link to the fix-up PR. An automatic fix rides in its review's
 * check run and gets none. Losing the check run must never cost the fix: GitHub's failures here are
 * logged, not thrown.
 */
export const FIX_CHECK_NAMES: Record<FixMode, string> = { fix: "codex-pr-bot / fix", tests: "codex-pr-bot / tests" };

export interface FixCheck {
  onProgress: (p: Progress) => void;
  /** Completes the check run (once) from the run's result, or from the error that ended the job. */
  finish(err?: unknown): Promise<void>;
}

export async function openFixCheck(ctx: JobContext, mode: FixMode): Promise<FixCheck> {
  const name = FIX_CHECK_NAMES[mode];
  const started = Date.now();
  let check: CheckRun | null = null;
  try {
    const resume = ctx.job.resume;
    if (ctx.run.attempt > 1 || resume) {
      const earlier = await CheckRun.find(ctx.octokit, ctx.coords, { name, headSha: ctx.pull.headSha, externalId: resume?.of ?? ctx.job.id, knownId: null });
      if (earlier && earlier.status !== "completed") check = earlier.check;
    }
    check ??= await CheckRun.start(ctx.octokit, ctx.coords, {
      name,
      headSha: ctx.pull.headSha,
      title: "Starting…",
      summary: `Checking out \`${ctx.pull.headSha.slice(0, 12)}\` and starting the agent.`,
      externalId: ctx.job.id,
    });
    ctx.run.effects.created("check_run", name, { githubId: check.id, url: check.url });
  } catch (err) {
    ctx.log.warn({ err }, "could not create the fix's check run; the fix goes on without one");
  }
  const progress = check
    ? new ProgressReporter((title, summary) => check!.progress(title, summary), formatProgress, {
        intervalMs: ctx.deps.settings.progressIntervalMs,
        mode,
        startedAt: started,
        log: ctx.log,
      })
    : null;
  let finished = false;
  return {
    onProgress: (p) => progress?.update(p),
    async finish(err?: unknown) {
      // Once: the first way out (an error, else the end) decides how it reads.
      if (finished) return;
      finished = true;
      await progress?.stop();
      if (!check) return;
      // Put back for when GitHub answers (jobs/defer.ts): the job that carries on takes this check run over.
      if (err !== undefined && gitHubUnavailable(err) && canDefer(ctx.job) && ctx.deps.followUp) return;
      const output = err === undefined ? fromResult(ctx, mode) : fromError(ctx, err);
      try {
        await check.complete(output);
        ctx.run.effects.completed("check_run", name, check.id);
      } catch (completeErr) {
        ctx.log.warn({ err: completeErr }, "could not complete the fix's check run");
      }
    },
  };
}

function fromResult(ctx: JobContext, mode: FixMode): { conclusion: Conclusion; title: string; summary: string } {
  const result = ctx.run.result;
  const links = result?.links ?? {};
  const what = mode === "tests" ? "tests" : "a fix";
  if (result?.status === "failed") {
    return { conclusion: "failure", title: `No ${mode === "tests" ? "tests" : "fix"} published`, summary: linked(result.error ?? "The run did not produce a change that could be published.", links) };
  }
  if (links.fixPr) return { conclusion: "success", title: `Opened a pull request with ${what}`, summary: linked(`[${links.fixPr}](${links.fixPr})`, links) };
  return { conclusion: "neutral", title: "Nothing to publish", summary: linked("The agent made no change that needed a pull request; the reply on the pull request says why.", links) };
}

function fromError(ctx: JobContext, err: unknown): { conclusion: Conclusion; title: string; summary: string } {
  const report = describeFailure(err, ctx.secrets, ctx.job.id, namedAgentLabel(ctx.job));
  return { conclusion: report.conclusion, title: report.title, summary: report.summary };
}

function linked(text: string, links: { comment?: string; fixPr?: string }): string {
  return [text, ...(links.comment ? [`[The reply on the pull request](${links.comment})`] : [])].join("\n\n");
}
