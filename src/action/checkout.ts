import path from "node:path";
import { CONFIG_PATH } from "../config/schema.js";
import { WorkspaceError } from "../errors.js";
import { repoRoot } from "../local/repo.js";
import { git, redactSecrets } from "../workspace/git.js";
import { pruneWorktrees } from "../workspace/mirror.js";
import { addWorktree, removeWorktreeDir } from "../workspace/worktree.js";
import { ActionError } from "./environment.js";

/**
 * Turns the workflow's checkout into exactly what the app reviews: the pull request's head commit
 * against its base commit from the event. actions/checkout leaves the merge commit
 * (refs/pull/N/merge) checked out by default, whose line numbers are not the head's, so the review
 * then runs in a worktree at the head instead. A shallow checkout (checkout's default `fetch-depth: 1`)
 * is deepened here: the base and head commits are fetched, then history until their merge base is
 * there (deeper each time, the whole history as a last resort).
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
/** First depth fetched for the base and head of a shallow checkout, then each deepening step (doubling). */
const FIRST_DEPTH = 50;
const DEEPEN_ROUNDS = 3;
const FETCH_HINT =
  "The action fetches missing history from origin itself: give the job `contents: read`, or check out with `fetch-depth: 0`.";

interface FetchContext {
  root: string;
  /** The workflow token for origin, when the checkout has no credentials of its own (action/credentials.ts). */
  token: string | null;
  signal?: AbortSignal;
}

async function hasCommit(root: string, ref: string, signal?: AbortSignal): Promise<boolean> {
  const out = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], { cwd: root, signal, okExitCodes: [1, 128] });
  return out.trim() !== "";
}

async function isShallow(root: string, signal?: AbortSignal): Promise<boolean> {
  return (await git(["rev-parse", "--is-shallow-repository"], { cwd: root, signal })).trim() === "true";
}

async function mergeBase(root: string, a: string, b: string, signal?: AbortSignal): Promise<string | null> {
  const out = await git(["merge-base", a, b], { cwd: root, signal, okExitCodes: [1] });
  return out.trim() || null;
}

/** `git fetch origin <args>` with the checkout's credentials, or the token when it has none; errors name the cause. */
async function fetchOrigin(ctx: FetchContext, args: string[], what: string): Promise<void> {
  try {
    await git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", ...args], {
      cwd: ctx.root,
      token: ctx.token,
      signal: ctx.signal,
      timeoutMs: FETCH_TIMEOUT_MS,
    });
  } catch (err) {
    if (!(err instanceof WorkspaceError)) throw err;
    throw new ActionError(`fetching ${what} from origin failed (${redactSecrets(err.message, ctx.token)}). ${FETCH_HINT}`);
  }
}

/** The base and head commits, fetched when missing (shallowly when the checkout is shallow). */
async function ensureCommits(ctx: FetchContext, commits: { sha: string; what: string }[], shallow: boolean): Promise<void> {
  const missing: { sha: string; what: string }[] = [];
  for (const c of commits) if (!(await hasCommit(ctx.root, c.sha, ctx.signal))) missing.push(c);
  if (missing.length === 0) return;
  const what = missing.map((c) => `${c.what} ${c.sha.slice(0, 12)}`).join(" and ");
  await fetchOrigin(ctx, [...(shallow ? [`--depth=${FIRST_DEPTH}`] : []), "origin", ...missing.map((c) => c.sha)], what);
  for (const c of missing) {
    if (!(await hasCommit(ctx.root, c.sha, ctx.signal))) {
      throw new ActionError(`${c.what} ${c.sha.slice(0, 12)} is not in this checkout, even after fetching it from origin. ${FETCH_HINT}`);
    }
  }
}

/** Deepens a shallow checkout until `base` and `head` have their merge base, as far as the whole history. */
async function deepenToMergeBase(ctx: FetchContext, base: string, head: string): Promise<string | null> {
  let found = await mergeBase(ctx.root, base, head, ctx.signal);
  const what = `the history of ${base.slice(0, 12)} and ${head.slice(0, 12)}`;
  for (let round = 0, step = FIRST_DEPTH * 2; found === null && round < DEEPEN_ROUNDS && (await isShallow(ctx.root, ctx.signal)); round++, step *= 4) {
    await fetchOrigin(ctx, [`--deepen=${step}`, "origin", base, head], what);
    found = await mergeBase(ctx.root, base, head, ctx.signal);
  }
  if (found === null && (await isShallow(ctx.root, ctx.signal))) {
    await fetchOrigin(ctx, ["--unshallow", "origin", base, head], what);
    found = await mergeBase(ctx.root, base, head, ctx.signal);
  }
  return found;
}

export async function prepareCheckout(opts: {
  dir: string;
  headSha: string;
  baseSha: string;
  /** --base: compare with this ref instead of the event's base commit. */
  baseOverride: string | null;
  /** Where a head worktree may be created (outside the checkout, outside /tmp). */
  scratchDir: string;
  /** The workflow token for fetching, when the checkout has no credentials of its own. */
  fetchToken?: string | null;
  signal?: AbortSignal;
}): Promise<ReviewCheckout> {
  const { signal } = opts;
  const root = await repoRoot(opts.dir, signal);
  const ctx: FetchContext = { root, token: opts.fetchToken ?? null, signal };
  const shallow = await isShallow(root, signal);
  let base = opts.baseSha;
  if (opts.baseOverride !== null) {
    if (!(await hasCommit(root, opts.baseOverride, signal))) {
      throw new ActionError(`the base ${opts.baseOverride} does not name a commit in this checkout. Fetch it in the workflow, or check out with \`fetch-depth: 0\`.`);
    }
    base = opts.baseOverride;
    await ensureCommits(ctx, [{ sha: opts.headSha, what: "the pull request's head commit" }], shallow);
  } else {
    await ensureCommits(
      ctx,
      [
        { sha: opts.baseSha, what: "the pull request's base commit" },
        { sha: opts.headSha, what: "the pull request's head commit" },
      ],
      shallow,
    );
  }
  const baseCommit = (await git(["rev-parse", "--verify", "--end-of-options", `${base}^{commit}`], { cwd: root, signal })).trim();
  if ((await deepenToMergeBase(ctx, baseCommit, opts.headSha)) === null) {
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
