import type { ProbotOctokit } from "probot";

/** The installation-scoped REST client every adapter takes. */
export type Octokit = ProbotOctokit;

export interface RepoCoords {
  owner: string;
  repo: string;
}

/** HTTP status of an Octokit RequestError, or null for anything else. */
export function httpStatus(err: unknown): number | null {
  if (typeof err === "object" && err !== null && "status" in err) {
    const status = (err as { status: unknown }).status;
    if (typeof status === "number") return status;
  }
  return null;
}
