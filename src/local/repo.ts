import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseRepoConfig } from "../config/load.js";
import { CONFIG_PATH, type RepoConfig } from "../config/schema.js";
import { WorkspaceError } from "../errors.js";
import { GIT_DIFF_FLAGS } from "../review/diff.js";
import { git } from "../workspace/git.js";

/**
 * Read-only questions about the user's own checkout, all through workspace/git.ts. The checkout is
 * trusted here (it is the user's machine), so its config file is read from the working tree.
 */

export interface LocalRange {
  root: string;
  /** What the user asked for (or the default that was found), e.g. "origin/main". */
  baseRef: string;
  /** The merge base of baseRef and HEAD: what the diff is taken against. */
  baseSha: string;
  headSha: string;
  /** Current branch, or "HEAD" when detached. */
  headRef: string;
}

const DEFAULT_BASES = ["@{upstream}", "origin/HEAD", "origin/main", "origin/master", "main", "master"];

export async function repoRoot(dir: string, signal?: AbortSignal): Promise<string> {
  try {
    return (await git(["rev-parse", "--show-toplevel"], { cwd: dir, signal })).trim();
  } catch (err) {
    if (err instanceof WorkspaceError) throw new WorkspaceError(`${dir} is not inside a git checkout`);
    throw err;
  }
}

async function resolveCommit(root: string, ref: string, signal?: AbortSignal): Promise<string | null> {
  try {
    return (await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], { cwd: root, signal })).trim();
  } catch {
    return null;
  }
}

/**
 * Resolves base and head; without --base, the upstream branch, then origin's default, then main/master.
 * With `fallbackToHead` (fix runs, where the base is only context) a checkout without any of those
 * gets HEAD as its base, i.e. an empty change, instead of an error.
 */
export async function resolveRange(root: string, base: string | null, signal?: AbortSignal, opts: { fallbackToHead?: boolean } = {}): Promise<LocalRange> {
  const headSha = await resolveCommit(root, "HEAD", signal);
  if (headSha === null) throw new WorkspaceError("the checkout has no commits yet (HEAD does not resolve)");
  let baseRef: string | null = null;
  let baseTip: string | null = null;
  for (const candidate of base !== null ? [base] : DEFAULT_BASES) {
    const sha = await resolveCommit(root, candidate, signal);
    if (sha !== null) {
      baseRef = candidate;
      baseTip = sha;
      break;
    }
  }
  if ((baseRef === null || baseTip === null) && base === null && opts.fallbackToHead) {
    baseRef = "HEAD";
    baseTip = headSha;
  }
  if (baseRef === null || baseTip === null) {
    throw new WorkspaceError(
      base !== null
        ? `the base ${base} does not name a commit in this checkout (fetch it first?)`
        : `no base found (tried ${DEFAULT_BASES.join(", ")}); pass --base <ref>`,
    );
  }
  let baseSha: string;
  try {
    baseSha = (await git(["merge-base", baseTip, headSha], { cwd: root, signal })).trim();
  } catch {
    throw new WorkspaceError(`${baseRef} and HEAD have no common ancestor`);
  }
  const branch = (await git(["symbolic-ref", "--quiet", "--short", "HEAD"], { cwd: root, signal, okExitCodes: [1] })).trim();
  return { root, baseRef, baseSha, headSha, headRef: branch || "HEAD" };
}

/** The unified diff the review is about: merge base → HEAD, or → the working tree with uncommitted changes. */
export function localDiff(range: LocalRange, opts: { uncommitted: boolean; maxBytes: number; signal?: AbortSignal }): Promise<string> {
  const target = opts.uncommitted ? [] : [range.headSha];
  return git(["diff", ...GIT_DIFF_FLAGS, range.baseSha, ...target, "--"], {
    cwd: range.root,
    signal: opts.signal,
    maxOutputBytes: opts.maxBytes,
  });
}

/** Subjects of the commits under review, newest first: the closest thing to a PR description locally. */
export async function commitSubjects(range: LocalRange, signal?: AbortSignal): Promise<string[]> {
  const out = await git(["log", "--format=%s", "-n", "50", `${range.baseSha}..${range.headSha}`], { cwd: range.root, signal });
  return out.split("\n").filter((l) => l.trim() !== "");
}

/** "owner/name" from the origin URL when there is one, else the directory name. */
export async function repoName(root: string, signal?: AbortSignal): Promise<string> {
  const url = (await git(["config", "--get", "remote.origin.url"], { cwd: root, signal, okExitCodes: [1] })).trim();
  const match = /[/:]([^/:]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
  return match ? `${match[1]}/${match[2]}` : path.basename(root);
}

/** `.github/codex-pr-bot.yml` from the working tree (or an explicit file), validated like the app does. */
export async function loadLocalConfig(root: string, file: string | null): Promise<{ config: RepoConfig; source: string }> {
  const target = file ?? path.join(root, CONFIG_PATH);
  let text: string | null;
  try {
    text = await readFile(target, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || file !== null) throw err;
    text = null;
  }
  const source = file ?? CONFIG_PATH;
  return { config: parseRepoConfig(text, source), source: text === null ? "defaults" : source };
}

/** Tracked files with uncommitted changes (staged or not); untracked files are not listed. */
export async function dirtyFiles(root: string, signal?: AbortSignal): Promise<string[]> {
  const out = await git(["status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames"], { cwd: root, signal, maxOutputBytes: 16 * 1024 * 1024 });
  return out
    .split("\0")
    .filter((entry) => entry.length > 3)
    .map((entry) => entry.slice(3));
}
