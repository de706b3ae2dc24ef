import type { Logger } from "pino";
import { canTrigger } from "../github/permissions.js";
import type { JobQueue } from "../jobs/queue.js";
import { limiterFor, passesRateLimit, postNotice, type NoticeTarget } from "./rate-gate.js";
import type { CommandRequest } from "./rate-limit.js";

/** The answer to a command from someone without write access (the job words its own the same way). */
export function noWriteAccessReply(sender: string): string {
  return `@${sender} sorry, only people with write access to this repository can run codex-pr-bot commands.`;
}

/**
 * The gate every comment command passes before anything is queued or counted, in this order:
 *
 * 1. Write access (an allow-listed bot skips it: `commands.allow_bots` vouches for it, and GitHub's
 *    permission API does not list app bots as collaborators). A refused command never reaches the
 *    rate limiter, so nobody without write access can use up a maintainer's duplicate window or
 *    hourly budget. The account gets one polite answer per repository per `refusedWindowMs` (an
 *    hour); later refusals are only logged, with no reply and no reaction, so a flood of them costs
 *    one permission lookup a minute (canTrigger's cache) and nothing on the pull request.
 * 2. The rate limits (rate-limit.ts), per person, command and head.
 *
 * When the permission lookup itself fails (GitHub unreachable), the command goes on to the limiter,
 * where it can only use up its own sender's windows, and the job checks write access again before
 * it does anything.
 */
export async function admitCommand(
  queue: JobQueue,
  req: CommandRequest,
  ctx: NoticeTarget & { allowedBot: boolean },
  log: Pick<Logger, "info" | "warn">,
): Promise<boolean> {
  if (!ctx.allowedBot) {
    let allowed: boolean | null = null;
    try {
      allowed = await canTrigger(ctx.octokit, { owner: req.owner, repo: req.repo }, req.sender);
    } catch (err) {
      log.warn({ err, sender: req.sender }, "write access unknown in the webhook handler; the job checks again");
    }
    if (allowed === false) {
      const answer = limiterFor(queue).answerRefusal(req);
      log.info({ pr: req.prNumber, sender: req.sender, notify: answer }, "command refused: no write access");
      if (answer) await postNotice(ctx, req, noWriteAccessReply(req.sender), log);
      return false;
    }
  }
  return passesRateLimit(queue, req, ctx, log);
}
