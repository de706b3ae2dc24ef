import type { CheckRun, Conclusion } from "../github/checks.js";
import { postReview, type ReviewComment } from "../github/reviews.js";
import type { JobContext } from "./context.js";

/**
 * A review the agent's work produced but GitHub would not take (issue 16): kept in the run store
 * (the effect ledger's `review` row, state "failed") so that the next job for the same pull request,
 * head and mode (a redelivery, `@codex review`, or the job put back while GitHub was down) posts it
 * without running the agent again. `runs show` and the runs page show it too.
 */
export interface KeptReview {
  /** The job that composed it: its marker goes on the review, so a lost reply is found, not doubled. */
  jobId: string;
  mode: "review" | "audit";
  commitId: string;
  body: string;
  comments: ReviewComment[];
  fallbackBody: string;
  findings: number;
  conclusion: Conclusion;
  /** Why GitHub did not take it. */
  error: string;
}

export function keepReview(ctx: JobContext, review: KeptReview): void {
  ctx.run.effects.failed("review", review.commitId, review);
}

/** The review kept for this pull request's head and mode, or null. */
export function findKeptReview(ctx: JobContext, mode: "review" | "audit"): KeptReview | null {
  const effects = ctx.deps.runs?.effects;
  if (!effects) return null;
  try {
    const row = effects.keptReview({ repo: `${ctx.job.repo.owner}/${ctx.job.repo.name}`, prNumber: ctx.job.prNumber, headSha: ctx.pull.headSha, mode });
    const kept = row?.detail as KeptReview | null | undefined;
    return kept && kept.commitId === ctx.pull.headSha ? kept : null;
  } catch (err) {
    ctx.log.warn({ err }, "could not read kept reviews");
    return null;
  }
}

/** Posts the kept review and completes the check run; the agent does not run. */
export async function postKeptReview(ctx: JobContext, check: CheckRun, kept: KeptReview): Promise<void> {
  const review = await postReview(
    ctx.octokit,
    ctx.coords,
    {
      pullNumber: ctx.job.prNumber,
      commitId: kept.commitId,
      body: kept.body,
      comments: kept.comments,
      fallbackBody: () => kept.fallbackBody,
      jobId: kept.jobId,
      // An earlier try may have reached GitHub after all.
      lookFirst: true,
    },
    ctx.log,
  );
  ctx.deps.runs?.effects.created(kept.jobId, "review", kept.commitId, { githubId: review.id, url: review.url });
  ctx.run.effects.created("review", kept.commitId, { githubId: review.id, url: review.url });
  ctx.run.link({ review: review.url });
  const n = kept.findings;
  await check.complete({
    conclusion: kept.conclusion,
    title: `${n === 0 ? "No" : n} finding${n === 1 ? "" : "s"} (posted from an earlier run)`,
    summary: [
      `GitHub did not take this review when it was composed (${kept.error}); it is posted now as it was, and the agent did not run again.`,
      `[Open the review](${review.url})`,
    ].join("\n\n"),
  });
  ctx.run.settle({ status: "succeeded", findings: n });
  ctx.log.info({ reviewUrl: review.url, composedBy: kept.jobId }, "kept review posted");
}
