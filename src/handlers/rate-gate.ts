import type { Logger } from "pino";
import type { Octokit } from "../github/client.js";
import { replyToPull } from "../github/comments.js";
import { replyInThread } from "../github/threads.js";
import type { JobQueue } from "../jobs/queue.js";
import { CommandRateLimiter, rateLimitNotice, type CommandRequest } from "./rate-limit.js";

/**
 * One limiter per queue, that is per app instance: the comment, review-comment and pull-request
 * handlers share it without app.ts wiring anything, and two apps in one process (tests) never share
 * windows.
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

/** Where a gate's answer goes: the PR conversation, or the review thread the command was written in. */
export interface NoticeTarget {
  octokit: Octokit;
  reviewThreadParentId?: number;
}

/** Posts a gate's answer. A failed notice is logged, never thrown: the delivery must still succeed. */
export async function postNotice(
  target: NoticeTarget,
  req: Pick<CommandRequest, "owner" | "repo" | "prNumber">,
  body: string,
  log: Pick<Logger, "warn">,
): Promise<void> {
  const coords = { owner: req.owner, repo: req.repo };
  try {
    if (target.reviewThreadParentId !== undefined) await replyInThread(target.octokit, coords, req.prNumber, target.reviewThreadParentId, body);
    else await replyToPull(target.octokit, coords, req.prNumber, body);
  } catch (err) {
    log.warn({ err }, "could not post the command gate's notice");
  }
}

/**
 * True when the command may be queued. Otherwise the first refusal in a window gets one short
 * notice (a reply in the thread for review comments) and the rest are only logged.
 */
export async function passesRateLimit(
  queue: JobQueue,
  req: CommandRequest,
  reply: NoticeTarget,
  log: Pick<Logger, "info" | "warn">,
): Promise<boolean> {
  const decision = limiterFor(queue).check(req);
  if (decision.allowed) return true;
  log.info({ pr: req.prNumber, sender: req.sender, reason: decision.reason, notify: decision.notify }, "command refused: rate limit");
  if (decision.notify) await postNotice(reply, req, rateLimitNotice(req.sender, decision), log);
  return false;
}
