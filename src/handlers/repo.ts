import type { RepoSnapshot } from "../types.js";

export function repoSnapshot(repo: {
  owner: { login: string };
  name: string;
  default_branch: string;
  clone_url: string;
  html_url: string;
}): RepoSnapshot {
  return {
    owner: repo.owner.login,
    name: repo.name,
    defaultBranch: repo.default_branch,
    cloneUrl: repo.clone_url,
    htmlUrl: repo.html_url,
  };
}
