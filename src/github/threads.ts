import { httpStatus, type Octokit, type RepoCoords } from "./client.js";
import { lookBackFrom, reactToComment } from "./comments.js";
import type { WriteOptions } from "./policy.js";

/**
 * Review threads: the inline comment conversations of a PR. Their comments have their own ids,
 * reply endpoint and reaction endpoint, distinct from the PR conversation's (issue) comments.
 */

export interface ReviewCommentData {
  id: number;
  body: string;
  path: string;
  line: number | null;
  start_line?: number | null;
  html_url: string;
  in_reply_to_id?: number | null;
  user: { type: string; login: string } | null;
}

/** One review comment, or null when it no longer exists. */
export async function getReviewComment(octokit: Octokit, coords: RepoCoords, commentId: number): Promise<ReviewCommentData | null> {
  try {
    const { data } = await octokit.rest.pulls.getReviewComment({ ...coords, comment_id: commentId });
    return { ...data, line: data.line ?? null, start_line: data.start_line ?? null, user: data.user ?? null };
  } catch (err) {
    if (httpStatus(err) === 404) return null;
    throw err;
  }
}

/** Replies in the thread whose first comment is `commentId` (GitHub refuses replies to replies). */
export async function replyInThread(octokit: Octokit, coords: RepoCoords, pullNumber: number, commentId: number, body: string): Promise<string> {
  const since = lookBackFrom(Date.now());
  const lookup = async () => {
    const comments = await octokit.paginate(octokit.rest.pulls.listReviewComments, { ...coords, pull_number: pullNumber, since, per_page: 100 });
    return comments.find((c) => c.in_reply_to_id === commentId && c.user?.type === "Bot" && c.body === body) ?? null;
  };
  const { data } = await octokit.rest.pulls.createReplyForReviewComment({
    ...coords,
    pull_number: pullNumber,
    comment_id: commentId,
    body,
    request: { lookup } satisfies WriteOptions,
  });
  return data.html_url;
}

export async function reactToReviewComment(octokit: Octokit, coords: RepoCoords, commentId: number, content: "eyes" | "confused"): Promise<void> {
  await octokit.rest.reactions.createForPullRequestReviewComment({ ...coords, comment_id: commentId, content, request: { idempotent: true } satisfies WriteOptions });
}

/** Reacts to the comment that carried a command, wherever it was written. */
export async function reactToCommand(
  octokit: Octokit,
  coords: RepoCoords,
  trigger: { commentId: number; reviewThread?: { parentId: number } },
  content: "eyes" | "confused",
): Promise<void> {
  if (trigger.reviewThread) await reactToReviewComment(octokit, coords, trigger.commentId, content);
  else await reactToComment(octokit, coords, trigger.commentId, content);
}
