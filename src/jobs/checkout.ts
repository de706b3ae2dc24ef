import { filterPaths } from "../config/paths.js";
import { parseUnifiedDiff } from "../review/diff.js";
import type { DiffFile } from "../types.js";
import type { Lease } from "../workspace/workspaces.js";
import type { JobContext } from "./context.js";

export interface CheckedOut {
  lease: Lease;
  /** Files in the PR diff that the config lets the agent review. */
  files: DiffFile[];
  /** Paths left out by the config's include/ignore globs. */
  skipped: string[];
}

/** Stable key per repository and host, so GitHub.com and an Enterprise Server never share a mirror. */
export function repoKey(cloneUrl: string, owner: string, name: string): string {
  let host = "local";
  try {
    host = new URL(cloneUrl).host || "local";
  } catch {
    // A plain path (tests, self-hosted mirrors) has no host.
  }
  return `${host}/${owner}/${name}`;
}

/** Takes a worktree at the PR head and reads the PR diff (merge base to head) from it. */
export async function checkoutPull(ctx: JobContext): Promise<CheckedOut> {
  const { job, pull } = ctx;
  const lease = await ctx.deps.workspaces.checkout({
    repoKey: repoKey(job.repo.cloneUrl, job.repo.owner, job.repo.name),
    cloneUrl: job.repo.cloneUrl,
    token: await ctx.token(),
    headSha: pull.headSha,
    baseSha: pull.baseSha,
    // The base repository serves fork heads too, under refs/pull/N/head.
    refs: [`refs/heads/${pull.baseRef}`, `refs/pull/${job.prNumber}/head`],
    signal: ctx.signal,
  });
  try {
    const all = parseUnifiedDiff(await lease.diff());
    const { kept, skipped } = filterPaths(all, ctx.config.paths);
    return { lease, files: kept, skipped: skipped.map((s) => s.path) };
  } catch (err) {
    await lease.release();
    throw err;
  }
}
