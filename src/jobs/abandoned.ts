import { CheckRun } from "../github/checks.js";
import { replyToPull } from "../github/comments.js";
import type { Job } from "../types.js";
import type { PipelineDeps } from "./deps.js";
import { CHECK_NAMES } from "./review.js";
import { expectsReply, mentionPrefix, requestNote } from "./trigger.js";

/**
 * A job whose process died too often while running it will never finish: say so where its author
 * looks (a failed check run, or a reply to the command or dispatch) instead of leaving "in progress" forever.
 */
export async function reportAbandoned(deps: PipelineDeps, job: Job, reason: string): Promise<void> {
  const log = deps.log.child({ jobId: job.id, pr: job.prNumber });
  log.warn({ reason }, "job abandoned");
  try {
    const run = deps.runs?.byJob(job.id);
    if (run && (run.status === "queued" || run.status === "running")) deps.runs!.finish(run.id, { status: "failed", error: reason });
  } catch (err) {
    log.warn({ err }, "could not record the abandoned run");
  }
  try {
    const { octokit } = await deps.auth(job.installationId);
    const coords = { owner: job.repo.owner, repo: job.repo.name };
    const again = job.trigger.kind === "dispatch" ? "Dispatch it again" : "Ask again with a command";
    const message = `codex-pr-bot stopped working on this and will not retry: ${reason}. ${again} if it is still needed.`;
    if ((job.mode === "review" || job.mode === "audit") && job.pull) {
      await CheckRun.conclude(octokit, coords, {
        name: CHECK_NAMES[job.mode],
        headSha: job.pull.headSha,
        conclusion: "failure",
        title: "Interrupted",
        summary: message,
      });
    } else if (expectsReply(job.trigger)) {
      await replyToPull(octokit, coords, job.prNumber, `${mentionPrefix(job.trigger)}${message}${requestNote(job.trigger)}`);
    }
  } catch (err) {
    log.error({ err }, "could not report the abandoned job");
  }
}

/** A pending job replaced by a newer push never ran: close its run as cancelled. */
export function recordSuperseded(deps: PipelineDeps, job: Job, reason: string): void {
  try {
    const run = deps.runs?.byJob(job.id);
    if (run && run.status === "queued") deps.runs!.finish(run.id, { status: "cancelled", error: reason });
  } catch (err) {
    deps.log.warn({ err, jobId: job.id }, "could not record the superseded run");
  }
}
