import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import { parseCommand } from "../commands/parse.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Job } from "../types.js";
import { admitCommand } from "./command-gate.js";
import { enqueueFix } from "./fix-gate.js";
import { parsePayload, reviewCommentPayload } from "./payloads.js";
import { configForGate, isAllowedBot } from "./policy.js";
import { repoSnapshot } from "./repo.js";

type ReviewCommentContext = Context<"pull_request_review_comment.created">;

/**
 * `@codex fix` as a reply in a review thread: "fix this one". Only `fix` is taken here, and only as
 * a reply (the thread's first comment says which finding); the job checks that the thread is one of
 * the bot's findings. Bots are ignored unless allow-listed, and write access and the rate limits are
 * checked (command-gate.ts), like on the conversation tab; refusals are answered in the thread.
 */
export function onReviewComment(queue: JobQueue, handles: readonly ("codex" | "claude")[]) {
  return async (context: ReviewCommentContext): Promise<void> => {
    const payload = parsePayload(reviewCommentPayload, context.payload, context.log, { event: context.name, deliveryId: context.id });
    if (!payload) return;
    const comment = payload.comment;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;
    const parentId = comment.in_reply_to_id;
    if (parentId === undefined || parentId === null) return;

    const command = parseCommand(comment.body, handles);
    if (!command || command.kind !== "fix") return;

    const repo = repoSnapshot(payload.repository);
    const coords = { owner: repo.owner, repo: repo.name };
    const sender = comment.user?.login ?? payload.sender.login;
    const fromBot = comment.user?.type === "Bot" || payload.sender.type === "Bot";
    if (fromBot) {
      const config = await configForGate(context.octokit, coords, repo.defaultBranch, context.log);
      if (!isAllowedBot(config, sender) || !isAllowedBot(config, payload.sender.login)) {
        context.log.info({ sender }, "command from a bot ignored (not in commands.allow_bots)");
        return;
      }
    }

    const request = {
      ...coords,
      prNumber: payload.pull_request.number,
      sender,
      command: `${command.executor} fix@${parentId} ${command.text}`,
      head: payload.pull_request.head?.sha,
    };
    const target = { octokit: context.octokit, reviewThreadParentId: parentId, allowedBot: fromBot };
    if (!(await admitCommand(queue, request, target, context.log))) return;

    const job: Job = {
      id: randomUUID(),
      deliveryId: context.id,
      installationId,
      repo,
      prNumber: payload.pull_request.number,
      mode: "fix",
      trigger: {
        kind: "command",
        commentId: comment.id,
        commentUrl: comment.html_url,
        sender,
        executor: command.executor,
        reviewThread: { parentId },
      },
      instruction: command.text.length > 0 ? command.text : null,
      // Fetched when the job runs, like for other commands: the head may move while it waits.
      pull: null,
      enqueuedAt: Date.now(),
      ...(fromBot ? { policy: { allowedBot: true } } : {}),
    };
    const result = await enqueueFix(queue, job, context.octokit, context.log);
    context.log.info({ jobId: job.id, pr: job.prNumber, mode: "fix", thread: parentId, ...result }, "review thread command queued");
  };
}
