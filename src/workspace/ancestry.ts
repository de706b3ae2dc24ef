import { WorkspaceError } from "../errors.js";
import type { WorktreeGit } from "./commit.js";
import { git, type GitOptions } from "./git.js";
import { checkSha } from "./naming.js";

/**
 * Questions about commit history an incremental review asks before it narrows the range: is the
 * head reviewed last still part of the branch, and where does the branch leave its base. Asked of
 * the mirror (the worktree's own `.git` is the agent's), with full SHAs only.
 */

function inMirror(g: WorktreeGit, extra: Partial<GitOptions> = {}): GitOptions {
  return { ...g.ctx, ...extra, cwd: g.mirrorDir, gitDir: g.mirrorDir };
}

/** The merge base of two commits, or null when there is none or either is not in the mirror. */
export async function mergeBase(g: WorktreeGit, a: string, b: string): Promise<string | null> {
  try {
    checkSha(a, "a compared");
    checkSha(b, "a compared");
    const out = (await git(["merge-base", a, b], inMirror(g))).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch (err) {
    // Exit 1 (no common ancestor) and 128 (an unknown commit: gone after a force-push) alike.
    if (err instanceof WorkspaceError) return null;
    throw err;
  }
}

/** Whether `ancestor` is in `descendant`'s history (false when either is unknown to the mirror). */
export async function isAncestor(g: WorktreeGit, ancestor: string, descendant: string): Promise<boolean> {
  return (await mergeBase(g, ancestor, descendant)) === ancestor;
}

/** Paths `from..to` changes (head-side names; renames as delete + add), for the prompt's file list. */
export async function changedPaths(g: WorktreeGit, from: string, to: string): Promise<{ path: string; status: string }[]> {
  checkSha(from, "the last reviewed");
  checkSha(to, "the head");
  const out = await git(["diff", "--no-color", "--no-ext-diff", "--no-renames", "--name-status", "-z", `${from}..${to}`, "--"], inMirror(g));
  const parts = out.split("\0").filter((p) => p.length > 0);
  const files: { path: string; status: string }[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const code = parts[i]!.charAt(0);
    files.push({ path: parts[i + 1]!, status: code === "A" ? "added" : code === "D" ? "deleted" : "modified" });
  }
  return files;
}
