import { ProbotOctokit } from "probot";
import type { Octokit } from "../github/client.js";
import { packageVersion } from "../cli/io.js";

/**
 * The REST client for the workflow's token: the app's own Octokit class (so the posting code is the
 * same, down to retries and Enterprise Server compatibility), authenticated with a plain token
 * instead of an installation. A rate limit is waited out only when it lifts within a minute: a
 * workflow blocked for an hour costs more than a review posted late by hand.
 */

const MAX_WAIT_SECONDS = 60;

export function workflowOctokit(token: string, apiUrl: string, warn: (message: string) => void): Octokit {
  const wait = (kind: string) => (retryAfter: number, options: { method?: string; url?: string }, _octokit: unknown, retryCount: number) => {
    if (retryCount >= 1 || retryAfter > MAX_WAIT_SECONDS) return false;
    warn(`GitHub's ${kind} rate limit was hit on ${options.method ?? "a"} ${options.url ?? "request"}; retrying in ${retryAfter} s.`);
    return true;
  };
  return new ProbotOctokit({
    auth: { token },
    baseUrl: apiUrl,
    userAgent: `codex-pr-bot-action/${packageVersion()}`,
    throttle: { onRateLimit: wait("API"), onSecondaryRateLimit: wait("secondary") },
  }) as Octokit;
}
