import { randomBytes } from "node:crypto";
import { lstat, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { WorkspaceError } from "../errors.js";
import { git, type GitContext, type GitOptions } from "./git.js";

/**
 * The bare mirror of one repository: the object store every worktree of that repository shares.
 * It never stores a URL or a credential; each fetch names the URL and carries the token itself.
 */

/** Where fetched refs live: outside refs/heads so no worktree can have them checked out. */
const REF_NAMESPACE = "refs/upstream/";

const DIFF_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The whole config a mirror may have. Rewritten before use because an agent working in a worktree
 * can write the shared config (e.g. `url.<evil>.insteadOf`, which would send our token elsewhere).
 */
const CANONICAL_CONFIG = [
  "[core]",
  "\trepositoryformatversion = 0",
  "\tfilemode = true",
  "\tbare = true",
  "\tlogallrefupdates = false",
  "",
].join("\n");

export interface Commit {
  sha: string;
  /** "head" or "base", for messages. */
  role: string;
}

export interface FetchRequest {
  url: string;
  token: string | null;
  refs: readonly string[];
  commits: readonly Commit[];
  /** Human name of the repository for messages (never the URL, which may carry credentials). */
  repoName: string;
}

function mirrorGit(mirrorDir: string, ctx: GitContext, extra: Partial<GitOptions> = {}): GitOptions {
  return { ...ctx, ...extra, cwd: mirrorDir, gitDir: mirrorDir };
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

/** Creates the mirror if needed (atomically, so a crash never leaves a half-made one) and resets its config. */
export async function ensureMirror(mirrorDir: string, ctx: GitContext): Promise<void> {
  if (await exists(path.join(mirrorDir, "HEAD"))) {
    await resetMirrorState(mirrorDir);
    return;
  }
  await rm(mirrorDir, { recursive: true, force: true });
  const tmp = `${mirrorDir}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    // An empty template: no sample hooks, no description, nothing we did not write.
    await git(["init", "--quiet", "--bare", "--template=", tmp], { ...ctx, cwd: path.dirname(mirrorDir) });
    await writeFile(path.join(tmp, "config"), CANONICAL_CONFIG);
    await rename(tmp, mirrorDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function resetMirrorState(mirrorDir: string): Promise<void> {
  const configPath = path.join(mirrorDir, "config");
  const current = await readFile(configPath, "utf8").catch(() => null);
  if (current !== CANONICAL_CONFIG) {
    const tmp = `${configPath}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, CANONICAL_CONFIG);
    await rename(tmp, configPath);
  }
  // Repository-wide attributes would apply to our diff (`* -diff` hides every change from review).
  await rm(path.join(mirrorDir, "info", "attributes"), { force: true });
}

/** The commits (from `commits`) that the mirror does not hold yet, in one git call. */
export async function missingCommits(mirrorDir: string, commits: readonly Commit[], ctx: GitContext): Promise<Commit[]> {
  if (commits.length === 0) return [];
  const input = commits.map((c) => `${c.sha}^{commit}\n`).join("");
  const out = await git(["cat-file", "--batch-check"], mirrorGit(mirrorDir, ctx, { input }));
  const lines = out.split("\n");
  return commits.filter((_, i) => !/^[0-9a-f]+ commit \d+$/.test(lines[i] ?? ""));
}

function fetchArgs(url: string, refspecs: readonly string[]): string[] {
  return [
    "fetch",
    "--quiet",
    "--no-tags",
    "--no-write-fetch-head", // FETCH_HEAD would record the URL in a file
    "--no-recurse-submodules",
    "--no-show-forced-updates",
    "--",
    url,
    ...refspecs,
  ];
}

/** Runs one fetch; returns its error instead of throwing so the caller can try another way. */
async function tryFetch(mirrorDir: string, req: FetchRequest, refspecs: string[], ctx: GitContext): Promise<WorkspaceError | null> {
  if (refspecs.length === 0) return null;
  try {
    await git(fetchArgs(req.url, refspecs), mirrorGit(mirrorDir, ctx, { token: req.token }));
    return null;
  } catch (err) {
    if (err instanceof WorkspaceError) return err;
    throw err;
  }
}

/**
 * Makes sure every requested commit is in the mirror. Returns false when nothing had to be fetched.
 * The refs come first (they bring the history in one negotiation); commits still missing are then
 * asked for by SHA, which GitHub serves while they are reachable from any of its refs.
 */
export async function fetchCommits(mirrorDir: string, req: FetchRequest, ctx: GitContext): Promise<boolean> {
  let missing = await missingCommits(mirrorDir, req.commits, ctx);
  if (missing.length === 0) return false;

  const refspecs = req.refs.map((ref) => `+${ref}:${REF_NAMESPACE}${ref.slice("refs/".length)}`);
  const refError = await tryFetch(mirrorDir, req, refspecs, ctx);
  missing = await missingCommits(mirrorDir, missing, ctx);
  if (missing.length === 0) return true;

  const shaError = await tryFetch(mirrorDir, req, missing.map((c) => c.sha), ctx);
  missing = await missingCommits(mirrorDir, missing, ctx);
  const first = missing[0];
  if (first === undefined) return true;

  // The refs fetch failing (auth, network, a deleted ref) explains more than "not our ref".
  const reason = refError?.message ?? shaError?.message ?? `not reachable from ${req.refs.join(", ")}`;
  throw new WorkspaceError(`${first.role} commit ${first.sha} is not available from ${req.repoName}: ${reason}`);
}

const DIFF_FLAGS = [
  "--no-color",
  "--no-ext-diff",
  "--no-textconv",
  "--find-renames",
  "--src-prefix=a/",
  "--dst-prefix=b/",
  "--submodule=short",
];

/**
 * `base...head` (from the merge base, as GitHub shows a PR). Run in the bare mirror on purpose: there
 * git reads no in-tree `.gitattributes`, so a PR cannot mark its own changes `-diff` to hide them.
 */
export function diffCommits(mirrorDir: string, baseSha: string, headSha: string, ctx: GitContext): Promise<string> {
  return git(
    ["diff", ...DIFF_FLAGS, `${baseSha}...${headSha}`, "--"],
    mirrorGit(mirrorDir, ctx, { maxOutputBytes: DIFF_MAX_BYTES }),
  );
}

/** Drops the registrations of worktrees whose directories are gone. */
export async function pruneWorktrees(mirrorDir: string, ctx: GitContext): Promise<void> {
  await git(["worktree", "prune"], mirrorGit(mirrorDir, ctx));
}

/**
 * Lock files a killed git left behind; they make every later fetch fail with "cannot lock ref".
 * Only safe when no git process works on this mirror, which the caller guarantees.
 */
export async function removeStaleLocks(mirrorDir: string): Promise<void> {
  for (const file of await listLocks(mirrorDir, mirrorDir)) await rm(file, { force: true });
}

async function listLocks(dir: string, mirrorDir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith(".lock")) found.push(full);
    // Only refs/ nests lock files; objects/ and worktrees/ are handled elsewhere or hold none.
    const descend = entry.isDirectory() && (dir !== mirrorDir || entry.name === "refs");
    if (descend) found.push(...(await listLocks(full, mirrorDir)));
  }
  return found;
}
