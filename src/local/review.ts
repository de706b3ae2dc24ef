import { filterPaths } from "../config/paths.js";
import { severityToPriority, type Severity } from "../config/schema.js";
import type { Executor, ReasoningEffort } from "../executors/types.js";
import { buildPrompt } from "../prompts/build.js";
import { parseUnifiedDiff } from "../review/diff.js";
import { placeFindings } from "../review/placement.js";
import type { DiffFile, PlacementResult, Progress, ReviewOutcome, Usage } from "../types.js";
import { commitSubjects, loadLocalConfig, localDiff, repoName, repoRoot, resolveRange, type LocalRange } from "./repo.js";

/**
 * The local review engine: the pipeline's pure parts (config, path filters, prompt, findings,
 * placement) around one codex run, read-only, directly in the user's checkout. No GitHub, no queue.
 * Used by `codex-pr-bot review`, the MCP tool `review_local` and the GitHub Action.
 */

export interface LocalReviewRequest {
  /** Any directory inside the checkout. */
  dir: string;
  /** Base ref; null: upstream, origin's default branch, main or master. */
  base: string | null;
  mode: "review" | "audit";
  /** Review the working tree (tracked files, staged or not) instead of HEAD. */
  uncommitted: boolean;
  executor: Executor;
  /** Explicit config file; null: `.github/codex-pr-bot.yml` in the checkout, if any. */
  configFile?: string | null;
  /** Overrides the config's review.min_severity. */
  minSeverity?: Severity | null;
  model?: string | null;
  reasoningEffort?: ReasoningEffort | null;
  /** Largest diff accepted. Default 8 MiB. */
  maxDiffBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  onEvent?: (line: string) => void;
}

export interface LocalReviewResult {
  repo: string;
  range: LocalRange;
  uncommitted: boolean;
  mode: "review" | "audit";
  configSource: string;
  /** Files reviewed (after the path filters) and those the config excludes. */
  files: DiffFile[];
  skipped: string[];
  /** Findings at or above the minimum severity, on reviewable files. */
  outcome: ReviewOutcome;
  /** Where each finding lands on the diff: inline = on changed lines. */
  placement: PlacementResult;
  belowThreshold: number;
  dropped: { title: string; reason: string }[];
  usage: Usage | null;
  model: string | null;
  durationMs: number;
}

const DEFAULT_MAX_DIFF = 8 * 1024 * 1024;

export async function reviewLocal(req: LocalReviewRequest): Promise<LocalReviewResult> {
  const started = Date.now();
  const root = await repoRoot(req.dir, req.signal);
  const { config, source } = await loadLocalConfig(root, req.configFile ?? null);
  const range = await resolveRange(root, req.base, req.signal);
  const diff = await localDiff(range, { uncommitted: req.uncommitted, maxBytes: req.maxDiffBytes ?? DEFAULT_MAX_DIFF, signal: req.signal });
  const filtered = filterPaths(parseUnifiedDiff(diff), config.paths);
  const files = filtered.kept;
  const skipped = filtered.skipped.map((s) => s.path);
  const repo = await repoName(root, req.signal);
  const base: LocalReviewResult = {
    repo,
    range,
    uncommitted: req.uncommitted,
    mode: req.mode,
    configSource: source,
    files,
    skipped,
    outcome: { findings: [], verdict: "patch is correct", explanation: "", confidence: 1 },
    placement: { inline: [], outside: [] },
    belowThreshold: 0,
    dropped: [],
    usage: null,
    model: null,
    durationMs: 0,
  };
  if (files.length === 0) {
    const explanation = skipped.length > 0 ? "Every changed file is excluded by the path filters." : "There are no changes to review.";
    return { ...base, outcome: { ...base.outcome, explanation }, durationMs: Date.now() - started };
  }

  const subjects = await commitSubjects(range, req.signal);
  const extra = req.uncommitted
    ? `\n\nThis is a local review that includes uncommitted changes: the change to review is the working tree against ${range.baseSha}; run \`git diff ${range.baseSha}\` (two arguments are not enough: no head commit) to see all of it.`
    : "";
  const prompt = buildPrompt({
    mode: req.mode,
    repo,
    baseRef: range.baseRef,
    baseSha: range.baseSha,
    headRef: range.headRef,
    headSha: range.headSha,
    changedFiles: files.map((f) => ({ path: f.path, status: f.status })),
    skippedFiles: skipped,
    instructions: config.review.instructions + extra,
    prTitle: subjects[0] ?? `Local changes on ${range.headRef}`,
    prBody: subjects.length > 1 ? subjects.map((s) => `- ${s}`).join("\n") : "",
    question: null,
  });
  const result = await req.executor.run({
    worktree: root,
    mode: req.mode,
    prompt,
    model: req.model ?? config.codex.model,
    reasoningEffort: req.reasoningEffort ?? config.codex.reasoning_effort,
    timeoutMs: config.codex.timeout_minutes * 60_000,
    signal: req.signal,
    onProgress: req.onProgress,
    onEvent: req.onEvent,
  });
  const outcome = result.review;
  if (!outcome) throw new Error("the executor returned no review for a review run");

  const ignored = new Set(skipped);
  const minPriority = severityToPriority(req.minSeverity ?? config.review.min_severity);
  const reviewable = outcome.findings.filter((f) => !ignored.has(f.path));
  const relevant = reviewable.filter((f) => f.priority <= minPriority);
  return {
    ...base,
    outcome: { ...outcome, findings: relevant },
    placement: placeFindings(files, relevant, { maxInline: Number.MAX_SAFE_INTEGER }),
    belowThreshold: reviewable.length - relevant.length,
    dropped: result.droppedFindings,
    usage: result.usage,
    model: result.model,
    durationMs: Date.now() - started,
  };
}
