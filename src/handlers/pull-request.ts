import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import type { JobQueue } from "../jobs/queue.js";
import { toPullSnapshot } from "../github/pulls.js";
import type { Job } from "../types.js";
import { pullRequestPayload, parsePayload } from "./payloads.js";
import { configForGate, contributorSkipReason, needsContributorPolicy, type ContributorFacts } from "./policy.js";
import { limiterFor } from "./rate-gate.js";
import { repoSnapshot } from "./repo.js";

export const PULL_REQUEST_EVENTS = [
  "pull_request.opened",
  "pull_request.reopened",
  "pull_request.synchronize",
  "pull_request.ready_for_review",
] as const;

type PullRequestContext = Context<(typeof PULL_REQUEST_EVENTS)[number]>;

/**
 * Automatic reviews. Most of what needs the API (config, drafts policy, authors) is decided by the
 * job, so this returns as soon as the job is queued. The exception is the contributor policy: for a
 * fork's or a first-time contributor's PR the config is read here, so `auto_review.forks: skip`
 * queues nothing at all, and the job is marked read-only (no automatic fix follows its review).
 */
export function onPullRequest(queue: JobQueue) {
  return async (context: PullRequestContext): Promise<void> => {
    const payload = parsePayload(pullRequestPayload, context.payload, context.log, { event: context.name, deliveryId: context.id });
    if (!payload) return;
    if (payload.pull_request.state !== "open") return;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;

    const repo = repoSnapshot(payload.repository);
    // Before any policy return: the command duplicate window is keyed by the head (rate-limit.ts).
    limiterFor(queue).noteHead(repo.owner, repo.name, payload.pull_request.number, payload.pull_request.head.sha);
    const pull = toPullSnapshot({ ...payload.pull_request, body: payload.pull_request.body ?? null });
    const facts: ContributorFacts = { fromFork: pull.fromFork, authorAssociation: payload.pull_request.author_association };
    const readOnly = needsContributorPolicy(facts);
    if (readOnly) {
      const config = await configForGate(context.octokit, { owner: repo.owner, repo: repo.name }, repo.defaultBranch, context.log);
      const skip = contributorSkipReason(config, facts);
      if (skip) {
        context.log.info({ pr: payload.pull_request.number, reason: skip }, "automatic review skipped by the contributor policy");
        return;
      }
    }

    const job: Job = {
      id: randomUUID(),
      deliveryId: context.id,
      installationId,
      repo,
      prNumber: payload.pull_request.number,
      mode: "review",
      trigger: { kind: "event", event: "pull_request", action: payload.action, sender: payload.sender.login },
      instruction: null,
      pull,
      enqueuedAt: Date.now(),
      ...(readOnly ? { policy: { readOnly: true } } : {}),
    };
    const result = await queue.enqueue(job);
    context.log.info({ jobId: job.id, pr: job.prNumber, head: job.pull?.headSha, readOnly, ...result }, "pull request event queued");
  };
}
