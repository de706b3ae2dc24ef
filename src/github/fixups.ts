import { httpStatus, type Octokit, type RepoCoords } from "./client.js";

export interface OpenedPull {
  number: number;
  url: string;
  draft: boolean;
}

/**
 * Opens the fix-up PR: head = the bot's branch in the base repository, base = the PR's head branch,
 * so merging it updates the original PR. Repositories whose plan has no draft PRs answer 422 to a
 * draft; the PR is then opened as a normal one (its title and body already say it failed verification).
 */
export async function createFixPull(
  octokit: Octokit,
  coords: RepoCoords,
  input: { title: string; body: string; head: string; base: string; draft: boolean },
): Promise<OpenedPull> {
  const request = { ...coords, title: input.title, body: input.body, head: input.head, base: input.base, maintainer_can_modify: false };
  try {
    const { data } = await octokit.rest.pulls.create({ ...request, draft: input.draft });
    return { number: data.number, url: data.html_url, draft: data.draft ?? input.draft };
  } catch (err) {
    if (!input.draft || httpStatus(err) !== 422 || !/draft/i.test(err instanceof Error ? err.message : "")) throw err;
    const { data } = await octokit.rest.pulls.create({ ...request, draft: false });
    return { number: data.number, url: data.html_url, draft: false };
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
