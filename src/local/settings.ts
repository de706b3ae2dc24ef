import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CodexSettings } from "../executors/codex.js";
import { DEFAULT_CONNECT_RETRIES } from "../executors/connection.js";
import { defaultClaudeBin, defaultCodexBin, splitList, type ClaudeOperatorSettings } from "../settings.js";
import { DATABASE_FILE } from "../store/db.js";

/**
 * Settings of the local front doors (CLI, MCP server, GitHub Action). They run on the user's own
 * machine, so unlike the app they take the user's codex login (`~/.codex`, or CODEX_HOME) as the
 * template for each run's CODEX_HOME and keep their state under XDG_STATE_HOME, never in the
 * checkout being reviewed and never under the system temp dir (codex cannot sandbox there).
 */

export interface LocalSettings {
  /** What outlives a run: the run history and fix's scratch worktrees (localStateDir). */
  stateDir: string;
  /** What a run throws away: the per-run CODEX_HOMEs of codex and Claude (localCacheDir). */
  cacheDir: string;
  codex: CodexSettings;
  /** Claude Code, when the user's environment has a credential or a gateway for it; null = not available. */
  claude: LocalClaudeSettings | null;
  /**
   * CODEX_MAX_TOKENS, the operator's token ceiling for every Codex run, as in the app; a repository's
   * codex.max_tokens may lower it. Null/absent: none.
   */
  codexMaxTokens?: number | null;
  /** Where runs are recorded (history.ts); null/absent when CODEX_PR_BOT_NO_HISTORY is set. */
  history?: LocalHistorySettings | null;
}

/** Set to 1 (or true/yes/on) to record no run history. */
export const NO_HISTORY_ENV = "CODEX_PR_BOT_NO_HISTORY";

export interface LocalHistorySettings {
  /** The SQLite run store local runs go to. */
  databasePath: string;
  /** Local runs older than this are deleted when a new one starts (RUN_RETENTION_DAYS, default 30). */
  retentionDays: number;
  /** Values cleared (in every encoding, review/sanitize.ts) from the event log, patch and error recorded; read at each write. */
  secrets?: readonly string[];
}

/** The same variables the app reads (src/settings.ts), taken from the user's environment. */
export type LocalClaudeSettings = ClaudeOperatorSettings;

/** What to set when claude is asked for and none of it is there. */
export const CLAUDE_CREDENTIALS_HINT =
  "set ANTHROPIC_API_KEY, or CLAUDE_CODE_OAUTH_TOKEN (from `claude setup-token`), or ANTHROPIC_BASE_URL for a gateway";

/**
 * DATA_DIR, else $XDG_STATE_HOME/codex-pr-bot, else ~/.local/state/codex-pr-bot. DATA_DIR means the
 * same everywhere: the one directory codex-pr-bot keeps its data in. The app defaults it to ./.data
 * beside itself; the local commands, run inside the user's repositories, never default to a path in
 * the working tree but to the XDG base directories.
 */
export function localStateDir(env: NodeJS.ProcessEnv, cwd: string): string {
  return xdgDir(env, cwd, "XDG_STATE_HOME", [".local", "state"]);
}

/** DATA_DIR, else $XDG_CACHE_HOME/codex-pr-bot, else ~/.cache/codex-pr-bot. */
export function localCacheDir(env: NodeJS.ProcessEnv, cwd: string): string {
  return xdgDir(env, cwd, "XDG_CACHE_HOME", [".cache"]);
}

function xdgDir(env: NodeJS.ProcessEnv, cwd: string, variable: "XDG_STATE_HOME" | "XDG_CACHE_HOME", fallback: string[]): string {
  if (env.DATA_DIR?.trim()) return path.resolve(cwd, env.DATA_DIR.trim());
  // The spec says a relative XDG path is invalid and to be ignored.
  const xdg = env[variable]?.trim();
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME?.trim() || os.homedir(), ...fallback);
  return path.join(base, "codex-pr-bot");
}

export function historyDisabled(env: NodeJS.ProcessEnv): boolean {
  return /^(1|true|yes|on)$/i.test(env[NO_HISTORY_ENV]?.trim() ?? "");
}

/**
 * DATABASE_PATH, else `<state dir>/codex-pr-bot.sqlite`: with the app's DATA_DIR that is the app's
 * own file (the rule of jobs/create-queue.ts readDurableSettings, not imported because it would load
 * BullMQ into every review), otherwise one under $XDG_STATE_HOME.
 */
export function historyDatabasePath(env: NodeJS.ProcessEnv, cwd: string): string {
  const explicit = env.DATABASE_PATH?.trim();
  return path.resolve(cwd, explicit || path.join(localStateDir(env, cwd), DATABASE_FILE));
}

/** The directory whose config.toml / auth.json each run copies: CODEX_HOME_TEMPLATE, CODEX_HOME or ~/.codex. */
export function codexTemplateDir(env: NodeJS.ProcessEnv, cwd: string): string | null {
  const explicit = env.CODEX_HOME_TEMPLATE?.trim() || env.CODEX_HOME?.trim();
  if (explicit) return path.resolve(cwd, explicit);
  const fallback = path.join(env.HOME?.trim() || os.homedir(), ".codex");
  return existsSync(fallback) ? fallback : null;
}

function wholeNumber(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`);
  return n;
}

/** A positive integer, or null when unset/empty (the app's rule for CODEX_MAX_TOKENS and RUN_RETENTION_DAYS). */
function positiveOrNull(value: string | undefined, name: string): number | null {
  if (value === undefined || value.trim() === "") return null;
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

/** Claude's settings, or null when no credential or gateway is configured (claude would then fail at once). */
export function localClaudeSettings(env: NodeJS.ProcessEnv): LocalClaudeSettings | null {
  const apiKey = env.ANTHROPIC_API_KEY?.trim() || null;
  const oauthToken = env.CLAUDE_CODE_OAUTH_TOKEN?.trim() || null;
  const baseUrl = env.ANTHROPIC_BASE_URL?.trim() || null;
  if (apiKey === null && oauthToken === null && baseUrl === null) return null;
  return {
    bin: env.CLAUDE_BIN?.trim() || defaultClaudeBin(),
    apiKey,
    oauthToken,
    baseUrl,
    model: env.CLAUDE_MODEL?.trim() || null,
    passEnv: splitList(env.CLAUDE_PASS_ENV),
    maxRetries: wholeNumber(env.CLAUDE_MAX_RETRIES, 2, "CLAUDE_MAX_RETRIES"),
    fixCommands: splitList(env.CLAUDE_FIX_COMMANDS, ";"),
  };
}

export function loadLocalSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LocalSettings {
  const stateDir = localStateDir(env, cwd);
  const cacheDir = localCacheDir(env, cwd);
  return {
    stateDir,
    cacheDir,
    codex: {
      bin: env.CODEX_BIN?.trim() || defaultCodexBin(),
      homesRoot: path.join(cacheDir, "codex-homes"),
      homeTemplate: codexTemplateDir(env, cwd),
      apiKey: env.CODEX_API_KEY?.trim() || env.OPENAI_API_KEY?.trim() || null,
      passEnv: splitList(env.CODEX_PASS_ENV),
      defaultModel: env.CODEX_MODEL?.trim() || null,
      connectRetries: positiveOrNull(env.CODEX_CONNECT_RETRIES, "CODEX_CONNECT_RETRIES") ?? DEFAULT_CONNECT_RETRIES,
    },
    claude: localClaudeSettings(env),
    codexMaxTokens: positiveOrNull(env.CODEX_MAX_TOKENS, "CODEX_MAX_TOKENS"),
    history: historyDisabled(env)
      ? null
      : { databasePath: historyDatabasePath(env, cwd), retentionDays: positiveOrNull(env.RUN_RETENTION_DAYS, "RUN_RETENTION_DAYS") ?? 30 },
  };
}
