import { randomUUID } from "node:crypto";
import type { Context } from "probot";
import { parseCommand } from "../commands/parse.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Job, JobKind } from "../types.js";
import { admitCommand } from "./command-gate.js";
import { enqueueFix } from "./fix-gate.js";
import { issueCommentPayload, parsePayload } from "./payloads.js";
import { configForGate, isAllowedBot } from "./policy.js";
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
 * `@codex <command>` on a pull request. Edits and plain issues are ignored; so are bots (this app
 * included, so the bot can never trigger itself) unless the repository lists them in
 * `commands.allow_bots`. Write access is checked first and only then are commands rate-limited
 * (command-gate.ts), so a refused account never counts against anyone's limits; the job checks
 * write access again before it runs.
 */
export function onIssueComment(queue: JobQueue, handles: readonly ("codex" | "claude")[]) {
  return async (context: CommentContext): Promise<void> => {
    const payload = parsePayload(issueCommentPayload, context.payload, context.log, { event: context.name, deliveryId: context.id });
    if (!payload) return;
    if (!payload.issue.pull_request) return;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;

    const command = parseCommand(payload.comment.body, handles);
    if (!command) return;

    const repo = repoSnapshot(payload.repository);
    const coords = { owner: repo.owner, repo: repo.name };
    const sender = payload.comment.user?.login ?? payload.sender.login;
    const fromBot = payload.comment.user?.type === "Bot" || payload.sender.type === "Bot";
    if (fromBot) {
      // Read only now, for a bot comment that holds a command: the common path makes no API call.
      const config = await configForGate(context.octokit, coords, repo.defaultBranch, context.log);
      if (!isAllowedBot(config, sender) || !isAllowedBot(config, payload.sender.login)) {
        context.log.info({ sender }, "command from a bot ignored (not in commands.allow_bots)");
        return;
      }
    }

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

    const words = command.kind === "unknown" ? `unknown ${command.word}` : `${command.kind} ${command.text}`;
    const request = { ...coords, prNumber: payload.issue.number, sender, command: `${command.executor} ${words}` };
    if (!(await admitCommand(queue, request, { octokit: context.octokit, allowedBot: fromBot }, context.log))) return;

    const job: Job = {
      id: randomUUID(),
      deliveryId: context.id,
      installationId,
      repo,
      prNumber: payload.issue.number,
      mode,
      trigger: {
        kind: "command",
        commentId: payload.comment.id,
        commentUrl: payload.comment.html_url,
        sender,
        executor: command.executor,
        ...(unknownWord !== undefined ? { unknownWord } : {}),
      },
      instruction,
      pull: null,
      enqueuedAt: Date.now(),
      ...(fromBot ? { policy: { allowedBot: true } } : {}),
    };
    const result = await enqueueFix(queue, job, context.octokit, context.log);
    context.log.info({ jobId: job.id, pr: job.prNumber, mode, ...result }, "command queued");
  };
}
