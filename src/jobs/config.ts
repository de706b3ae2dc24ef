import { parseRepoConfig } from "../config/load.js";
import { CONFIG_PATH, type RepoConfig } from "../config/schema.js";
import type { Octokit, RepoCoords } from "../github/client.js";
import { readRepoFile } from "../github/repo-files.js";

/**
 * Reads the repository config from the default branch only: a pull request must not be able to
 * change how it is reviewed (turn the bot off, widen what it may do, rewrite its instructions).
 */
export async function loadRepoConfig(
  octokit: Octokit,
  coords: RepoCoords,
  defaultBranch: string,
): Promise<{ config: RepoConfig; source: string }> {
  const text = await readRepoFile(octokit, coords, CONFIG_PATH, defaultBranch);
  const source = text === null ? "defaults (no configuration file)" : `${CONFIG_PATH} on ${defaultBranch}`;
  return { config: parseRepoConfig(text, `${CONFIG_PATH} on ${defaultBranch}`), source };
}
