import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import type { JobQueue } from "../jobs/queue.js";
import { toPullSnapshot } from "../github/pulls.js";
import type { Job } from "../types.js";
import { repoSnapshot } from "./repo.js";

export const PULL_REQUEST_EVENTS = [
  "pull_request.opened",
  "pull_request.reopened",
  "pull_request.synchronize",
  "pull_request.ready_for_review",
] as const;

type PullRequestContext = Context<(typeof PULL_REQUEST_EVENTS)[number]>;

/**
 * Automatic reviews. Everything that needs the API (config, drafts policy, authors) is decided by
 * the job, so this returns as soon as the job is queued.
 */
export function onPullRequest(queue: JobQueue) {
  return async (context: PullRequestContext): Promise<void> => {
    const { payload } = context;
    if (payload.pull_request.state !== "open") return;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;

    const job: Job = {
      id: randomUUID(),
      deliveryId: context.id,
      installationId,
      repo: repoSnapshot(payload.repository),
      prNumber: payload.pull_request.number,
      mode: "review",
      trigger: { kind: "event", event: "pull_request", action: payload.action, sender: payload.sender.login },
      instruction: null,
      pull: toPullSnapshot(payload.pull_request),
      enqueuedAt: Date.now(),
    };
    const result = await queue.enqueue(job);
    context.log.info({ jobId: job.id, pr: job.prNumber, head: job.pull?.headSha, ...result }, "pull request event queued");
  };
}
