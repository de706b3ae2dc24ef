import type { Logger } from "pino";
import { httpStatus, type Octokit, type RepoCoords } from "./client.js";

export interface ReviewComment {
  path: string;
  body: string;
  line: number;
  start_line?: number;
  side: "RIGHT";
  start_side?: "RIGHT";
}

export interface PostReviewInput {
  pullNumber: number;
  commitId: string;
  body: string;
  comments: ReviewComment[];
  /** The body to post instead, with the inline comments listed in it, when GitHub refuses them. */
  fallbackBody: () => string;
}

export interface PostedReview {
  id: number;
  url: string;
  /** True when GitHub rejected the inline comments and they went into the body instead. */
  inlineRejected: boolean;
}

/**
 * Posts exactly one review, event COMMENT (the bot never approves or blocks). GitHub rejects the
 * whole review with 422 if any comment sits off the diff; rather than lose it, the review is posted
 * again with those comments folded into its body.
 */
export async function postReview(octokit: Octokit, coords: RepoCoords, input: PostReviewInput, log: Pick<Logger, "warn">): Promise<PostedReview> {
  const base = { ...coords, pull_number: input.pullNumber, commit_id: input.commitId, event: "COMMENT" as const };
  try {
    const { data } = await octokit.rest.pulls.createReview({ ...base, body: input.body, comments: input.comments });
    return { id: data.id, url: data.html_url, inlineRejected: false };
  } catch (err) {
    if (httpStatus(err) !== 422 || input.comments.length === 0) throw err;
    log.warn({ err: errorMessage(err), comments: input.comments.length }, "GitHub rejected inline comments; posting them in the review body");
    const { data } = await octokit.rest.pulls.createReview({ ...base, body: input.fallbackBody() });
    return { id: data.id, url: data.html_url, inlineRejected: true };
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
