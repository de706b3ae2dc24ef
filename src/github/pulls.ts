import type { PullSnapshot } from "../types.js";
import type { Octokit, RepoCoords } from "./client.js";

type PullData = {
  head: { sha: string; ref: string; repo: { full_name: string } | null };
  base: { sha: string; ref: string; repo: { full_name: string } };
  draft?: boolean | undefined;
  user: { login: string } | null;
  title: string;
  body: string | null;
  state: string;
};

/** Maps a pull request object (webhook payload or REST response) to the snapshot a job carries. */
export function toPullSnapshot(pr: PullData): PullSnapshot {
  return {
    headSha: pr.head.sha,
    headRef: pr.head.ref,
    baseSha: pr.base.sha,
    baseRef: pr.base.ref,
    // A deleted fork has no head repo: treat it as a fork, the cautious reading.
    fromFork: pr.head.repo?.full_name !== pr.base.repo.full_name,
    isDraft: pr.draft === true,
    author: pr.user?.login ?? "ghost",
    title: pr.title,
    body: pr.body ?? "",
  };
}

export async function fetchPull(octokit: Octokit, coords: RepoCoords, pullNumber: number): Promise<PullSnapshot & { state: string }> {
  const { data } = await octokit.rest.pulls.get({ ...coords, pull_number: pullNumber });
  return { ...toPullSnapshot(data), state: data.state };
}
