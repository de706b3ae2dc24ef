import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import { Cancelled, ExecutorError, type AgentSpend } from "../errors.js";
import type { Mode, ReviewOutcome } from "../types.js";
import type { RunAs } from "../security/agent-user.js";
import { defaultJail } from "../jail/default.js";
import { JailError, type Jail } from "../jail/jail.js";
import { BASE_ENV_ALLOWLIST, buildEnv, SpawnError, type ExecResult } from "../util/exec.js";
import { ClaudeEventState, type ClaudeResult } from "./claude-events.js";
import { formatDuration } from "./codex.js";
import { parseReviewOutput, reviewJsonSchema } from "./findings.js";
import { createCodexHome } from "./home.js";
import type { AgentRunRequest, AgentRunResult, Executor, ReasoningEffort } from "./types.js";
import { READ_ONLY_MODES, runAgentInJail } from "./jailed.js";
import { eventLineHandler } from "./stream.js";
import { errorLine, stderrWarnings, tail } from "./stderr.js";

/**
 * Runs the pinned Claude Code CLI (`claude -p`, @anthropic-ai/claude-code 2.1.197) on one worktree.
 * Everything claude-specific lives here: the argv, the environment it may see, how its stream-json
 * output and exit status turn into a result or an ExecutorError. Facts behind each choice:
 * shared/research/claude.md, and the tests in test/unit/executors/claude.test.ts, which check each
 * of them against the real binary.
 *
 * Trust: the worktree is the pull request's head, so everything in it is attacker-controlled.
 * `--setting-sources ""` makes the CLI load no settings file at all (no user/project/local
 * settings.json, hence no hooks, permission rules or env from `.claude/`), no CLAUDE.md, no project
 * skills, agents or commands; `--strict-mcp-config` ignores `.mcp.json`. The per-run HOME and
 * CLAUDE_CONFIG_DIR are fresh directories, so no operator-level config leaks in either.
 *
 * Tools: `--permission-mode dontAsk` denies every tool call no rule pre-approves. All modes get
 * Read/Grep/Glob (confined to the worktree by dontAsk) and Bash limited to read-only git; fix/tests
 * add Edit/Write limited to `./**` (not `.git/`) and the operator's `bashAllow` commands.
 *
 * Those are the CLI's own rules, not a sandbox: an allowed command (a test runner runs the PR's code)
 * can read whatever its OS user can. With `runAs` (AGENT_USER) that user is the unprivileged agent
 * user, exactly as for codex (security/agent-user.ts), so the kernel keeps the App's private key,
 * the run database and other jobs' checkouts out of reach. The model key file is the exception: the
 * CLI's apiKeyHelper runs as the agent, so the agent can read it while the run lasts.
 */

export interface ClaudeSettings {
  /** Path of the claude binary (node_modules/.bin/claude). */
  bin: string;
  /** Where per-run HOME/CLAUDE_CONFIG_DIRs are created; under the app's data dir, never the system temp dir. */
  homesRoot: string;
  /**
   * Anthropic API key. Handed to the CLI through an `apiKeyHelper` that reads a 0600 file in the
   * run's home, not through ANTHROPIC_API_KEY: the CLI passes its whole environment to the commands
   * the agent runs, so a variable would be one `env` away from a prompt-injected agent.
   */
  apiKey: string | null;
  /** `claude setup-token` subscription token (CLAUDE_CODE_OAUTH_TOKEN), used when apiKey is null. */
  oauthToken: string | null;
  /** ANTHROPIC_BASE_URL: an LLM gateway or proxy. */
  baseUrl: string | null;
  /**
   * Extra variable names operators allow through (ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_USE_BEDROCK,
   * AWS_REGION, …). Like CLAUDE_CODE_OAUTH_TOKEN, they also reach the commands the agent runs.
   */
  passEnv: string[];
  defaultModel: string | null;
  /** --max-turns; null leaves the CLI's default (unlimited). */
  maxTurns: number | null;
  /** --max-budget-usd: the CLI stops the run once its cost estimate passes this. */
  maxBudgetUsd: number | null;
  /** CLAUDE_CODE_MAX_RETRIES: API retries per request (the CLI's default of 10 can wait minutes). Default 2. */
  maxRetries?: number;
  /**
   * Extra Bash commands the agent may run in fix/tests modes, as permission-rule patterns without
   * the `Bash(...)` wrapper: "npm test", "npx vitest run *". Every mode may already run the read-only
   * git commands of READ_ONLY_GIT; the CLI denies everything else in dontAsk mode. These commands run
   * on the bot's host without a sandbox, and a test runner runs code from the pull request. Default none.
   */
  bashAllow?: string[];
  /**
   * Run claude, and so every command and tool it runs, as this unprivileged OS user (AGENT_USER; the
   * app must run as root). Claude has no sandbox of its own: without this, a command it may run (read-only
   * git everywhere, `bashAllow` in fix/tests) can read every file the app's user can, the App's private key
   * included. The run's home (with the model-key file) is the agent's for the run: see SECURITY.md.
   */
  runAs?: RunAs | null;
  /** The jail every run starts in (jail/); without one, the jail the environment describes. */
  jail?: Jail;
}

/**
 * Git commands every mode may run (the prompts ask for `git diff base...head`, `git log`, `git show`).
 * The guards below close what these could do beyond reading the repository.
 */
export const READ_ONLY_GIT: readonly string[] = ["git diff *", "git log *", "git show *", "git status *"];
/**
 * `--output=<file>` writes anywhere; `--no-index` diffs arbitrary host files (e.g. /etc/passwd)
 * into the model's context; external diff drivers and textconv run programs.
 */
const GIT_GUARDS = ["Bash(git * --output*)", "Bash(git * --no-index*)", "Bash(git * --ext-diff*)", "Bash(git * --textconv*)"];

const STRUCTURED_MODES: ReadonlySet<Mode> = new Set(["review", "audit"]);
const READ_TOOLS = ["Read", "Grep", "Glob", "Bash"];
/** Edit tools plus the task list the CLI uses as its plan (TodoWrite is gone from 2.1.197's tool set). */
const EDIT_TOOLS = [...READ_TOOLS, "Edit", "Write", "TaskCreate", "TaskUpdate", "TaskList", "TaskGet"];
/** Always denied. Deny rules win over allow rules; bare names also remove the tool from the model's view. */
const ALWAYS_DENIED = ["WebFetch", "WebSearch", "mcp__*"];
/** Denied in edit modes even when an operator's bash pattern would match. */
const EDIT_MODE_DENIED = [
  "Edit(./.git/**)",
  "Bash(git push *)",
  "Bash(git remote *)",
  "Bash(git config *)",
  "Bash(curl *)",
  "Bash(wget *)",
  "Bash(gh *)",
];
const KEY_FILE = "anthropic-api-key";
const STDERR_TAIL = 1500;
const MIN_SECRET_LENGTH = 6;
const DEFAULT_MAX_RETRIES = 2;
/** Per Bash command: the CLI's own limits, kept below the run's wall clock. */
const BASH_DEFAULT_TIMEOUT_MS = 120_000;
const BASH_MAX_TIMEOUT_MS = 600_000;

/** What a Claude run returns beyond the common result. */
export interface ClaudeRunResult extends AgentRunResult {
  executor: "claude";
  /** The CLI's own estimate (`total_cost_usd`), null when the run ended without a result line. */
  costUsd: number | null;
  numTurns: number | null;
}

/** The claude argv for one run (without the binary). Exported for tests and for the run log. */
export function buildClaudeArgs(options: {
  mode: Mode;
  model: string | null;
  reasoningEffort: ReasoningEffort | null;
  maxTurns: number | null;
  maxBudgetUsd: number | null;
  bashAllow: readonly string[];
  /** JSON passed with --settings (the apiKeyHelper), or null. */
  settingsJson: string | null;
}): string[] {
  const readOnly = READ_ONLY_MODES.has(options.mode);
  const args = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--no-session-persistence",
    "--permission-mode",
    "dontAsk",
    "--setting-sources",
    "",
    "--strict-mcp-config",
    "--disable-slash-commands",
    "--tools",
    (readOnly ? READ_TOOLS : EDIT_TOOLS).join(","),
  ];
  const bash = (rules: readonly string[]): string[] => rules.map((rule) => `Bash(${rule})`);
  // Edits only inside the working directory; every other path is denied by dontAsk.
  args.push("--allowedTools", ...bash(READ_ONLY_GIT), ...(readOnly ? [] : ["Edit(./**)", ...bash(options.bashAllow)]));
  args.push(
    "--disallowedTools",
    ...(readOnly ? ["Edit", "Write", "NotebookEdit", ...ALWAYS_DENIED] : [...ALWAYS_DENIED, ...EDIT_MODE_DENIED]),
    ...GIT_GUARDS,
  );
  if (options.model !== null) args.push("--model", options.model);
  if (options.reasoningEffort !== null) args.push("--effort", effortLevel(options.reasoningEffort));
  if (options.maxTurns !== null) args.push("--max-turns", String(options.maxTurns));
  if (options.maxBudgetUsd !== null) args.push("--max-budget-usd", String(options.maxBudgetUsd));
  if (STRUCTURED_MODES.has(options.mode)) args.push("--json-schema", JSON.stringify(reviewJsonSchema({ validated: true })));
  if (options.settingsJson !== null) args.push("--settings", options.settingsJson);
  // The prompt comes on stdin, which run() closes.
  return args;
}

function effortLevel(effort: ReasoningEffort): string {
  return effort === "minimal" ? "low" : effort;
}

export class ClaudeExecutor implements Executor {
  readonly name = "claude" as const;

  constructor(private readonly settings: ClaudeSettings) {}

  async run(req: AgentRunRequest): Promise<ClaudeRunResult> {
    const started = Date.now();
    if (req.signal?.aborted) throw new Cancelled("the claude run was cancelled before it started");
    const model = req.model ?? this.settings.defaultModel;
    const home = await createCodexHome({
      root: this.settings.homesRoot,
      jobId: `claude-${path.basename(req.worktree)}`,
      template: null,
    });
    try {
      let settingsJson: string | null = null;
      if (this.settings.apiKey !== null) {
        const keyFile = path.join(home.dir, KEY_FILE);
        await writeFile(keyFile, this.settings.apiKey, { mode: 0o600 });
        await chmod(keyFile, 0o600);
        settingsJson = JSON.stringify({ apiKeyHelper: `cat ${shellQuote(keyFile)}` });
      }
      // As for codex: the home (key file included: the apiKeyHelper runs as the agent) is the run's,
      // the worktree is bound writable only in fix/tests, nothing else of the host exists in the jail.
      const runAs = this.settings.runAs ?? null;
      const jail = this.settings.jail ?? defaultJail();
      const args = buildClaudeArgs({
        mode: req.mode,
        model,
        reasoningEffort: req.reasoningEffort,
        maxTurns: this.settings.maxTurns,
        maxBudgetUsd: this.settings.maxBudgetUsd,
        bashAllow: this.settings.bashAllow ?? [],
        settingsJson,
      });
      const env = buildEnv([...BASE_ENV_ALLOWLIST, ...this.settings.passEnv], {
        HOME: home.dir,
        CLAUDE_CONFIG_DIR: path.join(home.dir, ".claude"),
        CLAUDE_CODE_OAUTH_TOKEN: this.settings.apiKey === null ? (this.settings.oauthToken ?? undefined) : undefined,
        ANTHROPIC_BASE_URL: this.settings.baseUrl ?? undefined,
        CLAUDE_CODE_MAX_RETRIES: String(this.settings.maxRetries ?? DEFAULT_MAX_RETRIES),
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1",
        DISABLE_AUTOUPDATER: "1",
        DISABLE_TELEMETRY: "1",
        DISABLE_ERROR_REPORTING: "1",
        BASH_DEFAULT_TIMEOUT_MS: String(Math.min(BASH_DEFAULT_TIMEOUT_MS, req.timeoutMs)),
        BASH_MAX_TIMEOUT_MS: String(Math.min(BASH_MAX_TIMEOUT_MS, req.timeoutMs)),
      });

      const state = new ClaudeEventState();
      const progressErrors: string[] = [];
      let result: ExecResult;
      try {
        result = await runAgentInJail(jail, {
          bin: this.settings.bin,
          args,
          req,
          home: home.dir,
          homesRoot: this.settings.homesRoot,
          runAs,
          env,
          ...(req.signal ? { signal: req.signal } : {}),
          onStdoutLine: eventLineHandler(state, req, progressErrors),
        });
      } catch (err) {
        if (err instanceof SpawnError || err instanceof JailError) throw new ExecutorError(err.message, "spawn");
        throw err;
      }

      const redact = this.redactor(env);
      // A failed run still cost tokens: its error carries them (the result line has them even on error subtypes).
      try {
        const final = this.throwOnFailure(result, state, req.timeoutMs, redact);

        let review: ReviewOutcome | null = null;
        let droppedFindings: AgentRunResult["droppedFindings"] = [];
        let finalMessage = redact(final.result ?? state.lastAssistantText ?? "");
        if (STRUCTURED_MODES.has(req.mode)) {
          const hasStructured = final.hasStructuredOutput && final.structuredOutput !== null && final.structuredOutput !== undefined;
          // 2.1.197 nudges the model once when it answers in prose instead of calling StructuredOutput,
          // then reports success without structured_output; a JSON answer in the text is still accepted.
          if (hasStructured) finalMessage = redact(JSON.stringify(final.structuredOutput));
          else if (!/^\s*(\{|```)/.test(finalMessage)) {
            const preview = finalMessage.trim().length > 200 ? `${finalMessage.trim().slice(0, 200)}…` : finalMessage.trim();
            throw new ExecutorError(
              `claude finished without a structured review${preview ? `; its final message was: ${preview}` : ""}`,
              "invalid-output",
              finalMessage.slice(0, 2000),
            );
          }
          const parsed = parseReviewOutput(finalMessage, req.worktree);
          review = parsed.review;
          droppedFindings = parsed.dropped;
        } else if (req.mode === "ask" && finalMessage.trim().length === 0) {
          throw new ExecutorError("claude finished without an answer (its result was empty)", "invalid-output");
        }

        return {
          executor: "claude",
          finalMessage,
          review,
          droppedFindings,
          usage: state.usage,
          costUsd: state.costUsd,
          numTurns: final.numTurns,
          commands: state.commands,
          model,
          durationMs: Date.now() - started,
          warnings: [...state.warnings, ...stderrWarnings(result.stderr, /^(warning|ignoring)\b/i), ...progressErrors].map(redact),
        };
      } catch (err) {
        throw err instanceof ExecutorError ? err.withSpent(spendOf(state, model)) : err;
      }
    } finally {
      await home.dispose();
    }
  }

  /**
   * Maps how the process ended to an ExecutorError or Cancelled; returns the result line when the run
   * succeeded, which is only `subtype: "success"` with `is_error: false` (an API error comes back as
   * subtype "success" with is_error true).
   */
  private throwOnFailure(result: ExecResult, state: ClaudeEventState, timeoutMs: number, redact: (s: string) => string): ClaudeResult {
    const stderrTail = redact(tail(result.stderr, STDERR_TAIL));
    if (result.aborted) throw new Cancelled("the claude run was cancelled");
    if (result.timedOut) {
      // Still retrying a 429/529 when the clock ran out: a rate limit, which lets the pipeline fall back.
      const retry = state.lastRetry;
      if (retry !== null && (retry.status === 429 || retry.status === 529 || retry.error === "rate_limit" || retry.error === "overloaded")) {
        throw new ExecutorError(
          `the model provider is rate limiting requests (HTTP ${retry.status ?? "?"}); claude was still retrying after ${formatDuration(timeoutMs)} and was stopped`,
          "rate-limit",
          stderrTail,
        );
      }
      const hint = retry?.status != null ? ` (it was retrying an API error, HTTP ${retry.status})` : "";
      throw new ExecutorError(`claude did not finish within ${formatDuration(timeoutMs)} and was stopped${hint}`, "timeout", stderrTail);
    }
    const final = state.result;
    if (final === null) {
      const how = result.exitCode === null ? `was killed by ${result.signal ?? "a signal"}` : `exited with code ${result.exitCode}`;
      const reason = errorLine(stderrTail);
      throw new ExecutorError(
        `claude ${how} without a result${reason ? `: ${reason}` : ""}`,
        "exit",
        stderrTail,
      );
    }
    if (final.subtype === "success" && !final.isError) return final;

    const message = redact(describeFailure(final));
    if (state.rateLimited) {
      throw new ExecutorError(`the model provider is rate limiting requests: ${message}`, "rate-limit", message);
    }
    switch (final.subtype) {
      case "error_max_structured_output_retries":
        throw new ExecutorError(`claude could not produce a review in the required format: ${message}`, "invalid-output", message);
      case "error_max_turns":
        throw new ExecutorError(`claude stopped at its turn limit before finishing: ${message}`, "turn-failed", message);
      case "error_max_budget_usd":
        throw new ExecutorError(`claude stopped at its cost budget before finishing: ${message}`, "budget", message);
      default:
        throw new ExecutorError(`the model provider reported: ${message}`, "turn-failed", message);
    }
  }

  private redactor(env: Record<string, string>): (text: string) => string {
    const secrets = [this.settings.apiKey, this.settings.oauthToken, ...this.settings.passEnv.map((name) => env[name])].filter(
      (value): value is string => typeof value === "string" && value.length >= MIN_SECRET_LENGTH,
    );
    return (text) => secrets.reduce((acc, secret) => acc.split(secret).join("[redacted]"), text);
  }
}

/** The human part of a failed result: its errors, else its result text, else the subtype. */
function describeFailure(final: ClaudeResult): string {
  const parts = final.errors.length > 0 ? final.errors : final.result ? [final.result] : [];
  const text = parts.join("; ").replace(/^API Error:\s*/i, "").trim();
  const status = final.apiErrorStatus !== null && !text.includes(String(final.apiErrorStatus)) ? ` (HTTP ${final.apiErrorStatus})` : "";
  return (text || final.subtype) + status;
}

/** What the run used so far, null when it reported nothing (it never reached the API). */
function spendOf(state: ClaudeEventState, model: string | null): AgentSpend | null {
  const usage = state.usage;
  if (state.costUsd === null && usage.inputTokens + usage.outputTokens === 0) return null;
  return { usage, costUsd: state.costUsd, model };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
