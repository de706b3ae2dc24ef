import { WorkspaceError } from "../errors.js";
import { git } from "../workspace/git.js";

/**
 * Puts a fix's patch into the user's working tree. A plain `git apply` first: the patch was made
 * against HEAD, so on a clean tree it applies exactly, touches only the working tree and leaves the
 * index alone (new files come out untracked, like any `git apply`). When HEAD or the files moved on
 * while the agent worked, `git apply --3way` merges with the blobs the patch names (they are in the
 * repository: the scratch worktree shares its object store); that stages the result and may leave
 * conflict markers, which are reported.
 */

export interface ApplyOutcome {
  /** "clean": applied as is; "3way": merged, possibly with conflicts. */
  method: "clean" | "3way";
  /** Files left with conflict markers (3way only). */
  conflicts: string[];
}

export class PatchApplyError extends Error {
  override readonly name = "PatchApplyError";
}

export async function applyPatch(root: string, patch: string, signal?: AbortSignal): Promise<ApplyOutcome> {
  if (patch.trim() === "") throw new PatchApplyError("the patch is empty");
  const opts = { cwd: root, signal, input: patch };
  let clean = true;
  try {
    await git(["apply", "--check", "--whitespace=nowarn", "-"], opts);
  } catch (err) {
    if (!(err instanceof WorkspaceError)) throw err;
    clean = false;
  }
  if (clean) {
    await git(["apply", "--whitespace=nowarn", "-"], opts);
    return { method: "clean", conflicts: [] };
  }
  try {
    await git(["apply", "--3way", "--whitespace=nowarn", "-"], opts);
    return { method: "3way", conflicts: [] };
  } catch (err) {
    if (!(err instanceof WorkspaceError)) throw err;
    // Exit 1 with unmerged paths means "applied, with conflicts to resolve"; anything else did not apply.
    const conflicts = await unmergedPaths(root, signal);
    if (conflicts.length > 0) return { method: "3way", conflicts };
    throw new PatchApplyError(`the patch does not apply to the working tree: ${err.message.replace(/^git apply failed: /, "")}`);
  }
}

async function unmergedPaths(root: string, signal?: AbortSignal): Promise<string[]> {
  const out = await git(["diff", "--name-only", "-z", "--diff-filter=U"], { cwd: root, signal });
  return [...new Set(out.split("\0").filter((p) => p.length > 0))];
}
