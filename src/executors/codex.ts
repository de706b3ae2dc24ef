import { lstat, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Cancelled, ExecutorError, type AgentSpend } from "../errors.js";
import type { Mode, ReviewOutcome, Usage } from "../types.js";
import type { RunAs } from "../security/agent-user.js";
import { defaultJail } from "../jail/default.js";
import { JailError, type Jail } from "../jail/jail.js";
import { hardenCodexHome } from "../security/codex-home.js";
import { BASE_ENV_ALLOWLIST, buildEnv, SpawnError, type ExecResult } from "../util/exec.js";
import { CodexEventState, readableProviderMessage } from "./codex-events.js";
import { modelApiHost } from "./connection.js";
import { parseReviewOutput, reviewJsonSchema } from "./findings.js";
import { createCodexHome } from "./home.js";
import { RolloutUsage } from "./rollout.js";
import { ceilingMessage, isOverCeiling } from "./token-ceiling.js";
import type { AgentRunRequest, AgentRunResult, Executor } from "./types.js";
import { READ_ONLY_MODES, runAgentInJail } from "./jailed.js";
import { eventLineHandler } from "./stream.js";
import { errorLine, stderrWarnings, tail } from "./stderr.js";
import { isInside } from "../util/paths.js";

/**
 * Runs the pinned Codex CLI (`codex exec --json`, 0.169.0) on one worktree. Everything codex-specific
 * lives here: the argv, the environment it may see, how its JSONL stream and exit status turn into a
 * result or an ExecutorError. Facts behind each choice: shared/research/codex.md.
 */

export interface CodexSettings {
  /** Path of the codex binary. */
  bin: string;
  /** Where per-run CODEX_HOMEs are created; under the app's data dir, never the system temp dir. */
  homesRoot: string;
  /** Operator's CODEX_HOME whose config.toml and auth.json are copied into each run's home. */
  homeTemplate: string | null;
  /** Sent as CODEX_API_KEY (the key codex exec uses for the built-in OpenAI provider). */
  apiKey: string | null;
  /** Extra variable names operators allow through, e.g. a custom provider's env_key. */
  passEnv: string[];
  defaultModel: string | null;
  /** Extra `-c key=value` overrides from the operator's config (tests point codex at a mock with them). */
  configOverrides?: string[];
  /**
   * Run codex as this unprivileged OS user (AGENT_USER; the app must run as root). The read-only
   * sandbox does not stop reads: without this the agent can read the App's private key file.
   */
  runAs?: RunAs | null;
  /** Retries of an unreachable model API a run sits through before it stops (connection.ts; default 5). */
  connectRetries?: number;
  /** The jail every run starts in (jail/); without one, the jail the environment describes. */
  jail?: Jail;
}

const STRUCTURED_MODES: ReadonlySet<Mode> = new Set(["review", "audit"]);
const SCHEMA_FILE = "schema.json";
const LAST_MESSAGE_FILE = "last-message.txt";
const STDERR_TAIL = 1500;
/** Values shorter than this are not redacted: replacing "1" everywhere would garble messages. */
const MIN_SECRET_LENGTH = 6;

/** The codex argv for one run (without the binary). Exported for tests and for the run log. */
export function buildCodexArgs(options: {
  mode: Mode;
  worktree: string;
  home: string;
  model: string | null;
  reasoningEffort: string | null;
  configOverrides: readonly string[];
}): string[] {
  // No --ephemeral: the session rollout in the per-run CODEX_HOME (private, deleted after the run) is
  // the only place codex 0.169.0 reports usage while it runs (rollout.ts): the token ceiling and the
  // usage of a run that fails half-way come from it.
  const args = [
    "exec",
    "--json",
    "--skip-git-repo-check",
    "--color",
    "never",
    "--cd",
    options.worktree,
    "--sandbox",
    READ_ONLY_MODES.has(options.mode) ? "read-only" : "workspace-write",
  ];
  if (STRUCTURED_MODES.has(options.mode)) args.push("--output-schema", path.join(options.home, SCHEMA_FILE));
  args.push("-o", path.join(options.home, LAST_MESSAGE_FILE));
  if (options.model !== null) args.push("-m", options.model);
  if (options.reasoningEffort !== null) args.push("-c", `model_reasoning_effort="${options.reasoningEffort}"`);
  // Commands the agent runs inherit codex's environment, and 0.169.0 filters nothing by default
  // (ignore_default_excludes = true): CODEX_API_KEY would be one `env` away from a prompt-injected
  // agent. Drop *KEY*/*SECRET*/*TOKEN* names and the API key explicitly.
  args.push("-c", "shell_environment_policy.ignore_default_excludes=false");
  args.push("-c", `shell_environment_policy.exclude=["CODEX_API_KEY"]`);
  for (const override of options.configOverrides) args.push("-c", override);
  args.push("-"); // the prompt comes on stdin, which run() closes
  return args;
}

export class CodexExecutor implements Executor {
  readonly name = "codex" as const;

  constructor(private readonly settings: CodexSettings) {}

  async run(req: AgentRunRequest): Promise<AgentRunResult> {
    const started = Date.now();
    if (req.signal?.aborted) throw new Cancelled("the codex run was cancelled before it started");
    if (isInside(path.resolve(req.worktree), path.resolve(os.tmpdir()))) {
      throw new ExecutorError(
        `the worktree ${req.worktree} is inside the system temp dir, where codex cannot run sandboxed commands`,
        "spawn",
      );
    }
    const model = req.model ?? this.settings.defaultModel;
    const home = await createCodexHome({
      root: this.settings.homesRoot,
      jobId: `codex-${path.basename(req.worktree)}`,
      template: this.settings.homeTemplate,
    });
    try {
      await hardenCodexHome(home.dir); // e.g. the PR's AGENTS.md is not loaded as instructions
      if (STRUCTURED_MODES.has(req.mode)) {
        await writeFile(path.join(home.dir, SCHEMA_FILE), JSON.stringify(reviewJsonSchema(), null, 2), { mode: 0o600 });
      }
      const args = buildCodexArgs({
        mode: req.mode,
        worktree: req.worktree,
        home: home.dir,
        model,
        reasoningEffort: req.reasoningEffort,
        configOverrides: this.settings.configOverrides ?? [],
      });
      const runAs = this.settings.runAs ?? null;
      const jail = this.settings.jail ?? defaultJail();
      const env = buildEnv([...BASE_ENV_ALLOWLIST, ...this.settings.passEnv], {
        CODEX_HOME: home.dir,
        HOME: home.dir,
        CODEX_API_KEY: this.settings.apiKey ?? undefined,
      });

      const state = new CodexEventState({
        modelApi: modelApiHost(this.settings.homeTemplate, this.settings.configOverrides ?? []),
        maxRetries: this.settings.connectRetries,
      });
      const progressErrors: string[] = [];
      // The ceiling stops the process like the timeout does (its whole group, through run()'s signal).
      const ceiling = req.tokenCeiling ?? null;
      const budget = new AbortController();
      // Codex waits for an unreachable API for as long as the run may last: stop it after a few retries.
      state.connection.onGiveUp = () => budget.abort();
      let overCeiling: Usage | null = null;
      const rollout = new RolloutUsage(path.join(home.dir, "sessions"), {
        onUsage: (total) => {
          if (ceiling === null || overCeiling !== null || !isOverCeiling(total, ceiling)) return;
          overCeiling = total;
          budget.abort();
        },
      });
      rollout.start();
      let result: ExecResult;
      try {
        // fix/tests edit the worktree (workspace-write); codex's own sandbox still runs inside the jail.
        result = await runAgentInJail(jail, {
          bin: this.settings.bin,
          args,
          req,
          home: home.dir,
          homesRoot: this.settings.homesRoot,
          runAs,
          env,
          signal: req.signal ? AbortSignal.any([req.signal, budget.signal]) : budget.signal,
          onStdoutLine: eventLineHandler(state, req, progressErrors),
        });
      } catch (err) {
        if (err instanceof SpawnError || err instanceof JailError) throw new ExecutorError(err.message, "spawn");
        throw err;
      } finally {
        await rollout.stop();
      }

      const redact = this.redactor(env);
      const usedSoFar = state.turnCompleted ? state.usage : rollout.usage;
      const spent: AgentSpend | null = usedSoFar === null ? null : { usage: usedSoFar, costUsd: null, model };
      try {
        if (result.aborted && req.signal?.aborted) throw new Cancelled("the codex run was cancelled");
        // A run that finished its turn as the ceiling tripped is kept: its answer is already paid for.
        if (overCeiling !== null && ceiling !== null && !state.turnCompleted) {
          throw new ExecutorError(ceilingMessage(rollout.usage ?? overCeiling, ceiling), "budget");
        }
        if (overCeiling === null) this.throwOnFailure(result, state, req.timeoutMs, redact);

        // The agent can read the key's file of a template home; whatever it says is posted on the PR.
        const finalMessage = redact(await this.finalMessage(home.dir, state));
        let review: ReviewOutcome | null = null;
        let droppedFindings: AgentRunResult["droppedFindings"] = [];
        if (STRUCTURED_MODES.has(req.mode)) {
          const parsed = parseReviewOutput(finalMessage, req.worktree);
          review = parsed.review;
          droppedFindings = parsed.dropped;
        } else if (req.mode === "ask" && finalMessage.trim().length === 0) {
          throw new ExecutorError("codex finished without an answer (its final message was empty)", "invalid-output");
        }

        return {
          executor: "codex",
          finalMessage,
          review,
          droppedFindings,
          usage: state.usage,
          commands: state.commands,
          model,
          durationMs: Date.now() - started,
          warnings: [...state.warnings, ...stderrWarnings(result.stderr, /^warning\b/i), ...progressErrors].map(redact),
        };
      } catch (err) {
        throw err instanceof ExecutorError ? err.withSpent(spent) : err;
      }
    } finally {
      await home.dispose();
    }
  }

  /** Maps how the process ended to an ExecutorError or Cancelled; returns when the run succeeded. */
  private throwOnFailure(result: ExecResult, state: CodexEventState, timeoutMs: number, redact: (s: string) => string): void {
    const stderrTail = redact(tail(result.stderr, STDERR_TAIL));
    if (state.connection.gaveUp !== null) throw new ExecutorError(redact(state.connection.gaveUp), "exit", stderrTail);
    if (result.aborted) throw new Cancelled("the codex run was cancelled");
    if (result.timedOut) {
      throw new ExecutorError(`codex did not finish within ${formatDuration(timeoutMs)} and was stopped`, "timeout", stderrTail);
    }
    if (state.turnFailed !== null) {
      const message = redact(readableProviderMessage(state.turnFailed));
      if (state.rateLimited) {
        throw new ExecutorError(`the model provider is rate limiting requests: ${message}`, "rate-limit", message);
      }
      const unreachable = state.connection.failure(message);
      if (unreachable !== null) throw new ExecutorError(redact(unreachable), "turn-failed", message);
      throw new ExecutorError(`the model provider reported: ${message}`, "turn-failed", message);
    }
    if (result.exitCode !== 0) {
      const how = result.exitCode === null ? `was killed by ${result.signal ?? "a signal"}` : `exited with code ${result.exitCode}`;
      const reason = state.lastError !== null ? redact(readableProviderMessage(state.lastError)) : errorLine(stderrTail);
      if (state.rateLimited) {
        throw new ExecutorError(`the model provider is rate limiting requests: ${reason}`, "rate-limit", stderrTail);
      }
      const unreachable = state.connection.failure(errorLine(stderrTail) || null);
      if (unreachable !== null) throw new ExecutorError(redact(unreachable), "exit", stderrTail);
      throw new ExecutorError(`codex ${how}${reason ? `: ${reason}` : ""}`, "exit", stderrTail);
    }
    if (!state.turnCompleted) {
      throw new ExecutorError("codex exited without finishing its turn (no turn.completed event)", "exit", stderrTail);
    }
  }

  /** The -o file, or the last agent_message when codex left it empty. */
  private async finalMessage(home: string, state: CodexEventState): Promise<string> {
    // Under AGENT_USER the home belongs to the agent: never follow a link it planted there (we read as root).
    const file = path.join(home, LAST_MESSAGE_FILE);
    const isFile = (await lstat(file).catch(() => null))?.isFile() ?? false;
    const fromFile = isFile ? await readFile(file, "utf8").catch(() => "") : "";
    if (fromFile.trim().length > 0) return fromFile;
    return state.lastAgentMessage ?? "";
  }

  private redactor(env: Record<string, string>): (text: string) => string {
    const secrets = [this.settings.apiKey, ...this.settings.passEnv.map((name) => env[name])].filter(
      (value): value is string => typeof value === "string" && value.length >= MIN_SECRET_LENGTH,
    );
    return (text) => secrets.reduce((acc, secret) => acc.split(secret).join("[redacted]"), text);
  }
}

/** "20 min", "90 s", "1.5 s": the limit as operators configured it. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${ms} ms`;
}
