import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import { parseCommand, type ParsedCommand } from "../commands/parse.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Job } from "../types.js";
import { admitCommand } from "./command-gate.js";
import { enqueueFix } from "./fix-gate.js";
import { parsePayload, reviewCommentPayload } from "./payloads.js";
import { configForGate, isAllowedBot } from "./policy.js";
import { repoSnapshot } from "./repo.js";

type ReviewCommentContext = Context<"pull_request_review_comment.created">;

/**
 * Commands as a reply in a review thread (the thread's first comment says what it is about):
 * `@codex fix` is "fix this one" (the job checks that the thread is one of the bot's findings), and
 * `@codex ask …` or any question (`@codex why …`) is answered in the thread, with its file, lines and
 * earlier comments as context (jobs/ask.ts). Bots are ignored unless allow-listed, and write access and the rate limits are
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
    const asked = threadCommand(command);
    if (!command || !asked) return;

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
      command: `${command.executor} ${asked.mode}@${parentId} ${asked.text}`,
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
      mode: asked.mode,
      trigger: {
        kind: "command",
        commentId: comment.id,
        commentUrl: comment.html_url,
        sender,
        executor: command.executor,
        reviewThread: { parentId },
      },
      instruction: asked.text.length > 0 ? asked.text : null,
      // Fetched when the job runs, like for other commands: the head may move while it waits.
      pull: null,
      enqueuedAt: Date.now(),
      ...(fromBot ? { policy: { allowedBot: true } } : {}),
    };
    // A question goes straight to the queue (enqueueFix holds only fixes back).
    const result = await enqueueFix(queue, job, context.octokit, context.log);
    context.log.info({ jobId: job.id, pr: job.prNumber, mode: asked.mode, thread: parentId, ...result }, "review thread command queued");
  };
}

/**
 * What a reply in a review thread asks for: `@codex fix` fixes the thread's finding; `@codex ask …`
 * or any other question (`@codex why …`) is answered in the thread. Other commands are the
 * conversation tab's, and a bare mention asks nothing.
 */
export function threadCommand(command: ParsedCommand | null): { mode: "fix" | "ask"; text: string } | null {
  if (!command) return null;
  if (command.kind === "fix") return { mode: "fix", text: command.text };
  if (command.kind === "ask") return command.text.length > 0 ? { mode: "ask", text: command.text } : null;
  if (command.kind === "unknown") return command.rest.length > 0 ? { mode: "ask", text: command.rest } : null;
  return null;
}
