import type { Octokit, RepoCoords } from "./client.js";

export async function replyToPull(octokit: Octokit, coords: RepoCoords, pullNumber: number, body: string): Promise<string> {
  const { data } = await octokit.rest.issues.createComment({ ...coords, issue_number: pullNumber, body });
  return data.html_url;
}

export async function reactToComment(octokit: Octokit, coords: RepoCoords, commentId: number, content: "eyes" | "confused"): Promise<void> {
  await octokit.rest.reactions.createForIssueComment({ ...coords, comment_id: commentId, content });
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
