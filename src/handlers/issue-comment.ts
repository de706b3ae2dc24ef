import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import { parseCommand } from "../commands/parse.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Job, JobKind } from "../types.js";
import { enqueueFix } from "./fix-gate.js";
import { repoSnapshot } from "./repo.js";

type CommentContext = Context<"issue_comment.created">;

const MODE_OF: Record<string, JobKind | undefined> = {
  review: "review",
  audit: "audit",
  ask: "ask",
  help: "help",
  fix: "fix",
  tests: "tests",
};

/**
 * `@codex <command>` on a pull request. Edits, plain issues and bots (this app included) are ignored
 * so the bot can never trigger itself; write access is checked by the job, where the API is at hand.
 */
export function onIssueComment(queue: JobQueue, handles: readonly ("codex" | "claude")[]) {
  return async (context: CommentContext): Promise<void> => {
    const { payload } = context;
    if (!payload.issue.pull_request) return;
    if (payload.comment.user?.type === "Bot" || payload.sender.type === "Bot") return;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;

    const command = parseCommand(payload.comment.body ?? "", handles);
    if (!command) return;

    let mode: JobKind = "help";
    let unknownWord: string | undefined;
    let instruction: string | null = null;
    if (command.kind === "unknown") {
      unknownWord = command.word;
    } else {
      const known = MODE_OF[command.kind];
      if (known) {
        mode = known;
        instruction = command.text.length > 0 ? command.text : null;
      } else {
        unknownWord = command.kind; // parsed, but not available in this version
      }
    }

    const job: Job = {
      id: randomUUID(),
      deliveryId: context.id,
      installationId,
      repo: repoSnapshot(payload.repository),
      prNumber: payload.issue.number,
      mode,
      trigger: {
        kind: "command",
        commentId: payload.comment.id,
        commentUrl: payload.comment.html_url,
        sender: payload.comment.user?.login ?? payload.sender.login,
        executor: command.executor,
        ...(unknownWord !== undefined ? { unknownWord } : {}),
      },
      instruction,
      pull: null,
      enqueuedAt: Date.now(),
    };
    const result = await enqueueFix(queue, job, context.octokit, context.log);
    context.log.info({ jobId: job.id, pr: job.prNumber, mode, ...result }, "command queued");
  };
}
