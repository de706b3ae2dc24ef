import { WorkspaceError } from "../errors.js";
import {
  combineChanges,
  MODE_SYMLINK,
  parseBatchCheck,
  parseNumstat,
  parseRawDiff,
  type FileChange,
} from "../fix/collect.js";
import { git, type GitContext, type GitOptions } from "./git.js";
import { ensureMirror, fetchCommits } from "./mirror.js";
import { checkCloneUrl, checkRef, checkSha } from "./naming.js";
import type { Worktree } from "./worktree.js";

/**
 * Turning what an agent left in a worktree into a commit, and publishing it. The agent runs with
 * `.git` read-only and no network (codex workspace-write), so it can only edit files; everything
 * here happens after it exited, with the installation token handed to the one git command that
 * needs it (through environment config, never argv or a file).
 *
 * Nothing in the worktree is trusted: git is pointed at the mirror and the worktree's admin
 * directory explicitly, and the diffs that decide what gets published run in the bare mirror,
 * where the tree's own `.gitattributes` cannot mark a binary as text or hide a change.
 */

/** Git access to one leased worktree and its mirror, handed out by Workspaces with the lease. */
export interface WorktreeGit {
  mirrorDir: string;
  worktree: Worktree;
  ctx: GitContext;
  /** Runs `fn` holding the mirror's lock: fetches and config resets on one mirror must not overlap. */
  locked<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

export interface Identity {
  name: string;
  email: string;
}

const PATCH_MAX_BYTES = 64 * 1024 * 1024;
const LISTING_MAX_BYTES = 64 * 1024 * 1024;
const LINK_TARGET_MAX = 4096;
const DIFF_FLAGS = ["--no-color", "--no-ext-diff", "--no-textconv", "--no-renames"];

function inMirror(g: WorktreeGit, signal?: AbortSignal, extra: Partial<GitOptions> = {}): GitOptions {
  return { ...g.ctx, ...(signal ? { signal } : {}), ...extra, cwd: g.mirrorDir, gitDir: g.mirrorDir };
}

function inWorktree(g: WorktreeGit, signal?: AbortSignal): GitOptions {
  return { ...g.ctx, ...(signal ? { signal } : {}), cwd: g.worktree.dir, gitDir: g.worktree.adminDir, workTree: g.worktree.dir };
}

function checkIdentity(who: Identity): Identity {
  for (const value of [who.name, who.email]) {
    // git would reject "<", ">" and newlines itself; failing here gives a clearer message.
    if (value.trim() === "" || /[<>\u0000-\u001f\u007f]/.test(value)) {
      throw new WorkspaceError(`the commit identity "${value.slice(0, 80)}" is not usable`);
    }
  }
  return who;
}

/**
 * Commits everything in the worktree (modified, added, deleted and untracked files, minus what
 * `.gitignore` excludes) on top of `parent`, without moving any ref. Returns null when the tree is
 * identical to the parent's: the agent changed nothing.
 */
export async function commitWorktree(
  g: WorktreeGit,
  input: { parent: string; message: string; author: Identity; signal?: AbortSignal },
): Promise<string | null> {
  const parent = checkSha(input.parent, "parent");
  const who = checkIdentity(input.author);
  const wt = inWorktree(g, input.signal);
  // The index was last written by our own checkout; -A stages deletions and untracked files too.
  await git(["add", "--all", "--", "."], wt);
  const tree = (await git(["write-tree"], wt)).trim();
  const parentTree = (await git(["rev-parse", "--verify", `${parent}^{tree}`], inMirror(g, input.signal))).trim();
  if (tree === parentTree) return null;
  const commit = await git(
    ["-c", `user.name=${who.name}`, "-c", `user.email=${who.email}`, "commit-tree", tree, "-p", parent, "-F", "-"],
    inMirror(g, input.signal, { input: input.message }),
  );
  return checkSha(commit.trim(), "fix");
}

/** Every file that differs between two commits, with modes, sizes, binary flags and link targets. */
export async function listChanges(g: WorktreeGit, from: string, to: string, signal?: AbortSignal): Promise<FileChange[]> {
  const range = [checkSha(from, "base"), checkSha(to, "fix")];
  const opts = inMirror(g, signal, { maxOutputBytes: LISTING_MAX_BYTES });
  const raw = parseRawDiff(await git(["diff", ...DIFF_FLAGS, "--raw", "-z", "--no-abbrev", ...range, "--"], opts));
  if (raw.length === 0) return [];
  const numstat = parseNumstat(await git(["diff", ...DIFF_FLAGS, "--numstat", "-z", ...range, "--"], opts));
  const objects = raw.flatMap((e) => (e.newObject !== null ? [e.newObject] : []));
  const sizes = parseBatchCheck(
    await git(["cat-file", "--batch-check"], { ...opts, input: objects.map((o) => `${o}\n`).join("") }),
  );
  const targets = new Map<string, string>();
  for (const entry of raw) {
    if (entry.newMode !== MODE_SYMLINK || entry.newObject === null || targets.has(entry.newObject)) continue;
    const target = await git(["cat-file", "blob", entry.newObject], { ...opts, maxOutputBytes: LINK_TARGET_MAX });
    targets.set(entry.newObject, target);
  }
  return combineChanges(raw, numstat, sizes, targets);
}

/** The change as a patch `git apply` accepts (binary files included), for fork PRs. */
export async function patchBetween(g: WorktreeGit, from: string, to: string, signal?: AbortSignal): Promise<string> {
  return git(
    ["diff", ...DIFF_FLAGS, "--binary", "--full-index", "--src-prefix=a/", "--dst-prefix=b/", checkSha(from, "base"), checkSha(to, "fix"), "--"],
    inMirror(g, signal, { maxOutputBytes: PATCH_MAX_BYTES }),
  );
}

/** Branch names on the remote that start with `prefix` (e.g. "codex-pr-bot/fix/7-abc1234"). */
export async function remoteBranches(
  g: WorktreeGit,
  input: { url: string; token: string | null; prefix: string; signal?: AbortSignal },
): Promise<string[]> {
  const url = checkCloneUrl(input.url);
  const pattern = checkRef(`refs/heads/${input.prefix}`);
  const out = await git(["ls-remote", "--heads", "--", url, `${pattern}*`], inMirror(g, input.signal, { token: input.token }));
  return out
    .split("\n")
    .map((line) => line.split("\t")[1] ?? "")
    .filter((ref) => ref.startsWith("refs/heads/"))
    .map((ref) => ref.slice("refs/heads/".length));
}

/**
 * Creates `branch` on the remote at `sha`. Never forced: an existing branch of that name makes the
 * push fail instead of being overwritten. The mirror's config is reset first, so nothing a job
 * wrote there (an `insteadOf`, a push URL) can redirect the push or the token.
 */
export async function pushBranch(
  g: WorktreeGit,
  input: { url: string; token: string | null; sha: string; branch: string; signal?: AbortSignal },
): Promise<void> {
  const url = checkCloneUrl(input.url);
  const ref = checkRef(`refs/heads/${input.branch}`);
  const sha = checkSha(input.sha, "fix");
  await g.locked(async () => {
    await ensureMirror(g.mirrorDir, g.ctx);
    await git(["push", "--quiet", "--no-verify", "--", url, `${sha}:${ref}`], inMirror(g, input.signal, { token: input.token }));
  }, input.signal);
}

/** Fetches a (newer) head commit of the PR into the mirror, through `ref` or by SHA. */
export async function fetchCommit(
  g: WorktreeGit,
  input: { url: string; token: string | null; ref: string; sha: string; repoName: string; signal?: AbortSignal },
): Promise<void> {
  const url = checkCloneUrl(input.url);
  const ref = checkRef(input.ref);
  const sha = checkSha(input.sha, "head");
  const ctx = { ...g.ctx, ...(input.signal ? { signal: input.signal } : {}) };
  await g.locked(async () => {
    await ensureMirror(g.mirrorDir, ctx);
    await fetchCommits(g.mirrorDir, { url, token: input.token, refs: [ref], commits: [{ sha, role: "head" }], repoName: input.repoName }, ctx);
  }, input.signal);
}

/**
 * Whether `fix` (made on an older head) still merges into `head` without conflicts: the same
 * three-way merge GitHub runs for the fix PR. Returns the conflicting paths, [] when it is clean.
 */
export async function mergeConflicts(g: WorktreeGit, head: string, fix: string, signal?: AbortSignal): Promise<string[]> {
  const out = await git(
    ["merge-tree", "--write-tree", "--name-only", "--no-messages", checkSha(head, "head"), checkSha(fix, "fix")],
    // Exit code 1 means "merged with conflicts", and the conflicted paths follow the tree id.
    inMirror(g, signal, { okExitCodes: [1] }),
  );
  const lines = out.split("\n").filter((line) => line.length > 0);
  return [...new Set(lines.slice(1))];
}
