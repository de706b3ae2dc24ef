import type { UnparsedFile } from "../review/diff.js";
import type { DiffFile } from "../types.js";
import type { WorktreeGit } from "../workspace/commit.js";

/**
 * What a pipeline looks at, whichever door it came from: a pull request checked out in the
 * workspace pool (jobs/pull-source.ts), or the user's own checkout (local/source.ts). The pipeline
 * never asks where a tree came from; it runs agents in it and reads its diff.
 */
export interface Tree {
  /** The agent's working directory. */
  dir: string;
  /** Files in the change that the config lets the agent review. */
  files: DiffFile[];
  /** Paths left out by the config's include/ignore globs. */
  skipped: string[];
  /** Paths left out because the change is over the size limits (most important first). */
  overLimit: { path: string; reason: "max-files" | "max-bytes" }[];
  /** Files the config would review whose diff could not be parsed: not reviewed, reported with the reason. */
  unparsed: UnparsedFile[];
  release(): Promise<void>;
}

/** A tree an agent may edit: fix and tests commit the agent's edits in it, never on a ref. */
export interface WritableTree extends Tree {
  git: WorktreeGit;
}

export interface Source<T extends Tree = Tree> {
  /** The tree the first agent runs in. */
  open(): Promise<T>;
  /**
   * A tree at the same commit for another agent, taken while `open`'s is held. Review agents are
   * read-only, so a review source may hand the same directory again; fix agents each get their own.
   */
  another(): Promise<T>;
}

/** Paths the agent was not shown: excluded by the config, then over the size limits. */
export function leftOut(tree: Tree): string[] {
  return [...tree.skipped, ...tree.overLimit.map((o) => o.path)];
}
