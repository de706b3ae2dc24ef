import path from "node:path";
import { CONFIG_PATH } from "../config/schema.js";
import { WorkspaceError } from "../errors.js";
import { repoRoot } from "../local/repo.js";
import { git } from "../workspace/git.js";
import { pruneWorktrees } from "../workspace/mirror.js";
import { addWorktree, removeWorktreeDir } from "../workspace/worktree.js";
import { ActionError } from "./environment.js";

/**
 * Turns the workflow's checkout into exactly what the app reviews: the pull request's head commit
 * against its base commit from the event. actions/checkout leaves the merge commit
 * (refs/pull/N/merge) checked out by default, whose line numbers are not the head's, so the review
 * then runs in a worktree at the head instead; commits missing from a shallow checkout are fetched
 * once, and when that is not enough the message says to use `fetch-depth: 0`.
 */

export interface ReviewCheckout {
  /** Where the agent runs and the diff is taken: the checkout itself, or a worktree at the head. */
  dir: string;
  /** The commit (or the --base ref) the diff is taken against. */
  base: string;
  /** Removes the head worktree, if one was made. */
  release(): Promise<void>;
}

const FETCH_TIMEOUT_MS = 5 * 60_000;
const FETCH_DEPTH_HINT = "Check out with actions/checkout and `fetch-depth: 0` so the base and head commits and their history are there.";

async function hasCommit(root: string, ref: string, signal?: AbortSignal): Promise<boolean> {
  const out = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], { cwd: root, signal, okExitCodes: [1, 128] });
  return out.trim() !== "";
}

/** The commit, fetched from origin when the checkout lacks it (uses the credentials actions/checkout left, if any). */
async function ensureCommit(root: string, sha: string, what: string, signal?: AbortSignal): Promise<void> {
  if (await hasCommit(root, sha, signal)) return;
  try {
    await git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "origin", sha], { cwd: root, signal, timeoutMs: FETCH_TIMEOUT_MS });
  } catch (err) {
    if (!(err instanceof WorkspaceError)) throw err;
    throw new ActionError(`${what} ${sha.slice(0, 12)} is not in this checkout and fetching it from origin failed (${err.message}). ${FETCH_DEPTH_HINT}`);
  }
  if (!(await hasCommit(root, sha, signal))) {
    throw new ActionError(`${what} ${sha.slice(0, 12)} is not in this checkout, even after fetching it from origin. ${FETCH_DEPTH_HINT}`);
  }
}

async function isShallow(root: string, signal?: AbortSignal): Promise<boolean> {
  return (await git(["rev-parse", "--is-shallow-repository"], { cwd: root, signal })).trim() === "true";
}

export async function prepareCheckout(opts: {
  dir: string;
  headSha: string;
  baseSha: string;
  /** --base: compare with this ref instead of the event's base commit. */
  baseOverride: string | null;
  /** Where a head worktree may be created (outside the checkout, outside /tmp). */
  scratchDir: string;
  signal?: AbortSignal;
}): Promise<ReviewCheckout> {
  const { signal } = opts;
  const root = await repoRoot(opts.dir, signal);
  let base = opts.baseSha;
  if (opts.baseOverride !== null) {
    if (!(await hasCommit(root, opts.baseOverride, signal))) {
      throw new ActionError(`the base ${opts.baseOverride} does not name a commit in this checkout. ${FETCH_DEPTH_HINT}`);
    }
    base = opts.baseOverride;
  } else {
    await ensureCommit(root, opts.baseSha, "the pull request's base commit", signal);
  }
  await ensureCommit(root, opts.headSha, "the pull request's head commit", signal);
  try {
    await git(["merge-base", base, opts.headSha], { cwd: root, signal });
  } catch (err) {
    if (!(err instanceof WorkspaceError)) throw err;
    if (await isShallow(root, signal)) {
      throw new ActionError(`the checkout is shallow, so the merge base of ${base.slice(0, 12)} and the head ${opts.headSha.slice(0, 12)} is missing. ${FETCH_DEPTH_HINT}`);
    }
    throw new ActionError(`the base ${base.slice(0, 12)} and the head ${opts.headSha.slice(0, 12)} have no common ancestor.`);
  }

  const current = (await git(["rev-parse", "HEAD"], { cwd: root, signal })).trim();
  if (current === opts.headSha) return { dir: root, base, release: async () => {} };

  // The merge commit (or another ref) is checked out: review the head itself, as GitHub shows it.
  const commonDir = path.resolve(root, (await git(["rev-parse", "--git-common-dir"], { cwd: root, signal })).trim());
  const dir = path.join(opts.scratchDir, `head-${opts.headSha.slice(0, 12)}`);
  await addWorktree(commonDir, dir, opts.headSha, { signal });
  return {
    dir,
    base,
    release: async () => {
      await removeWorktreeDir(dir);
      await pruneWorktrees(commonDir, {});
    },
  };
}

/**
 * The repository config as of the base commit, never the pull request's own copy (which would let a
 * pull request change how it is reviewed): the rule the app follows. Null when the base has none.
 */
export async function readBaseConfig(dir: string, base: string, signal?: AbortSignal): Promise<string | null> {
  const listed = await git(["ls-tree", "--name-only", base, "--", CONFIG_PATH], { cwd: dir, signal });
  if (listed.trim() === "") return null;
  return git(["cat-file", "blob", `${base}:${CONFIG_PATH}`], { cwd: dir, signal });
}
