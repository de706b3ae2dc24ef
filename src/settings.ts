import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { z } from "zod";

/**
 * Operator settings: the app's own environment variables, on top of Probot's standard ones
 * (APP_ID, PRIVATE_KEY/PRIVATE_KEY_PATH, WEBHOOK_SECRET, GHE_HOST, GHE_PROTOCOL, PORT, HOST, LOG_LEVEL),
 * which Probot reads itself. Validated once at start-up so a typo fails loudly instead of at the
 * first webhook.
 */

const commaList = z
  .string()
  .optional()
  .transform((v) => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0));

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
  BOT_HANDLES: commaList,
  WORKER_CONCURRENCY: positiveInt(Math.max(1, os.availableParallelism())),
  WORKSPACE_POOL_SIZE: positiveInt(2),
  PROGRESS_INTERVAL_SECONDS: positiveInt(10),
  MAX_DIFF_BYTES: positiveInt(2 * 1024 * 1024),
  AGENT_TIMEOUT_CAP_SECONDS: positiveInt(60 * 60),
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
  /** Mention handles that trigger commands, without "@". */
  handles: ("codex" | "claude")[];
  concurrency: number;
  poolSize: number;
  progressIntervalMs: number;
  maxDiffBytes: number;
  /** Upper bound on any repository's configured agent timeout. */
  timeoutCapMs: number;
}

export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

export function defaultCodexBin(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("@openai/codex/package.json")), "bin", "codex.js");
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
  const handles = e.BOT_HANDLES.length > 0 ? e.BOT_HANDLES : ["codex"];
  for (const h of handles) {
    if (h !== "codex" && h !== "claude") {
      throw new SettingsError(`BOT_HANDLES: unknown handle "${h}" (known: codex, claude)`);
    }
  }
  return {
    dataDir,
    codexBin: e.CODEX_BIN ?? defaultCodexBin(),
    codexApiKey: e.CODEX_API_KEY,
    codexHomeTemplate: e.CODEX_HOME_TEMPLATE ? path.resolve(cwd, e.CODEX_HOME_TEMPLATE) : null,
    codexModel: e.CODEX_MODEL,
    codexPassEnv: e.CODEX_PASS_ENV,
    handles: handles as ("codex" | "claude")[],
    concurrency: e.WORKER_CONCURRENCY,
    poolSize: e.WORKSPACE_POOL_SIZE,
    progressIntervalMs: e.PROGRESS_INTERVAL_SECONDS * 1000,
    maxDiffBytes: e.MAX_DIFF_BYTES,
    timeoutCapMs: e.AGENT_TIMEOUT_CAP_SECONDS * 1000,
  };
}
