import { httpStatus, type Octokit, type RepoCoords } from "./client.js";
import type { WriteOptions } from "./policy.js";

export interface OpenedPull {
  number: number;
  url: string;
  draft: boolean;
}

/**
 * Opens the fix-up PR: head = the bot's branch in the base repository, base = the PR's head branch,
 * so merging it updates the original PR. Repositories whose plan has no draft PRs answer 422 to a
 * draft; the PR is then opened as a normal one (its title and body already say it failed verification).
 * A POST whose answer was lost may still have opened it: the write carries `request.lookup`
 * (findFixPull for this head), which the client's write policy asks before it sends the POST again.
 */
export async function createFixPull(
  octokit: Octokit,
  coords: RepoCoords,
  input: { title: string; body: string; head: string; base: string; draft: boolean },
): Promise<OpenedPull> {
  const request = { ...coords, title: input.title, body: input.body, head: input.head, base: input.base, maintainer_can_modify: false };
  const options = { request: { lookup: () => findFixPull(octokit, coords, input.head) } satisfies WriteOptions };
  try {
    const { data } = await octokit.rest.pulls.create({ ...request, draft: input.draft, ...options });
    return { number: data.number, url: data.html_url, draft: data.draft ?? input.draft };
  } catch (err) {
    if (!input.draft || httpStatus(err) !== 422 || !/draft/i.test(err instanceof Error ? err.message : "")) throw err;
    const { data } = await octokit.rest.pulls.create({ ...request, draft: false, ...options });
    return { number: data.number, url: data.html_url, draft: false };
  }
}

/**
 * The pull request (open, closed or merged) whose head is `headBranch` of this repository, or null:
 * what an earlier attempt opened for a branch it pushed. Newest first, as GitHub lists them.
 */
export async function findFixPull(octokit: Octokit, coords: RepoCoords, headBranch: string) {
  const { data } = await octokit.rest.pulls.list({ ...coords, head: `${coords.owner}:${headBranch}`, state: "all", per_page: 10 });
  const own = `${coords.owner}/${coords.repo}`.toLowerCase();
  return data.find((p) => p.head.ref === headBranch && (p.head.repo?.full_name.toLowerCase() ?? own) === own) ?? null;
}

/** The commit `branch` points at in the repository, or null when there is no such branch. */
export async function branchHead(octokit: Octokit, coords: RepoCoords, branch: string): Promise<string | null> {
  try {
    const { data } = await octokit.rest.git.getRef({ ...coords, ref: `heads/${branch}` });
    return data.object.sha;
  } catch (err) {
    if (httpStatus(err) === 404) return null;
    throw err;
  }
}

/** An open PR from one of the bot's branches starting with `branchPrefix` into `base`, if any. */
export async function findOpenFixPull(
  octokit: Octokit,
  coords: RepoCoords,
  input: { base: string; branchPrefix: string },
): Promise<{ number: number; url: string } | null> {
  const pulls = await octokit.paginate(octokit.rest.pulls.list, { ...coords, state: "open", base: input.base, per_page: 100 });
  const own = `${coords.owner}/${coords.repo}`.toLowerCase();
  const hit = pulls.find((p) => p.head.ref.startsWith(input.branchPrefix) && p.head.repo?.full_name.toLowerCase() === own);
  return hit ? { number: hit.number, url: hit.html_url } : null;
}

/** Everything on a PR that may hold the bot's findings: inline review comments and review bodies. */
export async function findingSources(octokit: Octokit, coords: RepoCoords, pullNumber: number) {
  const [comments, reviews] = await Promise.all([
    octokit.paginate(octokit.rest.pulls.listReviewComments, { ...coords, pull_number: pullNumber, per_page: 100 }),
    octokit.paginate(octokit.rest.pulls.listReviews, { ...coords, pull_number: pullNumber, per_page: 100 }),
  ]);
  return { comments, reviews };
}
