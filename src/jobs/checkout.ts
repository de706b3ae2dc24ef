import { filterPaths } from "../config/paths.js";
import { parseDiff, type UnparsedFile } from "../review/diff.js";
import { prioritiseFiles } from "../security/limits.js";
import type { DiffFile } from "../types.js";
import type { Lease } from "../workspace/workspaces.js";
import type { JobContext } from "./context.js";

export interface CheckedOut {
  lease: Lease;
  /** Files in the PR diff that the config lets the agent review. */
  files: DiffFile[];
  /** Paths left out by the config's include/ignore globs. */
  skipped: string[];
  /** Paths left out because the PR is over the size limits (most important first). */
  overLimit: { path: string; reason: "max-files" | "max-bytes" }[];
  /** Files the config would review whose diff could not be parsed: not reviewed, reported with the reason. */
  unparsed: UnparsedFile[];
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

export interface CheckoutOptions {
  /**
   * The job already holds a worktree of this repository (a second agent's tree): never wait for the
   * pool, which could deadlock against another job doing the same; see CheckoutRequest.extra.
   */
  extra?: boolean;
}

/** Takes a worktree at the PR head and reads the PR diff (merge base to head) from it. */
export async function checkoutPull(ctx: JobContext, opts: CheckoutOptions = {}): Promise<CheckedOut> {
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
    ...(opts.extra ? { extra: true } : {}),
  });
  try {
    const parsed = parseDiff(await lease.diff());
    const { kept, skipped } = filterPaths(parsed.files, ctx.config.paths);
    const unparsed = filterPaths(parsed.unparsed, ctx.config.paths);
    // A huge PR is reviewed on its most important files rather than not at all or truncated blindly.
    const limited = prioritiseFiles(kept, { maxFiles: ctx.deps.settings.maxFiles, maxBytes: ctx.deps.settings.maxDiffBytes });
    return {
      lease,
      files: limited.included,
      skipped: [...skipped, ...unparsed.skipped].map((s) => s.path),
      overLimit: limited.skipped,
      unparsed: unparsed.kept,
    };
  } catch (err) {
    await lease.release();
    throw err;
  }
}
