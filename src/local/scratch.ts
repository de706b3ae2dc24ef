import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { WorkspaceError } from "../errors.js";
import type { WorktreeGit } from "../workspace/commit.js";
import { git } from "../workspace/git.js";
import { checkSha } from "../workspace/naming.js";

/**
 * A throwaway worktree of the user's own repository for `codex-pr-bot fix`: the agent edits there,
 * never in the user's checkout, so a run that goes wrong (or is refused by the safety rules) leaves
 * the user's files untouched. It lives under the local state dir (never /tmp, where codex cannot
 * sandbox) and shares the repository's object store, so it costs no clone. The only traces left in
 * the repository are the blobs, trees and the unreferenced commit of the agent's change, which
 * `git gc` prunes like any other unreachable object.
 */

export interface Scratch {
  dir: string;
  /** Git access in the shape workspace/commit.ts works with (the repository plays the mirror). */
  git: WorktreeGit;
  /** Removes the worktree and its registration. Safe to call more than once; never throws. */
  dispose(): Promise<void>;
}

/** The repository's shared git directory (`.git` of the main checkout, also from a linked worktree). */
async function commonDir(root: string, signal?: AbortSignal): Promise<string> {
  const out = (await git(["rev-parse", "--git-common-dir"], { cwd: root, signal })).trim();
  return path.resolve(root, out);
}

async function readGitLink(dir: string): Promise<string> {
  const text = await readFile(path.join(dir, ".git"), "utf8");
  const match = /^gitdir: (.+)\n?$/.exec(text);
  if (!match?.[1]) throw new WorkspaceError(`${dir}/.git is not a worktree link`);
  return path.resolve(dir, match[1]);
}

export async function createScratch(root: string, stateDir: string, sha: string, signal?: AbortSignal): Promise<Scratch> {
  const parent = path.join(stateDir, "worktrees");
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const name = `${path.basename(root).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "repo"}-${randomBytes(4).toString("hex")}`;
  const dir = path.join(parent, name);
  const mirrorDir = await commonDir(root, signal);
  // Hooks are off (workspace/git.ts hardening), so no post-checkout hook of the repository runs here.
  await git(["worktree", "add", "--quiet", "--detach", dir, checkSha(sha, "head")], { cwd: root, signal });
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    // Not tied to the run's signal: a cancelled run must still clean up.
    await git(["worktree", "remove", "--force", "--force", dir], { cwd: root }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    await git(["worktree", "prune"], { cwd: root }).catch(() => undefined);
  };
  try {
    const adminDir = await readGitLink(dir);
    return {
      dir,
      git: { mirrorDir, worktree: { dir, adminDir }, ctx: signal ? { signal } : {}, locked: (fn) => fn() },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
