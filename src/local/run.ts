import { severityToPriority, type ExecutorName, type Severity } from "../config/schema.js";
import { runFixPipeline, policyOf } from "../engine/fix.js";
import { runReviewPipeline } from "../engine/review.js";
import { CodexSandbox } from "../executors/sandbox.js";
import type { ReasoningEffort } from "../executors/types.js";
import { runVerifyCommand } from "../fix/verify.js";
import type { PromptFinding } from "../prompts/build.js";
import type { Progress } from "../types.js";
import { startLocalRun, tracked, type LocalRunSource, type Warn } from "./history.js";
import { checkAgents, knownSecrets, localAgents, localWording } from "./pick-agents.js";
import { fixReport, reviewReport, type LocalFixResult, type LocalReviewResult } from "./report.js";
import { dirtyFiles } from "./repo.js";
import type { LocalSettings } from "./settings.js";
import { changePrompt, checkoutSource, openCheckout, reviewPrompt, scratchSource } from "./source.js";

/**
 * The local doors' way into the engine: `codex-pr-bot review` / `fix`, the MCP tools `review_local`
 * and `fix_local`, and the GitHub Action all call these. Each opens the local source, picks the
 * agents this machine has set up, starts the run record and hands over to the one pipeline
 * (engine/review.ts, engine/fix.ts) with the report sink (report.ts). No GitHub, no queue.
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

const DEFAULT_MAX_DIFF = 8 * 1024 * 1024;

export async function reviewLocal(req: LocalReviewRequest): Promise<LocalReviewResult> {
  const started = Date.now();
  if (req.agents.length === 0) throw new Error("no agent to run");
  checkAgents(req.agents, req.settings);
  const co = await openCheckout(req.dir, req.base, req.configFile ?? null, req.signal);
  const { config, range } = co;
  // Recorded from here on: the checkout, config and range are known, so a run has something to show.
  const record = startLocalRun(
    req.settings.history,
    {
      source: req.source ?? "cli",
      repo: req.runInfo?.repo ?? co.repo,
      prNumber: req.runInfo?.prNumber ?? null,
      workdir: co.root,
      mode: req.mode,
      executors: req.agents,
      baseRef: range.baseRef,
      headRef: req.uncommitted ? `${range.headRef} + uncommitted changes` : range.headRef,
      baseSha: range.baseSha,
      headSha: range.headSha,
    },
    req.warn,
  );
  const result = await tracked(
    record,
    (run) =>
      runReviewPipeline(
        {
          mode: req.mode,
          source: checkoutSource(co, { uncommitted: req.uncommitted, maxBytes: req.maxDiffBytes ?? DEFAULT_MAX_DIFF, signal: req.signal }),
          prompt: (tree) => reviewPrompt(co, req.mode, tree, req.uncommitted, req.signal),
          pickAgents: () => ({
            agents: localAgents(req.agents, req.settings, config, { model: req.model, reasoningEffort: req.reasoningEffort }),
            unavailable: [],
          }),
          wording: localWording,
          minPriority: severityToPriority(req.minSeverity ?? config.review.min_severity),
          timeoutMs: config.codex.timeout_minutes * 60_000,
          signal: req.signal,
          run,
          onProgress: req.onProgress,
          onEvent: req.onEvent,
        },
        reviewReport(co, req, started),
      ),
    req.signal,
  );
  return { ...result, runId: record.id };
}

export interface LocalFixRequest {
  /** Any directory inside the checkout. */
  dir: string;
  /** Base ref for the context diff; null: upstream, origin's default, main or master, else HEAD. */
  base: string | null;
  mode: "fix" | "tests";
  agent: ExecutorName;
  settings: LocalSettings;
  /** What to do, in the user's words (required in fix mode unless findings are given). */
  instruction: string | null;
  /** Findings to fix, e.g. from a `review --format json` report. */
  findings?: PromptFinding[];
  /**
   * The patch will be applied to the checkout: refuse uncommitted changes to tracked files up front
   * (before any model time is spent), because `git apply` would then have to merge the two.
   */
  forApply: boolean;
  /** Explicit config file; null: `.github/codex-pr-bot.yml` in the checkout, if any. */
  configFile?: string | null;
  model?: string | null;
  /** Run the config's fix.verify command after the agent. Default true. */
  verify?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  onEvent?: (line: string) => void;
  /** Who asked, for the run history (default "cli"). */
  source?: LocalRunSource;
  /** Where history warnings go (default stderr). */
  warn?: Warn;
}

export class LocalFixError extends Error {
  override readonly name = "LocalFixError";
}

/** Local fix-ups are committed in the scratch worktree under this name; only the patch leaves it. */
const IDENTITY = { name: "codex-pr-bot", email: "codex-pr-bot@localhost" };

/**
 * One agent edits a scratch worktree at HEAD, with the change base...HEAD as context; the patch is
 * returned, never applied here (apply.ts is the caller's choice). Uncommitted changes are not part
 * of what the agent sees: it works on HEAD.
 */
export async function fixLocal(req: LocalFixRequest): Promise<LocalFixResult> {
  const started = Date.now();
  const findings = req.findings ?? [];
  const instruction = req.instruction?.trim() || null;
  if (req.mode === "fix" && instruction === null && findings.length === 0) {
    throw new LocalFixError("say what to fix: give an instruction (or findings from a review report)");
  }
  checkAgents([req.agent], req.settings);
  const co = await openCheckout(req.dir, req.base, req.configFile ?? null, req.signal, { fallbackToHead: true });
  const { config, range, root } = co;
  const warnings: string[] = [];
  if (range.baseRef === "HEAD" && req.base === null) {
    warnings.push("no base branch found (upstream, origin/HEAD, main, master): the agent gets no change as context; pass --base <ref> to give it one");
  }
  const dirty = await dirtyFiles(root, req.signal);
  if (dirty.length > 0) {
    const list = `${dirty.slice(0, 5).join(", ")}${dirty.length > 5 ? `, and ${dirty.length - 5} more` : ""}`;
    if (req.forApply) {
      throw new LocalFixError(
        `the working tree has uncommitted changes (${list}): commit or stash them before applying a fix, or leave out --apply to get a patch file`,
      );
    }
    warnings.push(`the agent worked on HEAD (${range.headSha.slice(0, 12)}); your uncommitted changes (${list}) were not part of it`);
  }
  const agents = localAgents([req.agent], req.settings, config, { model: req.model });
  const secrets = knownSecrets(req.settings);
  const record = startLocalRun(
    req.settings.history,
    {
      source: req.source ?? "cli",
      repo: co.repo,
      workdir: root,
      mode: req.mode,
      executors: [req.agent],
      baseRef: range.baseRef,
      headRef: range.headRef,
      baseSha: range.baseSha,
      headSha: range.headSha,
    },
    req.warn,
  );
  const verifyCommand = req.verify === false ? null : config.fix.verify;
  const result = await tracked(
    record,
    (run) =>
      runFixPipeline(
        {
          mode: req.mode,
          source: scratchSource(co, req.settings.stateDir, req.signal),
          prompt: (tree) => changePrompt(co, req.mode, tree, findings, instruction, req.signal),
          pickAgents: () => ({ agents, unavailable: [] }),
          secondTree: true,
          commit: { parent: range.headSha, message: `codex-pr-bot local ${req.mode}\n`, author: IDENTITY },
          policy: policyOf(config),
          secrets,
          // In codex's workspace-write sandbox, like the app's.
          verify:
            verifyCommand === null
              ? null
              : (dir) =>
                  runVerifyCommand(new CodexSandbox({ bin: req.settings.codex.bin, homesRoot: req.settings.codex.homesRoot }), {
                    dir,
                    command: verifyCommand,
                    timeoutMs: config.fix.verify_timeout_minutes * 60_000,
                    secrets,
                    signal: req.signal,
                  }),
          failureLine: (agent, err) => localWording.failure(agent, err),
          timeoutMs: config.codex.timeout_minutes * 60_000,
          signal: req.signal,
          run,
          onProgress: req.onProgress ? (p) => req.onProgress!(p) : undefined,
          onEvent: req.onEvent,
        },
        fixReport(co, { mode: req.mode, agent: req.agent, secrets, warnings }, started),
      ),
    req.signal,
  );
  return { ...result, runId: record.id };
}

export type { LocalFixResult, LocalReviewResult };
