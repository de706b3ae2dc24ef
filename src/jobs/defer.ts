import { randomUUID } from "node:crypto";
import { GitHubUnavailableError } from "../github/policy.js";
import type { Job } from "../types.js";

/**
 * A job GitHub could not serve (its rate limit, or GitHub down past the client's retry budget) is put
 * back on the queue to run when GitHub should answer again, instead of failing: issue 16. The later
 * job carries the work on (`Job.resume`): it takes over the check run, and a review that was composed
 * but not posted is posted from the run store without running the agent again (jobs/kept-review.ts).
 */

/** Put back at most this many times (about a working day of hourly limits); then the job fails, saying GitHub failed. */
export const MAX_DEFERRALS = 6;

/** The GitHubUnavailableError behind `err` (it may be wrapped as a cause), or null. */
export function gitHubUnavailable(err: unknown): GitHubUnavailableError | null {
  let cause: unknown = err;
  for (let i = 0; i < 5 && cause; i++) {
    if (cause instanceof GitHubUnavailableError) return cause;
    cause = (cause as { cause?: unknown }).cause;
  }
  return null;
}

/** Whether `job` may be put back once more. */
export function canDefer(job: Job): boolean {
  return (job.resume?.deferrals ?? 0) < MAX_DEFERRALS;
}

/**
 * The job that carries `job`'s work on after `err`, not before GitHub should answer again (with up to
 * a minute of jitter, so the jobs one limit stopped do not all come back in the same second).
 */
export function deferredJob(job: Job, err: GitHubUnavailableError, checkRunId: number | null, now = Date.now(), random = Math.random): Job {
  const deferrals = (job.resume?.deferrals ?? 0) + 1;
  const of = job.resume?.of ?? job.id;
  return {
    ...job,
    id: randomUUID(),
    // Unique per step of the chain: a redelivery of the original cannot put it back twice.
    deliveryId: `resume:${of}:${deferrals}`,
    enqueuedAt: now,
    notBefore: Math.max(now, err.retryAt) + Math.round(random() * 60_000),
    resume: { of, checkRunId, deferrals, reason: err.message },
  };
}

/** What the check run and the run record say while the work waits. */
export function waitingSentence(err: GitHubUnavailableError, notBefore: number): string {
  const at = new Date(notBefore).toISOString().slice(11, 16);
  return err.reason === "rate-limit"
    ? `GitHub's rate limit for this installation is spent; the job continues at about ${at} UTC.`
    : `GitHub is not answering; the job continues at about ${at} UTC.`;
}
