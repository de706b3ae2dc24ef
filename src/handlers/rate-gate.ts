import type { Logger } from "pino";
import type { Octokit } from "../github/client.js";
import { replyToPull } from "../github/comments.js";
import { replyInThread } from "../github/threads.js";
import type { JobQueue } from "../jobs/queue.js";
import { CommandRateLimiter, rateLimitNotice, type CommandRequest } from "./rate-limit.js";

/**
 * One limiter per queue, that is per app instance: the comment and review-comment handlers share it
 * without app.ts wiring anything, and two apps in one process (tests) never share windows.
 */
const limiters = new WeakMap<JobQueue, CommandRateLimiter>();

export function limiterFor(queue: JobQueue): CommandRateLimiter {
  let limiter = limiters.get(queue);
  if (!limiter) {
    limiter = new CommandRateLimiter();
    limiters.set(queue, limiter);
  }
  return limiter;
}

/**
 * True when the command may be queued. Otherwise the first refusal in a window gets one short
 * notice (a reply in the thread for review comments) and the rest are only logged. A failed notice
 * is logged, never thrown: the delivery must still succeed.
 */
export async function passesRateLimit(
  queue: JobQueue,
  req: CommandRequest,
  reply: { octokit: Octokit; reviewThreadParentId?: number },
  log: Pick<Logger, "info" | "warn">,
): Promise<boolean> {
  const decision = limiterFor(queue).check(req);
  if (decision.allowed) return true;
  log.info({ pr: req.prNumber, sender: req.sender, reason: decision.reason, notify: decision.notify }, "command refused: rate limit");
  if (!decision.notify) return false;
  const coords = { owner: req.owner, repo: req.repo };
  const body = rateLimitNotice(req.sender, decision);
  try {
    if (reply.reviewThreadParentId !== undefined) await replyInThread(reply.octokit, coords, req.prNumber, reply.reviewThreadParentId, body);
    else await replyToPull(reply.octokit, coords, req.prNumber, body);
  } catch (err) {
    log.warn({ err }, "could not post the rate-limit notice");
  }
  return false;
}
