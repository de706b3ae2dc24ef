import type { Octokit, RepoCoords } from "./client.js";

export async function replyToPull(octokit: Octokit, coords: RepoCoords, pullNumber: number, body: string): Promise<string> {
  const { data } = await octokit.rest.issues.createComment({ ...coords, issue_number: pullNumber, body });
  return data.html_url;
}

export async function reactToComment(octokit: Octokit, coords: RepoCoords, commentId: number, content: "eyes" | "confused"): Promise<void> {
  await octokit.rest.reactions.createForIssueComment({ ...coords, comment_id: commentId, content });
}

/**
 * Bodies of everything bots posted on the PR (inline comments and review bodies), where the hidden
 * fingerprint markers of earlier findings live. Only bot authors count, so a human quoting a marker
 * can't suppress a finding.
 */
export async function botReviewTexts(octokit: Octokit, coords: RepoCoords, pullNumber: number): Promise<string[]> {
  const [comments, reviews] = await Promise.all([
    octokit.paginate(octokit.rest.pulls.listReviewComments, { ...coords, pull_number: pullNumber, per_page: 100 }),
    octokit.paginate(octokit.rest.pulls.listReviews, { ...coords, pull_number: pullNumber, per_page: 100 }),
  ]);
  const texts: string[] = [];
  for (const c of comments) if (c.user?.type === "Bot") texts.push(c.body);
  for (const r of reviews) if (r.user?.type === "Bot" && r.body) texts.push(r.body);
  return texts;
}
