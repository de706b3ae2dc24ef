import { lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { WorkspaceError } from "../errors.js";
import { git, type GitContext, type GitOptions } from "./git.js";

/**
 * One checked-out tree of a mirror. After a job, everything inside `dir` is the job's (and so the
 * PR's) doing, so nothing there is trusted: git is always pointed at the admin directory inside the
 * mirror explicitly, never at whatever `.git` the tree now holds.
 */
export interface Worktree {
  dir: string;
  /** `<mirror>/worktrees/<name>`: the worktree's HEAD and index. */
  adminDir: string;
}

/** Index listings larger than this fail, and the caller then rebuilds the worktree instead. */
const INDEX_LISTING_MAX_BYTES = 256 * 1024 * 1024;

/** Creates a fresh worktree at `dir`, replacing whatever is there. Caller holds the mirror lock. */
export async function addWorktree(mirrorDir: string, dir: string, sha: string, ctx: GitContext): Promise<Worktree> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  const mirror = { ...ctx, cwd: mirrorDir, gitDir: mirrorDir };
  // A registration left by a crashed run would otherwise keep the admin name taken.
  await git(["worktree", "prune"], mirror);
  await git(["worktree", "add", "--quiet", "--detach", "--force", dir, sha], mirror);
  const adminDir = await readGitLink(dir);
  if (path.dirname(adminDir) !== path.join(mirrorDir, "worktrees")) {
    throw new WorkspaceError(`git registered the worktree ${dir} in an unexpected place`);
  }
  return { dir, adminDir };
}

async function readGitLink(dir: string): Promise<string> {
  const text = await readFile(path.join(dir, ".git"), "utf8");
  const match = /^gitdir: (.+)\n?$/.exec(text);
  if (!match?.[1]) throw new WorkspaceError(`${dir}/.git is not a worktree link`);
  return path.resolve(dir, match[1]);
}

/**
 * Puts the worktree exactly at `sha` with nothing else in it. The index is refreshed first so files
 * whose content is unchanged but whose timestamps were touched are kept, not rewritten: only files
 * that differ between the two commits are written.
 */
export async function resetWorktree(wt: Worktree, sha: string, ctx: GitContext): Promise<void> {
  await assertIntact(wt);
  await restoreGitLink(wt);
  const opts = { ...ctx, cwd: wt.dir, gitDir: wt.adminDir, workTree: wt.dir };
  await clearSkipFlags(opts);
  await git(["update-index", "-q", "--refresh"], opts);
  // "--" after the SHA: a file named like the SHA must not turn it into a path.
  await git(["checkout", "--quiet", "--detach", "--force", sha, "--"], opts);
  await git(["reset", "--quiet", "--hard", sha, "--"], opts);
  await git(["clean", "-ffdxq"], opts);
}

/**
 * Files marked skip-worktree (by `update-index` or a sparse checkout) survive `reset --hard`, so a
 * job could leave edited files for the next job on the repository. Reading the index is cheap
 * (no stat calls), unlike the rewrite of every file that dropping the index would cause.
 */
async function clearSkipFlags(opts: GitOptions): Promise<void> {
  const listing = await git(["ls-files", "-v", "-z"], { ...opts, maxOutputBytes: INDEX_LISTING_MAX_BYTES });
  const entries = listing.split("\0").filter((entry) => entry.length > 2);
  // Tag "S" is skip-worktree; a lowercase tag adds assume-unchanged.
  const skipped = entries.filter((entry) => entry[0] === "S" || entry[0] === "s");
  const assumed = entries.filter((entry) => /^[a-z]$/.test(entry[0]!));
  // One flag per update-index call: it applies only the first flag it is given.
  await unsetFlag("--no-skip-worktree", skipped, opts);
  await unsetFlag("--no-assume-unchanged", assumed, opts);
}

async function unsetFlag(flag: string, entries: string[], opts: GitOptions): Promise<void> {
  if (entries.length === 0) return;
  const input = entries.map((entry) => `${entry.slice(2)}\0`).join("");
  await git(["update-index", "-z", flag, "--stdin"], { ...opts, input });
}

/** Rejects a worktree whose directory or admin link was replaced; the caller then rebuilds it. */
async function assertIntact(wt: Worktree): Promise<void> {
  const dirStat = await lstat(wt.dir).catch(() => null);
  if (!dirStat?.isDirectory()) throw new WorkspaceError(`worktree ${wt.dir} is missing`);
  const commondir = await readFile(path.join(wt.adminDir, "commondir"), "utf8").catch(() => null);
  if (commondir?.trim() !== "../..") throw new WorkspaceError(`worktree ${wt.dir} is no longer linked to its mirror`);
}

/** The `.git` link sits inside the job's tree, where it may have been replaced by a hostile repo. */
async function restoreGitLink(wt: Worktree): Promise<void> {
  const link = path.join(wt.dir, ".git");
  const expected = `gitdir: ${wt.adminDir}\n`;
  const stat = await lstat(link).catch(() => null);
  if (stat?.isFile() && (await readFile(link, "utf8")) === expected) return;
  await rm(link, { recursive: true, force: true });
  await writeFile(link, expected);
}

export async function removeWorktreeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
