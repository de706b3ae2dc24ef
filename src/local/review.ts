import { filterPaths } from "../config/paths.js";
import { severityToPriority, type ExecutorName, type RepoConfig, type Severity } from "../config/schema.js";
import type { ReasoningEffort } from "../executors/types.js";
import { buildPrompt } from "../prompts/build.js";
import { parseDiff, type UnparsedFile } from "../review/diff.js";
import { placeFindings } from "../review/placement.js";
import type { RunResult } from "../store/runs.js";
import type { DiffFile, Finding, PlacementResult, Progress, ReviewOutcome, Usage } from "../types.js";
import { checkAgents, localAgents, runReviewAgents, type AgentReport } from "./agents.js";
import { recorded, startLocalRun, type LocalRunSource, type Warn } from "./history.js";
import { commitSubjects, loadLocalConfig, localDiff, repoName, repoRoot, resolveRange, type LocalRange } from "./repo.js";
import type { LocalSettings } from "./settings.js";

/**
 * The local review engine: the pipeline's pure parts (config, path filters, prompt, findings,
 * placement) around one codex and/or claude run, read-only, directly in the user's checkout. No
 * GitHub, no queue. Used by `codex-pr-bot review`, the MCP tool `review_local` and the GitHub Action.
 *
 * Both agents may share the checkout because neither can write in review or audit: codex runs in
 * its read-only sandbox, and claude gets Read/Grep/Glob plus `git diff|log|show|status` only, with
 * Edit/Write/NotebookEdit denied and every other tool refused by its dontAsk permission mode
 * (executors/claude.ts). `git status` may refresh git's index stat cache; that changes no content.
 */

export interface LocalReviewRequest {
  /** Any directory inside the checkout. */
  dir: string;
  /** Base ref; null: upstream, origin's default branch, main or master. */
  base: string | null;
  mode: "review" | "audit";
  /** Review the working tree (tracked files, staged or not) instead of HEAD. */
  uncommitted: boolean;
  /** Agents to run: [codex], [claude] or both (in parallel, findings merged). */
  agents: ExecutorName[];
  settings: LocalSettings;
  /** Explicit config file; null: `.github/codex-pr-bot.yml` in the checkout, if any. */
  configFile?: string | null;
  /** Overrides the config's review.min_severity. */
  minSeverity?: Severity | null;
  /** Model of the one agent; with two agents the config's codex.model / claude.model apply. */
  model?: string | null;
  reasoningEffort?: ReasoningEffort | null;
  /** Largest diff accepted. Default 8 MiB. */
  maxDiffBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress, agent: ExecutorName) => void;
  onEvent?: (line: string) => void;
  /** Who asked, for the run history (default "cli"); the Action also names the repository and PR. */
  source?: LocalRunSource;
  runInfo?: { repo?: string; prNumber?: number };
  /** Where history warnings go (default stderr). */
  warn?: Warn;
}

export interface LocalReviewResult {
  /** The run in the run history; null when none was recorded (CODEX_PR_BOT_NO_HISTORY, or it failed). */
  runId: string | null;
  repo: string;
  range: LocalRange;
  uncommitted: boolean;
  mode: "review" | "audit";
  configSource: string;
  /** Files reviewed (after the path filters) and those the config excludes. */
  files: DiffFile[];
  skipped: string[];
  /** Files whose diff could not be parsed: not reviewed; the posted review lists them with the reason. */
  unparsed: UnparsedFile[];
  /** Findings at or above the minimum severity, on reviewable files. */
  outcome: ReviewOutcome;
  /** Where each finding lands on the diff: inline = on changed lines. */
  placement: PlacementResult;
  belowThreshold: number;
  dropped: { title: string; reason: string }[];
  /** The agents that were asked, in order. */
  agentNames: ExecutorName[];
  /** What each agent did (empty when nothing needed reviewing). */
  agents: AgentReport[];
  /** Every finding of `outcome` → the agents that reported it. */
  foundBy: Map<Finding, ExecutorName[]>;
  /** An agent that did not finish, and that the review is from the other alone. */
  notes: string[];
  usage: Usage | null;
  model: string | null;
  durationMs: number;
}

const DEFAULT_MAX_DIFF = 8 * 1024 * 1024;

export async function reviewLocal(req: LocalReviewRequest): Promise<LocalReviewResult> {
  const started = Date.now();
  if (req.agents.length === 0) throw new Error("no agent to run");
  checkAgents(req.agents, req.settings);
  const root = await repoRoot(req.dir, req.signal);
  const { config, source } = await loadLocalConfig(root, req.configFile ?? null);
  const range = await resolveRange(root, req.base, req.signal);
  const repo = await repoName(root, req.signal);
  // Recorded from here on: the checkout, config and range are known, so a run has something to show.
  const record = startLocalRun(
    req.settings.history,
    {
      source: req.source ?? "cli",
      repo: req.runInfo?.repo ?? repo,
      prNumber: req.runInfo?.prNumber ?? null,
      workdir: root,
      mode: req.mode,
      executors: req.agents,
      baseRef: range.baseRef,
      headRef: req.uncommitted ? `${range.headRef} + uncommitted changes` : range.headRef,
      baseSha: range.baseSha,
      headSha: range.headSha,
    },
    req.warn,
  );
  const onEvent = (line: string): void => {
    record.event(line);
    req.onEvent?.(line);
  };
  const result = await recorded(record, () => review({ ...req, onEvent }, { root, config, source, range, repo, started }), reviewOutcome, req.signal);
  return { ...result, runId: record.id };
}

/** What the run history keeps of a finished review. */
function reviewOutcome(result: LocalReviewResult): RunResult {
  const costs = result.agents.map((a) => a.costUsd).filter((c): c is number => c !== null);
  return {
    status: "succeeded",
    findings: result.outcome.findings.length,
    usage: result.usage,
    costUsd: costs.length > 0 ? costs.reduce((a, b) => a + b, 0) : null,
  };
}

/** What reviewLocal resolved before the run was recorded. */
interface Prepared {
  root: string;
  config: RepoConfig;
  source: string;
  range: LocalRange;
  repo: string;
  started: number;
}

async function review(req: LocalReviewRequest, { root, config, source, range, repo, started }: Prepared): Promise<LocalReviewResult> {
  const diff = await localDiff(range, { uncommitted: req.uncommitted, maxBytes: req.maxDiffBytes ?? DEFAULT_MAX_DIFF, signal: req.signal });
  const parsed = parseDiff(diff);
  const filtered = filterPaths(parsed.files, config.paths);
  const unparsed = filterPaths(parsed.unparsed, config.paths);
  const files = filtered.kept;
  const skipped = [...filtered.skipped, ...unparsed.skipped].map((s) => s.path);
  const base: LocalReviewResult = {
    runId: null,
    repo,
    range,
    uncommitted: req.uncommitted,
    mode: req.mode,
    configSource: source,
    files,
    skipped,
    unparsed: unparsed.kept,
    outcome: { findings: [], verdict: "patch is correct", explanation: "", confidence: 1 },
    placement: { inline: [], outside: [] },
    belowThreshold: 0,
    dropped: [],
    agentNames: req.agents,
    agents: [],
    foundBy: new Map(),
    notes: [],
    usage: null,
    model: null,
    durationMs: 0,
  };
  if (files.length === 0) {
    const explanation =
      unparsed.kept.length > 0 ? "No changed file's diff could be read." : skipped.length > 0 ? "Every changed file is excluded by the path filters." : "There are no changes to review.";
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
  const agents = localAgents(req.agents, req.settings, config, { model: req.model, reasoningEffort: req.reasoningEffort });
  const combined = await runReviewAgents(
    agents,
    {
      worktree: root,
      mode: req.mode,
      prompt,
      timeoutMs: config.codex.timeout_minutes * 60_000,
      signal: req.signal,
      onEvent: req.onEvent,
    },
    req.onProgress,
  );
  const outcome = combined.outcome;

  const ignored = new Set(skipped);
  const minPriority = severityToPriority(req.minSeverity ?? config.review.min_severity);
  const reviewable = outcome.findings.filter((f) => !ignored.has(f.path));
  const relevant = reviewable.filter((f) => f.priority <= minPriority);
  return {
    ...base,
    outcome: { ...outcome, findings: relevant },
    placement: placeFindings(files, relevant, { maxInline: Number.MAX_SAFE_INTEGER }),
    belowThreshold: reviewable.length - relevant.length,
    dropped: combined.dropped,
    agents: combined.agents,
    foundBy: combined.foundBy,
    notes: combined.notes,
    usage: combined.usage,
    model: combined.model,
    durationMs: Date.now() - started,
  };
}
