import type { Logger } from "pino";
import { busyReply } from "../fix/body.js";
import { fixKey, runningFixes } from "../fix/registry.js";
import type { Octokit } from "../github/client.js";
import { replyToPull } from "../github/comments.js";
import { canTrigger } from "../github/permissions.js";
import { replyInThread } from "../github/threads.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Job } from "../types.js";

export type FixEnqueueResult = { accepted: true } | { accepted: false; reason: string };

/**
 * One fix at a time per PR. The queue would only hold a second request back until the first ends
 * and then run it too; instead it is answered at once with a link to the running one. Only people
 * who may run commands get that answer (command-gate.ts has already turned everyone else away, and
 * canTrigger's cache makes this check free); a request whose sender could not be checked there is
 * queued, and the job decides.
 */
export async function enqueueFix(queue: JobQueue, job: Job, octokit: Octokit, log: Logger): Promise<FixEnqueueResult> {
  const trigger = job.trigger;
  if ((trigger.kind !== "command" && trigger.kind !== "button") || (job.mode !== "fix" && job.mode !== "tests") || !runningFixes.tracksJobs) {
    return queue.enqueue(job);
  }
  const coords = { owner: job.repo.owner, repo: job.repo.name };
  const key = fixKey(coords.owner, coords.repo, job.prNumber);
  const running = runningFixes.get(key);
  if (running && running.jobId !== job.id) {
    if (await canTrigger(octokit, coords, trigger.sender)) {
      const body = busyReply({ requestedBy: trigger.sender, running });
      if (trigger.kind === "command" && trigger.reviewThread) await replyInThread(octokit, coords, job.prNumber, trigger.reviewThread.parentId, body);
      else await replyToPull(octokit, coords, job.prNumber, body);
      log.info({ jobId: job.id, running: running.jobId }, "fix request answered: a fix is running");
      return { accepted: false, reason: "fix-running" };
    }
    return queue.enqueue(job);
  }
  runningFixes.claim(key, { jobId: job.id, mode: job.mode, link: trigger.kind === "command" ? trigger.commentUrl : trigger.checkRunUrl, since: Date.now() });
  try {
    const result = await queue.enqueue(job);
    if (!result.accepted) runningFixes.release(key, job.id);
    return result;
  } catch (err) {
    runningFixes.release(key, job.id);
    throw err;
  }
}
