import { filterPaths } from "../config/paths.js";
import type { RepoConfig } from "../config/schema.js";
import type { Source, Tree, WritableTree } from "../engine/source.js";
import { leftOut } from "../engine/source.js";
import { buildChangePrompt, buildPrompt, type PromptFinding } from "../prompts/build.js";
import { parseDiff, type UnparsedFile } from "../review/diff.js";
import type { DiffFile } from "../types.js";
import { commitSubjects, loadLocalConfig, localDiff, repoName, repoRoot, resolveRange, type LocalRange } from "./repo.js";
import { createScratch } from "./scratch.js";

/**
 * The local source: the user's own checkout and a range in it (base...HEAD, or the working tree).
 * Reviews read the checkout itself, every agent the same directory (they are read-only: codex in its
 * read-only sandbox, claude with Read/Grep/Glob and read-only git, see executors/claude.ts; `git
 * status` may refresh git's index stat cache, which changes no content). Fixes edit scratch
 * worktrees at HEAD (scratch.ts), never the checkout.
 */

export interface LocalCheckout {
  root: string;
  config: RepoConfig;
  /** Where the config came from, for reports. */
  configSource: string;
  range: LocalRange;
  /** owner/name from the origin remote, or the directory's name. */
  repo: string;
}

export async function openCheckout(
  dir: string,
  base: string | null,
  configFile: string | null,
  signal?: AbortSignal,
  opts: { fallbackToHead?: boolean } = {},
): Promise<LocalCheckout> {
  const root = await repoRoot(dir, signal);
  const { config, source } = await loadLocalConfig(root, configFile);
  const range = await resolveRange(root, base, signal, opts);
  const repo = await repoName(root, signal);
  return { root, config, configSource: source, range, repo };
}

/** The range's changed files, after the config's path filters. */
async function changedFiles(co: LocalCheckout, opts: { uncommitted: boolean; maxBytes: number; signal?: AbortSignal }) {
  const parsed = parseDiff(await localDiff(co.range, opts));
  const filtered = filterPaths(parsed.files, co.config.paths);
  const unparsed = filterPaths(parsed.unparsed, co.config.paths);
  return { files: filtered.kept, skipped: [...filtered.skipped, ...unparsed.skipped].map((s) => s.path), unparsed: unparsed.kept };
}

/** The checkout itself, read-only: every review agent gets the same directory. */
export function checkoutSource(co: LocalCheckout, opts: { uncommitted: boolean; maxBytes: number; signal?: AbortSignal }): Source {
  let tree: Tree | null = null;
  return {
    open: async () => (tree = { dir: co.root, ...(await changedFiles(co, opts)), overLimit: [], release: async () => undefined }),
    another: async () => tree!,
  };
}

/** A scratch worktree at HEAD for each fix agent; the range's change is the agent's context. */
export function scratchSource(co: LocalCheckout, stateDir: string, signal?: AbortSignal): Source<WritableTree> {
  let context: { files: DiffFile[]; skipped: string[]; unparsed: UnparsedFile[] } | null = null;
  const scratch = async (): Promise<WritableTree> => {
    context ??= await changedFiles(co, { uncommitted: false, maxBytes: 8 * 1024 * 1024, signal });
    const s = await createScratch(co.root, stateDir, co.range.headSha, signal);
    return { dir: s.dir, git: s.git, ...context, overLimit: [], release: () => s.dispose() };
  };
  return { open: scratch, another: scratch };
}

/** The range's side of every prompt: commit subjects stand in for a pull request's title and body. */
async function rangeContext(co: LocalCheckout, tree: Tree, instructions: string, signal?: AbortSignal) {
  const { range } = co;
  const subjects = await commitSubjects(range, signal);
  return {
    repo: co.repo,
    baseRef: range.baseRef,
    baseSha: range.baseSha,
    headRef: range.headRef,
    headSha: range.headSha,
    changedFiles: tree.files.map((f) => ({ path: f.path, status: f.status })),
    skippedFiles: leftOut(tree),
    instructions,
    prTitle: subjects[0] ?? `Local changes on ${range.headRef}`,
    prBody: subjects.length > 1 ? subjects.map((s) => `- ${s}`).join("\n") : "",
  };
}

/** Review or audit of the range (with the working tree when `uncommitted`). */
export async function reviewPrompt(co: LocalCheckout, mode: "review" | "audit", tree: Tree, uncommitted: boolean, signal?: AbortSignal): Promise<string> {
  const extra = uncommitted
    ? `\n\nThis is a local review that includes uncommitted changes: the change to review is the working tree against ${co.range.baseSha}; run \`git diff ${co.range.baseSha}\` (two arguments are not enough: no head commit) to see all of it.`
    : "";
  return buildPrompt({ mode, ...(await rangeContext(co, tree, co.config.review.instructions + extra, signal)), question: null });
}

/** Fix or tests on HEAD, handed back as a patch. */
export async function changePrompt(
  co: LocalCheckout,
  mode: "fix" | "tests",
  tree: Tree,
  findings: PromptFinding[],
  request: string | null,
  signal?: AbortSignal,
): Promise<string> {
  const instructions = `${co.config.review.instructions}\n\nThis is a local run on a developer's machine: your changes are handed to the developer as a patch against ${co.range.headSha}, not as a pull request.`.trim();
  return buildChangePrompt({ mode, ...(await rangeContext(co, tree, instructions, signal)), findings, request });
}
