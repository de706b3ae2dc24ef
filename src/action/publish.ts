import type { Logger } from "pino";
import type { RepoConfig } from "../config/schema.js";
import { httpStatus, type Octokit, type RepoCoords } from "../github/client.js";
import { botReviewBodies } from "../github/comments.js";
import { fetchPull } from "../github/pulls.js";
import { postReview } from "../github/reviews.js";
import type { LocalReviewResult } from "../local/report.js";
import { composeReview, quoteNotes } from "../review/compose.js";
import { extractFingerprints } from "../review/fingerprint.js";
import { redactSecrets } from "../review/sanitize.js";
import type { PullEvent } from "./environment.js";

/**
 * Posts the local review's findings as the app would: one review on the head commit with inline
 * comments and suggestions (review/compose.ts), nothing repeated that an earlier bot review on the
 * pull request already carries, the 422 fallback of github/reviews.ts, and no review at all when
 * there is nothing new or the pull request moved on. What cannot be posted is reported, never thrown:
 * the findings are in the job summary and the SARIF file either way.
 */

export type PublishResult =
  | { kind: "posted"; url: string; inline: number; outside: number; duplicatesSkipped: number; inlineRejected: boolean }
  | { kind: "nothing-new"; duplicatesSkipped: number }
  | { kind: "disabled" }
  | { kind: "fork" }
  | { kind: "no-token" }
  | { kind: "moved"; to: string }
  | { kind: "failed"; reason: "forbidden" | "not-found" | "rate-limit" | "error"; message: string };

export interface PublishInput {
  octokit: Octokit;
  coords: RepoCoords;
  event: PullEvent;
  result: LocalReviewResult;
  config: RepoConfig;
  knownSecrets: readonly string[];
  warn: (message: string) => void;
}

export async function publishReview(input: PublishInput): Promise<PublishResult> {
  const { octokit, coords, event, result } = input;
  try {
    const bodies = await botReviewBodies(octokit, coords, event.number);
    const composed = composeReview({
      outcome: result.outcome,
      mode: result.mode,
      files: result.files,
      unparsed: result.unparsed,
      alreadyPosted: new Set(extractFingerprints(bodies.join("\n"))),
      maxInline: input.config.review.max_inline_comments,
      belowThreshold: result.belowThreshold,
      headSha: event.pull.headSha,
      repoHtmlUrl: event.repoHtmlUrl,
      knownSecrets: input.knownSecrets,
      agents: result.agentNames.length > 1 ? result.foundBy : null,
      notes: quoteNotes(result.notes),
    });
    // Like the app's automatic reviews: nothing new, no new review; the summary says so.
    if (composed.fresh.length === 0) return { kind: "nothing-new", duplicatesSkipped: composed.duplicatesSkipped };
    // Comments on lines that changed since would sit on the wrong code; the push's own run reviews it.
    const current = await fetchPull(octokit, coords, event.number);
    if (current.headSha !== event.pull.headSha) return { kind: "moved", to: current.headSha };
    const posted = await postReview(
      octokit,
      coords,
      { pullNumber: event.number, commitId: event.pull.headSha, body: composed.body, comments: composed.comments, fallbackBody: composed.fallbackBody },
      warnLogger(input.warn),
    );
    return {
      kind: "posted",
      url: posted.url,
      inline: posted.inlineRejected ? 0 : composed.placement.inline.length,
      outside: composed.placement.outside.length + (posted.inlineRejected ? composed.placement.inline.length : 0),
      duplicatesSkipped: composed.duplicatesSkipped,
      inlineRejected: posted.inlineRejected,
    };
  } catch (err) {
    return { kind: "failed", ...describePostingError(err, input.knownSecrets) };
  }
}

/** postReview logs like the app (pino: fields, then the message); in a workflow only the message matters. */
function warnLogger(warn: (message: string) => void): Pick<Logger, "warn"> {
  return { warn: (first: unknown, second?: unknown) => warn(typeof second === "string" ? second : String(first)) };
}

/** Why GitHub refused, in words a workflow author can act on. */
export function describePostingError(err: unknown, knownSecrets: readonly string[]): { reason: "forbidden" | "not-found" | "rate-limit" | "error"; message: string } {
  const status = httpStatus(err);
  const detail = redactSecrets(err instanceof Error ? err.message : String(err), knownSecrets).replace(/\s+/g, " ").trim();
  const headers = (err as { response?: { headers?: Record<string, string | undefined> } }).response?.headers ?? {};
  if ((status === 403 || status === 429) && (headers["x-ratelimit-remaining"] === "0" || /rate limit/i.test(detail))) {
    const reset = Number(headers["x-ratelimit-reset"]);
    const when = Number.isFinite(reset) && reset > 0 ? ` It resets at ${new Date(reset * 1000).toISOString().replace(/\.\d+Z$/, "Z")}.` : "";
    return { reason: "rate-limit", message: `GitHub's API rate limit for this token was reached (HTTP ${status}: ${detail}).${when}` };
  }
  if (status === 403) {
    return {
      reason: "forbidden",
      message:
        `the token may not post pull request reviews (HTTP 403: ${detail}). Give the job \`permissions: pull-requests: write\` ` +
        "(and `contents: read`), or pass a token that has it as `github-token`.",
    };
  }
  if (status === 404) {
    return { reason: "not-found", message: `GitHub answered 404 (${detail}): the token cannot see this repository or pull request.` };
  }
  return { reason: "error", message: status === null ? detail : `GitHub answered ${status}: ${detail}` };
}
