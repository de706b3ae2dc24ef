import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import { CHECK_RUN_ACTIONS } from "../github/checks.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Job } from "../types.js";
import { admitCommand } from "./command-gate.js";
import { enqueueFix } from "./fix-gate.js";
import { checkRunActionPayload, parsePayload } from "./payloads.js";
import { repoSnapshot } from "./repo.js";

type CheckRunActionContext = Context<"check_run.requested_action">;

/** The pull request of one of the bot's check runs, when GitHub's payload does not name it (a fork's PR). */
export type PullOfJob = (jobId: string) => number | null;

/**
 * The buttons on the bot's completed review check run (issue 17): "Fix findings" queues the same job
 * as `@codex fix`, "Re-review" a full review. GitHub sends `requested_action` only to the app that
 * created the check run; the name is checked too. Whoever clicked goes through the same gate as a
 * comment command (command-gate.ts: write access first, then the rate limits), so a reader clicking
 * is refused with the same one answer per hour and can't slow anyone down; the job checks again.
 */
export function onCheckRunAction(queue: JobQueue, pullOfJob: PullOfJob) {
  return async (context: CheckRunActionContext): Promise<void> => {
    const payload = parsePayload(checkRunActionPayload, context.payload, context.log, { event: context.name, deliveryId: context.id });
    if (!payload) return;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;
    const check = payload.check_run;
    const action = CHECK_RUN_ACTIONS.find((a) => a.identifier === payload.requested_action.identifier);
    if (!action || !check.name.startsWith("codex-pr-bot / ")) {
      context.log.info({ identifier: payload.requested_action.identifier, check: check.name }, "check run action ignored: not one of ours");
      return;
    }
    const prNumber = check.pull_requests[0]?.number ?? (check.external_id ? pullOfJob(check.external_id) : null);
    if (prNumber === null) {
      context.log.warn({ checkRunId: check.id }, "check run action ignored: its pull request is unknown");
      return;
    }
    const repo = repoSnapshot(payload.repository);
    const coords = { owner: repo.owner, repo: repo.name };
    const sender = payload.sender.login;
    if (payload.sender.type === "Bot") return;
    const mode = action.identifier === "fix" ? "fix" : check.name.endsWith("/ audit") ? "audit" : "review";
    const request = { ...coords, prNumber, sender, command: `button ${action.identifier}@${check.id}`, head: check.head_sha };
    if (!(await admitCommand(queue, request, { octokit: context.octokit, allowedBot: false }, context.log))) return;

    const job: Job = {
      id: randomUUID(),
      deliveryId: context.id,
      installationId,
      repo,
      prNumber,
      mode,
      trigger: {
        kind: "button",
        action: action.identifier,
        sender,
        checkRunId: check.id,
        checkRunUrl: check.html_url ?? `${repo.htmlUrl}/pull/${prNumber}/checks`,
      },
      instruction: null,
      // The worker reads the pull request as it is now: a fix targets its current head.
      pull: null,
      enqueuedAt: Date.now(),
    };
    const result = await enqueueFix(queue, job, context.octokit, context.log);
    context.log.info({ jobId: job.id, pr: prNumber, mode, ...result }, "check run action queued");
  };
}
