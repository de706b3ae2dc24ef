/**
 * Decisions the webhook handlers take from the repository's configuration before queueing: which
 * bots may run commands, and what automatic reviews do for forks and first-time contributors.
 *
 * The configuration is read from the default branch, like everywhere else, and only when a decision
 * depends on it (a bot's command, a fork's or a newcomer's pull request), so the common path stays
 * free of API calls. The job reads the configuration again and reports an invalid file; here an
 * unreadable or invalid file means the defaults (bots ignored, forks and newcomers reviewed).
 */
import type { Logger } from "pino";
import { parseRepoConfig } from "../config/load.js";
import { CONFIG_PATH, DEFAULT_CONFIG, type ContributorPolicy, type RepoConfig } from "../config/schema.js";
import type { Octokit, RepoCoords } from "../github/client.js";
import { readRepoFile } from "../github/repo-files.js";

/** The repository configuration, or the defaults when it cannot be read or is invalid. */
export async function configForGate(octokit: Octokit, coords: RepoCoords, defaultBranch: string, log: Pick<Logger, "warn">): Promise<RepoConfig> {
  try {
    const text = await readRepoFile(octokit, coords, CONFIG_PATH, defaultBranch);
    return parseRepoConfig(text, `${CONFIG_PATH} on ${defaultBranch}`);
  } catch (err) {
    log.warn({ err }, "configuration unreadable in the webhook handler; using the defaults");
    return DEFAULT_CONFIG;
  }
}

/** "renovate[bot]", "Renovate" and "renovate" name the same account here. */
function botName(login: string): string {
  return login.toLowerCase().replace(/\[bot\]$/, "");
}

export function isAllowedBot(config: RepoConfig, login: string): boolean {
  const name = botName(login);
  return config.commands.allow_bots.some((b) => botName(b) === name);
}

/** author_association values GitHub gives people who have not had a contribution merged here. */
const NEWCOMER = new Set(["FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE"]);

export interface ContributorFacts {
  fromFork: boolean;
  /** author_association from the payload; absent is treated as unknown, not as a newcomer. */
  authorAssociation: string | undefined;
}

export function isFirstTimeContributor(facts: ContributorFacts): boolean {
  return facts.authorAssociation !== undefined && NEWCOMER.has(facts.authorAssociation.toUpperCase());
}

/** Whether the handler must read the configuration to decide on an automatic review. */
export function needsContributorPolicy(facts: ContributorFacts): boolean {
  return facts.fromFork || isFirstTimeContributor(facts);
}

/** Why an automatic review is skipped under the repository's policy, or null to review it. */
export function contributorSkipReason(config: RepoConfig, facts: ContributorFacts): string | null {
  const skip = (p: ContributorPolicy): boolean => p === "skip";
  if (facts.fromFork && skip(config.auto_review.forks)) return "pull requests from forks are not reviewed automatically (auto_review.forks: skip)";
  if (isFirstTimeContributor(facts) && skip(config.auto_review.first_time_contributors)) {
    return "pull requests by first-time contributors are not reviewed automatically (auto_review.first_time_contributors: skip)";
  }
  return null;
}
