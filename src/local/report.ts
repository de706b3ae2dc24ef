import type { ExecutorName } from "../config/schema.js";
import type { AgentFigures } from "../engine/agents.js";
import type { FixOutcome, FixSink, FixSpend } from "../engine/fix.js";
import type { ReviewRun, ReviewSink } from "../engine/review.js";
import type { Tree } from "../engine/source.js";
import type { UnparsedFile } from "../review/diff.js";
import type { FileChange } from "../fix/collect.js";
import type { Violation } from "../fix/policy.js";
import type { VerifyOutcome } from "../fix/verify.js";
import { placeFindings } from "../review/placement.js";
import { redactSecrets } from "../review/sanitize.js";
import type { CommandRun, DiffFile, Finding, PlacementResult, ReviewOutcome, Usage } from "../types.js";
import type { LocalRange } from "./repo.js";
import type { LocalCheckout } from "./source.js";

/**
 * The local sink: a run's result as one report object, which the doors render (format.ts: text,
 * JSON, SARIF, Markdown; the Action: job summary, outputs, annotations; MCP: the tool result).
 * Nothing here posts anywhere.
 */

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
  agents: AgentFigures[];
  /** Every finding of `outcome` → the agents that reported it. */
  foundBy: Map<Finding, ExecutorName[]>;
  /** An agent that did not finish, and that the review is from the other alone. */
  notes: string[];
  usage: Usage | null;
  model: string | null;
  durationMs: number;
}

/** The review as a report; `runId` is filled in by the caller once the run is finished. */
export function reviewReport(
  co: LocalCheckout,
  req: { mode: "review" | "audit"; uncommitted: boolean; agents: ExecutorName[] },
  started: number,
): ReviewSink<LocalReviewResult> {
  const base = ({ files, skipped, unparsed }: Pick<Tree, "files" | "skipped" | "unparsed">): LocalReviewResult => ({
    runId: null,
    repo: co.repo,
    range: co.range,
    uncommitted: req.uncommitted,
    mode: req.mode,
    configSource: co.configSource,
    files,
    skipped,
    unparsed,
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
  });
  return {
    nothingToReview: async (tree) => {
      const empty = base(tree);
      const explanation =
        tree.unparsed.length > 0
          ? "No changed file's diff could be read."
          : tree.skipped.length > 0
            ? "Every changed file is excluded by the path filters."
            : "There are no changes to review.";
      return { value: { ...empty, outcome: { ...empty.outcome, explanation }, durationMs: Date.now() - started }, findings: 0 };
    },
    publish: async ({ tree, combined, reviewable, relevant }: ReviewRun) => ({
      value: {
        ...base(tree),
        outcome: { ...combined.outcome, findings: relevant },
        placement: placeFindings(tree.files, relevant, { maxInline: Number.MAX_SAFE_INTEGER }),
        belowThreshold: reviewable.length - relevant.length,
        dropped: combined.dropped,
        agents: combined.agents,
        foundBy: combined.foundBy,
        notes: combined.notes,
        usage: combined.usage,
        model: combined.model,
        durationMs: Date.now() - started,
      },
      findings: relevant.length,
    }),
    failed: (err) => Promise.reject(err),
  };
}

/** changed: a patch to use; unchanged: the agent edited nothing; refused: the safety rules block it. */
export type FixStatus = "changed" | "unchanged" | "refused";

export interface LocalFixResult {
  /** The run in the run history; null when none was recorded (CODEX_PR_BOT_NO_HISTORY, or it failed). */
  runId: string | null;
  repo: string;
  range: LocalRange;
  mode: "fix" | "tests";
  agent: ExecutorName;
  configSource: string;
  status: FixStatus;
  /** What the agent changed (also for a refused change, so the user sees what was blocked). */
  changes: FileChange[];
  /** `git apply`-able patch against HEAD (binary files included); "" unless status is changed. */
  patch: string;
  violations: Violation[];
  /** The config's fix.verify run, null when there is none (or it was skipped). */
  verify: VerifyOutcome | null;
  /** The agent's closing summary. */
  agentMessage: string;
  commands: CommandRun[];
  usage: Usage;
  /** Claude's own estimate; Codex's from the price table (null for a model it does not know). */
  costUsd: number | null;
  model: string | null;
  durationMs: number;
  /** Things to tell the user: uncommitted changes left out, no base found. */
  warnings: string[];
}

/** The fix as a report with its patch; a refused change is reported, its patch withheld. */
export function fixReport(
  co: LocalCheckout,
  req: { mode: "fix" | "tests"; agent: ExecutorName; secrets: readonly string[]; warnings: string[] },
  started: number,
): FixSink<LocalFixResult> {
  const base = (spend: FixSpend, agentMessage: string) => ({
    runId: null,
    repo: co.repo,
    range: co.range,
    mode: req.mode,
    agent: req.agent,
    configSource: co.configSource,
    agentMessage: redactSecrets(agentMessage, req.secrets),
    commands: spend.commands,
    usage: spend.usage,
    costUsd: spend.costUsd,
    model: spend.model,
    warnings: req.warnings,
  });
  const deliver = async (outcome: FixOutcome, spend: FixSpend) => {
    const durationMs = Date.now() - started;
    switch (outcome.kind) {
      case "unchanged":
        return {
          value: { ...base(spend, outcome.agentMessage), status: "unchanged" as const, changes: [], patch: "", violations: [], verify: null, durationMs },
          result: { status: "succeeded" as const },
        };
      case "refused": {
        const rules = outcome.violations.map((v) => `${v.path}: ${v.reason}`).join("; ");
        return {
          value: { ...base(spend, outcome.agentMessage), status: "refused" as const, changes: outcome.changes, patch: "", violations: outcome.violations, verify: null, durationMs },
          result: { status: "failed" as const, error: `refused by the fix safety rules: ${rules}`.slice(0, 2000) },
        };
      }
      case "none":
        // Best of two is not offered locally (a fix is one agent's change): nothing reaches here.
        throw new Error("a local fix runs one agent");
      case "ready": {
        const { change } = outcome;
        const v = change.verify;
        const why = v && !v.passed ? (v.error ?? (v.timedOut ? "timed out" : `exit ${v.exitCode ?? "none"}`)) : null;
        return {
          value: { ...base(spend, change.agentMessage), status: "changed" as const, changes: change.changes, patch: change.patch, violations: [], verify: v, durationMs },
          result: v && why !== null ? { status: "failed" as const, error: `verification \`${v.command}\` failed (${why})` } : { status: "succeeded" as const },
        };
      }
    }
  };
  return {
    deliver,
    // Nothing is published locally: a git failure is the run's failure.
    publishFailed: (err) => Promise.reject(err),
  };
}
