import { matchesBranch } from "./paths.js";
import type { RepoConfig } from "./schema.js";

export type AutoReviewSettings = RepoConfig["auto_review"];

/** What of a pull request decides whether it is reviewed automatically. */
export interface AutoReviewFacts {
  isDraft: boolean;
  baseRef: string;
  author: string;
}

/**
 * Why the repository's `auto_review` settings skip this pull request's automatic review, or null
 * to review it. Pure: the worker decides with the config it just read, the intake with the one a
 * worker last read (store/auto-review-memo.ts), so it sends no "queued" check run that would only
 * be completed as skipped.
 */
export function autoReviewSkip(auto: AutoReviewSettings, pull: AutoReviewFacts): string | null {
  if (!auto.enabled) return "automatic reviews are disabled";
  if (pull.isDraft && !auto.drafts) return "draft pull request";
  if (!matchesBranch(pull.baseRef, auto.base_branches)) return `base branch ${pull.baseRef} is not configured`;
  if (auto.ignore_authors.some((a) => a.toLowerCase() === pull.author.toLowerCase())) return "author is ignored";
  return null;
}
