import type { Logger } from "pino";
import { httpStatus, type Octokit, type RepoCoords } from "./client.js";
import type { WriteOptions } from "./policy.js";

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
  /** The job posting it: a hidden marker in the body, by which a retry of the job finds this review. */
  jobId?: string;
  /**
   * Look for the job's review before posting (a retry whose earlier attempt may have posted it): an
   * earlier review of this job is returned instead of posting a second one. Needs jobId.
   */
  lookFirst?: boolean;
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
  const jobId = input.jobId;
  if (jobId !== undefined && input.lookFirst) {
    const earlier = await findJobReview(octokit, coords, input.pullNumber, jobId);
    if (earlier) return earlier;
  }
  const marked = (body: string): string => (jobId === undefined ? body : `${body}\n${jobReviewMarker(jobId)}`);
  // A POST whose answer was lost may have posted it: the client's write policy (policy.ts) asks this
  // before sending it again. The job's review by its marker; without a job, the bot's review of this
  // very body on this commit.
  const request = (body: string) => ({
    lookup: async () => {
      if (jobId !== undefined) return jobReview(octokit, coords, input.pullNumber, jobId);
      const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, { ...coords, pull_number: input.pullNumber, per_page: 100 });
      return reviews.find((r) => r.user?.type === "Bot" && r.body === body && r.commit_id === input.commitId) ?? null;
    },
  }) satisfies WriteOptions;
  const base = { ...coords, pull_number: input.pullNumber, commit_id: input.commitId, event: "COMMENT" as const };
  try {
    const body = marked(input.body);
    const { data } = await octokit.rest.pulls.createReview({ ...base, body, comments: input.comments, request: request(body) });
    return { id: data.id, url: data.html_url, inlineRejected: false };
  } catch (err) {
    if (httpStatus(err) !== 422 || input.comments.length === 0) throw err;
    log.warn({ err: errorMessage(err), comments: input.comments.length }, "GitHub rejected inline comments; posting them in the review body");
    const body = marked(input.fallbackBody());
    const { data } = await octokit.rest.pulls.createReview({ ...base, body, request: request(body) });
    return { id: data.id, url: data.html_url, inlineRejected: true };
  }
}

/** The hidden line that says which job posted a review (the job id is ours: a UUID or a delivery id). */
export function jobReviewMarker(jobId: string): string {
  return `<!-- codex-pr-bot:job:${jobId.replace(/[^\w.:-]/g, "")} -->`;
}

/**
 * The review the job posted on the pull request, found by its marker (bot authors only, so a person
 * quoting the marker cannot stand in for it), or null.
 */
export async function findJobReview(octokit: Octokit, coords: RepoCoords, pullNumber: number, jobId: string): Promise<PostedReview | null> {
  const hit = await jobReview(octokit, coords, pullNumber, jobId);
  return hit ? { id: hit.id, url: hit.html_url, inlineRejected: false } : null;
}

/** The job's review as GitHub lists it (what the review's POST would have answered), or null. */
async function jobReview(octokit: Octokit, coords: RepoCoords, pullNumber: number, jobId: string) {
  const marker = jobReviewMarker(jobId);
  const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, { ...coords, pull_number: pullNumber, per_page: 100 });
  return reviews.find((r) => r.user?.type === "Bot" && r.body?.includes(marker)) ?? null;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
