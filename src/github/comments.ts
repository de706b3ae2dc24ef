import type { WriteOptions } from "./policy.js";
import type { Octokit, RepoCoords } from "./client.js";

export async function replyToPull(octokit: Octokit, coords: RepoCoords, pullNumber: number, body: string): Promise<string> {
  const since = lookBackFrom(Date.now());
  // A reply whose POST failed after GitHub stored it is the bot's comment with this very body (policy.ts).
  const lookup = async () => {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, { ...coords, issue_number: pullNumber, since, per_page: 100 });
    return comments.find((c) => c.user?.type === "Bot" && c.body === body) ?? null;
  };
  const { data } = await octokit.rest.issues.createComment({ ...coords, issue_number: pullNumber, body, request: { lookup } satisfies WriteOptions });
  return data.html_url;
}

/** GitHub answers 200 for a reaction that already exists: repeating it is harmless. */
export async function reactToComment(octokit: Octokit, coords: RepoCoords, commentId: number, content: "eyes" | "confused"): Promise<void> {
  await octokit.rest.reactions.createForIssueComment({ ...coords, comment_id: commentId, content, request: { idempotent: true } satisfies WriteOptions });
}

/** Where a write's lookup starts reading: a little before the write, for clocks that disagree. */
export function lookBackFrom(now: number): string {
  return new Date(now - 10 * 60_000).toISOString();
}

/**
 * Bodies of the reviews bots posted on the PR, where the hidden fingerprint markers of earlier
 * findings live (every review lists the markers of all its findings, inline ones included, so this
 * one list is enough). Only bot authors count, so a human quoting a marker can't suppress a finding.
 */
export async function botReviewBodies(octokit: Octokit, coords: RepoCoords, pullNumber: number): Promise<string[]> {
  const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, { ...coords, pull_number: pullNumber, per_page: 100 });
  return reviews.filter((r) => r.user?.type === "Bot" && r.body).map((r) => r.body);
}
