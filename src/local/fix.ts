import { filterPaths } from "../config/paths.js";
import type { ExecutorName, RepoConfig } from "../config/schema.js";
import { CodexSandbox } from "../executors/sandbox.js";
import type { VerifyOutcome } from "../fix/body.js";
import type { FileChange } from "../fix/collect.js";
import { runVerifyCommand } from "../fix/verify.js";
import { checkChanges, secretViolations, type FixPolicy, type Violation } from "../fix/policy.js";
import { buildChangePrompt, type PromptFinding } from "../prompts/build.js";
import { parseUnifiedDiff } from "../review/diff.js";
import { redactSecrets } from "../review/sanitize.js";
import type { CommandRun, Progress, Usage } from "../types.js";
import { commitWorktree, listChanges, patchBetween } from "../workspace/commit.js";
import type { RunResult } from "../store/runs.js";
import { checkAgents, costFor, knownSecrets, localAgents } from "./agents.js";
import { recorded, startLocalRun, type LocalRunSource, type Warn } from "./history.js";
import { commitSubjects, dirtyFiles, loadLocalConfig, localDiff, repoName, repoRoot, resolveRange, type LocalRange } from "./repo.js";
import { createScratch, type Scratch } from "./scratch.js";
import type { LocalSettings } from "./settings.js";

/**
 * The local fix engine behind `codex-pr-bot fix` and the MCP tool `fix_local`: one agent edits a
 * scratch worktree at HEAD (scratch.ts) with the app's fix/tests prompt and the change base...HEAD as
 * context; its edits are committed there, listed, checked against the app's safety rules
 * (fix/policy.ts), optionally verified with the config's `fix.verify`, and returned as a patch. The
 * user's checkout is only read. Applying the patch is the caller's choice (apply.ts).
 *
 * Uncommitted changes are not part of what the agent sees: it works on HEAD. Callers that will
 * apply the patch pass `forApply`, which refuses a working tree with uncommitted changes to tracked
 * files up front (before any model time is spent), because `git apply` would then have to merge
 * the two.
 */

export type FixMode = "fix" | "tests";

export interface LocalFixRequest {
  /** Any directory inside the checkout. */
  dir: string;
  /** Base ref for the context diff; null: upstream, origin's default, main or master, else HEAD. */
  base: string | null;
  mode: FixMode;
  agent: ExecutorName;
  settings: LocalSettings;
  /** What to do, in the user's words (required in fix mode unless findings are given). */
  instruction: string | null;
  /** Findings to fix, e.g. from a `review --format json` report. */
  findings?: PromptFinding[];
  /** The patch will be applied to the checkout: refuse uncommitted changes to tracked files. */
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

/** changed: a patch to use; unchanged: the agent edited nothing; refused: the safety rules block it. */
export type FixStatus = "changed" | "unchanged" | "refused";

export interface LocalFixResult {
  /** The run in the run history; null when none was recorded (CODEX_PR_BOT_NO_HISTORY, or it failed). */
  runId: string | null;
  repo: string;
  range: LocalRange;
  mode: FixMode;
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

export class LocalFixError extends Error {
  override readonly name = "LocalFixError";
}

const IDENTITY = { name: "codex-pr-bot", email: "codex-pr-bot@localhost" };

function policyOf(config: RepoConfig): FixPolicy {
  return {
    allowWorkflowChanges: config.fix.allow_workflow_changes,
    allowBinaries: config.fix.allow_binaries,
    maxFileBytes: config.fix.max_file_bytes,
  };
}

export async function fixLocal(req: LocalFixRequest): Promise<LocalFixResult> {
  const started = Date.now();
  const findings = req.findings ?? [];
  const instruction = req.instruction?.trim() || null;
  if (req.mode === "fix" && instruction === null && findings.length === 0) {
    throw new LocalFixError("say what to fix: give an instruction (or findings from a review report)");
  }
  checkAgents([req.agent], req.settings);
  const root = await repoRoot(req.dir, req.signal);
  const { config, source } = await loadLocalConfig(root, req.configFile ?? null);
  const range = await resolveRange(root, req.base, req.signal, { fallbackToHead: true });
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

  const diff = await localDiff(range, { uncommitted: false, maxBytes: 8 * 1024 * 1024, signal: req.signal });
  const filtered = filterPaths(parseUnifiedDiff(diff), config.paths);
  const subjects = await commitSubjects(range, req.signal);
  const repo = await repoName(root, req.signal);
  const prompt = buildChangePrompt({
    mode: req.mode,
    repo,
    baseRef: range.baseRef,
    baseSha: range.baseSha,
    headRef: range.headRef,
    headSha: range.headSha,
    changedFiles: filtered.kept.map((f) => ({ path: f.path, status: f.status })),
    skippedFiles: filtered.skipped.map((s) => s.path),
    instructions: `${config.review.instructions}\n\nThis is a local run on a developer's machine: your changes are handed to the developer as a patch against ${range.headSha}, not as a pull request.`.trim(),
    prTitle: subjects[0] ?? `Local changes on ${range.headRef}`,
    prBody: subjects.length > 1 ? subjects.map((s) => `- ${s}`).join("\n") : "",
    findings,
    request: instruction,
  });

  const [agent] = localAgents([req.agent], req.settings, config, { model: req.model });
  const secrets = knownSecrets(req.settings);
  const record = startLocalRun(
    req.settings.history,
    {
      source: req.source ?? "cli",
      repo,
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
  const work = async (): Promise<LocalFixResult> => {
    const scratch = await createScratch(root, req.settings.stateDir, range.headSha, req.signal);
    try {
      const run = await agent!.executor.run({
        worktree: scratch.dir,
        mode: req.mode,
        prompt,
        ...agent!.request,
        timeoutMs: config.codex.timeout_minutes * 60_000,
        signal: req.signal,
        onProgress: req.onProgress,
        onEvent: (line) => {
          record.event(line);
          req.onEvent?.(line);
        },
      });
      const base = {
        runId: record.id,
        repo,
        range,
        mode: req.mode,
        agent: req.agent,
        configSource: source,
        agentMessage: redactSecrets(run.finalMessage, secrets),
        commands: run.commands,
        usage: run.usage,
        costUsd: costFor(run),
        model: run.model,
        warnings,
      };
      const snap = await snapshot(scratch, range.headSha, req.mode, req.signal);
      if (snap === null) {
        return { ...base, status: "unchanged", changes: [], patch: "", violations: [], verify: null, durationMs: Date.now() - started };
      }
      const violations = [...checkChanges(snap.changes, policyOf(config)), ...secretViolations(parseUnifiedDiff(snap.patch), secrets)];
      if (violations.length > 0) {
        return { ...base, status: "refused", changes: snap.changes, patch: "", violations, verify: null, durationMs: Date.now() - started };
      }
      const verify =
        config.fix.verify !== null && req.verify !== false
          ? await runVerify(req.settings, scratch.dir, config.fix.verify, config.fix.verify_timeout_minutes * 60_000, secrets, req.signal)
          : null;
      // Only a patch that passed the safety rules is kept: a refused one may hold a secret.
      record.diff(snap.patch);
      return { ...base, status: "changed", changes: snap.changes, patch: snap.patch, violations: [], verify, durationMs: Date.now() - started };
    } finally {
      await scratch.dispose();
    }
  };
  return recorded(record, work, fixOutcome, req.signal);
}

/** What the run history keeps of a finished fix; where its patch goes is recorded by the caller (recordPatchOutput). */
function fixOutcome(result: LocalFixResult): RunResult {
  const spent = { usage: result.usage, costUsd: result.costUsd };
  if (result.status === "refused") {
    const rules = result.violations.map((v) => `${v.path}: ${v.reason}`).join("; ");
    return { status: "failed", error: `refused by the fix safety rules: ${rules}`.slice(0, 2000), ...spent };
  }
  if (result.verify !== null && !result.verify.passed) {
    const v = result.verify;
    const why = v.error ?? (v.timedOut ? "timed out" : `exit ${v.exitCode ?? "none"}`);
    return { status: "failed", error: `verification \`${v.command}\` failed (${why})`, ...spent };
  }
  return { status: "succeeded", ...spent };
}

/** The agent's edits as a commit on HEAD (never on a ref), what changed and the patch; null when nothing did. */
async function snapshot(scratch: Scratch, head: string, mode: FixMode, signal?: AbortSignal) {
  const commit = await commitWorktree(scratch.git, { parent: head, message: `codex-pr-bot local ${mode}\n`, author: IDENTITY, signal });
  if (commit === null) return null;
  const changes = await listChanges(scratch.git, head, commit, signal);
  if (changes.length === 0) return null;
  const patch = await patchBetween(scratch.git, head, commit, signal);
  return { changes, patch };
}

/** `fix.verify` in the scratch worktree, in codex's workspace-write sandbox like the app; never throws but on cancel. */
async function runVerify(
  settings: LocalSettings,
  dir: string,
  command: string,
  timeoutMs: number,
  secrets: readonly string[],
  signal?: AbortSignal,
): Promise<VerifyOutcome> {
  const sandbox = new CodexSandbox({ bin: settings.codex.bin, homesRoot: settings.codex.homesRoot });
  return runVerifyCommand(sandbox, { dir, command, timeoutMs, secrets, signal });
}
