import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { DEFAULT_CONNECT_RETRIES } from "./executors/connection.js";
import { DEFAULT_PRICE_TABLE, priceTableSchema, type PriceTable } from "./executors/pricing.js";
import { AgentUserError, parseAgentUser, type AgentUser } from "./security/agent-user.js";
import { jailSettingsFromEnv, JailSettingsError, type JailSettings } from "./jail/settings.js";

/**
 * Operator settings: the app's own environment variables, on top of Probot's standard ones
 * (APP_ID, PRIVATE_KEY/PRIVATE_KEY_PATH, WEBHOOK_SECRET, GHE_HOST, GHE_PROTOCOL, PORT, HOST, LOG_LEVEL),
 * which Probot reads itself. Validated once at start-up so a typo fails loudly instead of at the
 * first webhook.
 */

/** "a, b,,c" → ["a", "b", "c"]: the list variables of the app and of the local front doors alike. */
export function splitList(value: string | undefined, separator: "," | ";" = ","): string[] {
  return (value ?? "").split(separator).map((s) => s.trim()).filter((s) => s.length > 0);
}

const commaList = z
  .string()
  .optional()
  .transform((v) => splitList(v));

/** Claude permission patterns may contain commas ("npx vitest run --reporter=a,b"), so this list splits on ";". */
const semicolonList = z
  .string()
  .optional()
  .transform((v) => splitList(v, ";"));

const positiveInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) {
        ctx.addIssue({ code: "custom", message: `must be a positive integer, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** A positive integer, or null when unset or empty (a limit the operator may leave off). */
const optionalPositiveInt = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return null;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) {
      ctx.addIssue({ code: "custom", message: `must be a positive integer, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? null : v.trim()));

const envSchema = z.object({
  DATA_DIR: optionalString,
  CODEX_BIN: optionalString,
  CODEX_API_KEY: optionalString,
  CODEX_HOME_TEMPLATE: optionalString,
  CODEX_MODEL: optionalString,
  CODEX_PASS_ENV: commaList,
  CODEX_MAX_TOKENS: optionalPositiveInt,
  CODEX_CONNECT_RETRIES: positiveInt(DEFAULT_CONNECT_RETRIES),
  BOT_HANDLES: commaList,
  WORKER_CONCURRENCY: positiveInt(Math.max(1, os.availableParallelism())),
  WORKSPACE_POOL_SIZE: positiveInt(2),
  PROGRESS_INTERVAL_SECONDS: positiveInt(10),
  MAX_DIFF_BYTES: positiveInt(2 * 1024 * 1024),
  MAX_FILES: positiveInt(300),
  CLAUDE_BIN: optionalString,
  ANTHROPIC_API_KEY: optionalString,
  CLAUDE_CODE_OAUTH_TOKEN: optionalString,
  ANTHROPIC_BASE_URL: optionalString,
  CLAUDE_MODEL: optionalString,
  CLAUDE_PASS_ENV: commaList,
  CLAUDE_MAX_RETRIES: positiveInt(2),
  CLAUDE_FIX_COMMANDS: semicolonList,
  PRICE_TABLE: optionalString,
  AGENT_TIMEOUT_CAP_SECONDS: positiveInt(60 * 60),
  AGENT_USER: optionalString,
});

export interface Settings {
  /** Root for mirrors, worktrees and per-job CODEX_HOMEs. Never under the system temp dir. */
  dataDir: string;
  codexBin: string;
  codexApiKey: string | null;
  /** Directory holding the operator's config.toml / auth.json, copied into each job's CODEX_HOME. */
  codexHomeTemplate: string | null;
  codexModel: string | null;
  /** Extra environment variable names passed to the agent (e.g. a custom provider's env_key). */
  codexPassEnv: string[];
  /**
   * CODEX_MAX_TOKENS: token ceiling of every Codex run; a repository's codex.max_tokens may lower it,
   * not raise it. Null/absent = no operator ceiling.
   */
  codexMaxTokens?: number | null;
  /** CODEX_CONNECT_RETRIES: codex's retries of an unreachable model API a run sits through (executors/connection.ts). */
  codexConnectRetries?: number;
  /** Mention handles that trigger commands, without "@". */
  handles: ("codex" | "claude")[];
  concurrency: number;
  poolSize: number;
  progressIntervalMs: number;
  maxDiffBytes: number;
  /** Most changed files handed to the agent; larger PRs are reviewed on a prioritised subset. */
  maxFiles: number;
  /** Claude Code, when the operator configured credentials or a gateway; null = not available. */
  claude?: ClaudeOperatorSettings | null;
  /** USD per 1M tokens per model, for Codex cost figures (Claude reports its own cost). */
  priceTable?: PriceTable;
  /** Upper bound on any repository's configured agent timeout. */
  timeoutCapMs: number;
  /**
   * AGENT_USER (a user name or "uid:gid"): the unprivileged OS user codex and claude run as, so the agent
   * cannot read the App's private key, the run database or other jobs' workspaces (docs/security.md).
   * Null: the agent runs as the app's own user. Optional only so older callers compile.
   */
  agentUser?: AgentUser | null;
  /**
   * How agent runs are jailed (AGENT_ISOLATION, AGENT_JAIL_BWRAP, AGENT_MAX_PROCESSES,
   * AGENT_MAX_MEMORY_MB; jail/settings.ts). Absent: read from the environment when first needed.
   */
  jail?: JailSettings;
}

export interface ClaudeOperatorSettings {
  bin: string;
  apiKey: string | null;
  oauthToken: string | null;
  baseUrl: string | null;
  model: string | null;
  passEnv: string[];
  maxRetries: number;
  /**
   * CLAUDE_FIX_COMMANDS: Bash commands (permission patterns such as "npm test" or "npx vitest run *")
   * Claude may run in fix/tests runs, besides read-only git. They run without a sandbox and a test
   * runner runs the pull request's code: meant for hosts with AGENT_USER. Default none.
   */
  fixCommands?: string[];
}

export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

export function defaultCodexBin(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("@openai/codex/package.json")), "bin", "codex.js");
}

export function defaultClaudeBin(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("@anthropic-ai/claude-code/package.json")), "bin", "claude.exe");
}

/** PRICE_TABLE is JSON: {"gpt-5.5": {"input": 1.25, "cached_input": 0.125, "output": 10}} (USD per 1M tokens). */
function parsePriceTable(json: string | null): PriceTable {
  if (json === null) return DEFAULT_PRICE_TABLE;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new SettingsError(`PRICE_TABLE is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) throw new SettingsError(`Invalid PRICE_TABLE:\n${z.prettifyError(parsed.error)}`);
  return { ...DEFAULT_PRICE_TABLE, ...parsed.data };
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Settings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new SettingsError(`Invalid environment:\n${z.prettifyError(parsed.error)}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(cwd, e.DATA_DIR ?? ".data");
  const tmp = path.resolve(os.tmpdir());
  if (dataDir === tmp || dataDir.startsWith(tmp + path.sep)) {
    throw new SettingsError(
      `DATA_DIR (${dataDir}) is under the system temp dir: codex cannot run sandboxed commands there. Choose another directory.`,
    );
  }
  // Default: every agent the operator configured answers its own handle (@claude when Claude is set up).
  const claudeConfigured = Boolean(e.ANTHROPIC_API_KEY || e.CLAUDE_CODE_OAUTH_TOKEN || e.ANTHROPIC_BASE_URL);
  const handles = e.BOT_HANDLES.length > 0 ? e.BOT_HANDLES : claudeConfigured ? ["codex", "claude"] : ["codex"];
  for (const h of handles) {
    if (h !== "codex" && h !== "claude") {
      throw new SettingsError(`BOT_HANDLES: unknown handle "${h}" (known: codex, claude)`);
    }
  }
  let jail: JailSettings;
  try {
    jail = jailSettingsFromEnv(env);
  } catch (err) {
    if (err instanceof JailSettingsError) throw new SettingsError(err.message);
    throw err;
  }
  let agentUser: AgentUser | null = null;
  if (e.AGENT_USER !== null) {
    try {
      agentUser = parseAgentUser(e.AGENT_USER);
    } catch (err) {
      if (err instanceof AgentUserError) throw new SettingsError(err.message);
      throw err;
    }
  }
  return {
    dataDir,
    codexBin: e.CODEX_BIN ?? defaultCodexBin(),
    codexApiKey: e.CODEX_API_KEY,
    codexHomeTemplate: e.CODEX_HOME_TEMPLATE ? path.resolve(cwd, e.CODEX_HOME_TEMPLATE) : null,
    codexModel: e.CODEX_MODEL,
    codexPassEnv: e.CODEX_PASS_ENV,
    codexMaxTokens: e.CODEX_MAX_TOKENS,
    codexConnectRetries: e.CODEX_CONNECT_RETRIES,
    handles: handles as ("codex" | "claude")[],
    concurrency: e.WORKER_CONCURRENCY,
    poolSize: e.WORKSPACE_POOL_SIZE,
    progressIntervalMs: e.PROGRESS_INTERVAL_SECONDS * 1000,
    maxDiffBytes: e.MAX_DIFF_BYTES,
    maxFiles: e.MAX_FILES,
    claude:
      e.ANTHROPIC_API_KEY || e.CLAUDE_CODE_OAUTH_TOKEN || e.ANTHROPIC_BASE_URL
        ? {
            bin: e.CLAUDE_BIN ?? defaultClaudeBin(),
            apiKey: e.ANTHROPIC_API_KEY,
            oauthToken: e.CLAUDE_CODE_OAUTH_TOKEN,
            baseUrl: e.ANTHROPIC_BASE_URL,
            model: e.CLAUDE_MODEL,
            passEnv: e.CLAUDE_PASS_ENV,
            maxRetries: e.CLAUDE_MAX_RETRIES,
            fixCommands: e.CLAUDE_FIX_COMMANDS,
          }
        : null,
    priceTable: parsePriceTable(e.PRICE_TABLE),
    timeoutCapMs: e.AGENT_TIMEOUT_CAP_SECONDS * 1000,
    agentUser,
    jail,
  };
}
