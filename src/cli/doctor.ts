import { createPrivateKey } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { readDurableSettings } from "../jobs/create-queue.js";
import { CODEX_CREDENTIALS_HINT, codexCredentialSource } from "../executors/codex-credentials.js";
import { Jail } from "../jail/jail.js";
import { jailSettingsFromEnv } from "../jail/settings.js";
import { CodexSandbox } from "../executors/sandbox.js";
import { CLAUDE_CREDENTIALS_HINT, loadLocalSettings } from "../local/settings.js";
import { defaultClaudeBin, loadSettings } from "../settings.js";
import { BASE_ENV_ALLOWLIST, buildEnv, run } from "../util/exec.js";
import { EXIT, errorMessage, UsageError, type CliIO } from "./io.js";

/**
 * `codex-pr-bot doctor`: checks the set-up one item at a time and, for every problem, says what
 * to do about it. Exit 1 when any check fails (warnings don't fail), so it can gate a deploy.
 */

export const DOCTOR_HELP = `Usage: codex-pr-bot doctor [options]

Checks Node, the codex CLI, model credentials, the sandbox, Claude Code (optional), the GitHub
App environment, the database and Redis, and says exactly what to fix. Exit 1 when a check fails.

Options:
  --local     Check only what the local commands need (skip the GitHub App, database and Redis)
  --json      Print the results as JSON
`;

/** note: worth knowing, nothing wrong (an optional agent that is not set up). */
export type CheckStatus = "ok" | "note" | "warn" | "fail" | "skip";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do, for warn and fail. */
  fix?: string;
}

const MIN_NODE = [20, 18, 1] as const;
const SANDBOX_MARKER = "codex-pr-bot-sandbox-ok";

function nodeCheck(): CheckResult {
  const parts = process.versions.node.split(".").map(Number);
  const ok = compare(parts, [...MIN_NODE]) >= 0;
  return ok
    ? { name: "node", status: "ok", detail: `Node ${process.versions.node}` }
    : { name: "node", status: "fail", detail: `Node ${process.versions.node} is too old`, fix: `Install Node ${MIN_NODE.join(".")} or newer.` };
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function codexCheck(bin: string, cwd: string): Promise<{ result: CheckResult; usable: boolean }> {
  const pinned = pinnedCodexVersion();
  try {
    const out = await run(bin, ["--version"], { cwd, env: buildEnv(BASE_ENV_ALLOWLIST), timeoutMs: 30_000 });
    const version = /(\d+\.\d+\.\d+\S*)/.exec(out.stdout)?.[1] ?? null;
    if (out.exitCode !== 0 || version === null) {
      return {
        usable: false,
        result: {
          name: "codex",
          status: "fail",
          detail: `${bin} --version failed (exit ${out.exitCode ?? out.signal}): ${(out.stderr || out.stdout).trim().slice(0, 300)}`,
          fix: "Reinstall the pinned CLI with `npm ci`, or point CODEX_BIN at a working codex binary.",
        },
      };
    }
    if (pinned !== null && version !== pinned) {
      return {
        usable: true,
        result: {
          name: "codex",
          status: "warn",
          detail: `codex ${version} at ${bin}, but this release is tested with ${pinned}`,
          fix: "Unset CODEX_BIN to use the bundled, pinned codex: its JSON event format changes between versions.",
        },
      };
    }
    return { usable: true, result: { name: "codex", status: "ok", detail: `codex ${version} (${bin})` } };
  } catch (err) {
    return {
      usable: false,
      result: {
        name: "codex",
        status: "fail",
        detail: `cannot start ${bin}: ${errorMessage(err)}`,
        fix: "Run `npm ci` in the codex-pr-bot directory, or set CODEX_BIN to the codex binary.",
      },
    };
  }
}

function pinnedCodexVersion(): string | null {
  return pinnedVersion("@openai/codex");
}

function pinnedVersion(dependency: string): string | null {
  try {
    const pkg = createRequire(import.meta.url)("../../package.json") as { dependencies?: Record<string, string> };
    return pkg.dependencies?.[dependency] ?? null;
  } catch {
    return null;
  }
}

/** Which Claude credential is set, in the order claude itself prefers them; null when none is. */
function claudeCredential(env: NodeJS.ProcessEnv): string | null {
  if (env.ANTHROPIC_API_KEY?.trim()) return "ANTHROPIC_API_KEY is set";
  if (env.CLAUDE_CODE_OAUTH_TOKEN?.trim()) return "CLAUDE_CODE_OAUTH_TOKEN is set";
  const gateway = env.ANTHROPIC_BASE_URL?.trim();
  if (gateway) {
    // Only the origin: a gateway URL may carry a credential in its user part or query.
    let origin = "a gateway";
    try {
      origin = new URL(gateway).origin;
    } catch {
      return null;
    }
    return `ANTHROPIC_BASE_URL points at ${origin}`;
  }
  return null;
}

/**
 * Claude Code is optional (--executor claude|both, @claude, executors: [codex, claude]): not set up is
 * a note, not a failure. Set up but unable to start is a failure, because asking for it would fail.
 */
async function claudeChecks(env: NodeJS.ProcessEnv, cwd: string): Promise<CheckResult[]> {
  const credential = claudeCredential(env);
  const bin = env.CLAUDE_BIN?.trim() || defaultClaudeBin();
  const pinned = pinnedVersion("@anthropic-ai/claude-code");
  const broken = credential === null ? "warn" : "fail";
  let binary: CheckResult;
  try {
    const out = await run(bin, ["--version"], { cwd, env: buildEnv(BASE_ENV_ALLOWLIST), timeoutMs: 30_000 });
    const version = /(\d+\.\d+\.\d+\S*)/.exec(out.stdout)?.[1] ?? null;
    if (out.exitCode !== 0 || version === null) {
      binary = {
        name: "claude",
        status: broken,
        detail: `${bin} --version failed (exit ${out.exitCode ?? out.signal}): ${(out.stderr || out.stdout).trim().slice(0, 300)}`,
        fix: "Reinstall the pinned Claude Code with `npm ci`, or point CLAUDE_BIN at a working claude binary.",
      };
    } else if (pinned !== null && version !== pinned) {
      binary = {
        name: "claude",
        status: "warn",
        detail: `claude ${version} at ${bin}, but this release is tested with ${pinned}`,
        fix: "Unset CLAUDE_BIN to use the bundled, pinned Claude Code: its stream-json output changes between versions.",
      };
    } else {
      binary = { name: "claude", status: "ok", detail: `claude ${version} (${bin})` };
    }
  } catch (err) {
    binary = {
      name: "claude",
      status: broken,
      detail: `cannot start ${bin}: ${errorMessage(err)}`,
      fix: "Run `npm ci` in the codex-pr-bot directory, or set CLAUDE_BIN to the claude binary.",
    };
  }
  const credentials: CheckResult =
    credential !== null
      ? { name: "claude credentials", status: "ok", detail: credential }
      : env.ANTHROPIC_BASE_URL?.trim()
        ? {
            name: "claude credentials",
            status: "fail",
            detail: "ANTHROPIC_BASE_URL is not a URL",
            fix: "Set ANTHROPIC_BASE_URL to the gateway's address, e.g. https://gateway.example.com, or unset it.",
          }
        : {
            name: "claude credentials",
            status: "note",
            detail: "Claude is not set up (optional: only --executor claude|both, @claude and executors: [codex, claude] need it)",
            fix: `To use it, ${CLAUDE_CREDENTIALS_HINT}.`,
          };
  return [binary, credentials];
}

function credentialsCheck(env: NodeJS.ProcessEnv, template: string | null): CheckResult {
  if (env.CODEX_API_KEY?.trim()) return { name: "credentials", status: "ok", detail: "CODEX_API_KEY is set" };
  if (env.OPENAI_API_KEY?.trim()) return { name: "credentials", status: "ok", detail: "OPENAI_API_KEY is set (passed to codex as CODEX_API_KEY)" };
  const source = codexCredentialSource(null, template);
  if (source !== null) return { name: "credentials", status: "ok", detail: source };
  return {
    name: "credentials",
    status: "fail",
    detail: "no model credentials: CODEX_API_KEY and OPENAI_API_KEY are unset and no codex login was found",
    fix: `${CODEX_CREDENTIALS_HINT[0]!.toUpperCase()}${CODEX_CREDENTIALS_HINT.slice(1)}.`,
  };
}

/** A directory codex-pr-bot keeps something in: what it is called and what lives there. */
export interface PlacedDir {
  dir: string;
  /** How the user sets it, e.g. "DATA_DIR" or "$XDG_STATE_HOME/codex-pr-bot". */
  label: string;
  what: string;
  /** False for the app's default ./.data: doctor run inside some repository must not leave one there. */
  create: boolean;
}

/** Where each door keeps what (docs/operations.md); several names for one directory are one line. */
export function placedDirs(env: NodeJS.ProcessEnv, local: { stateDir: string; cacheDir: string }, app: { dataDir: string } | null): PlacedDir[] {
  const dirs: PlacedDir[] = [];
  if (app !== null) {
    dirs.push({
      dir: app.dataDir,
      label: env.DATA_DIR?.trim() ? "DATA_DIR" : "DATA_DIR (default ./.data)",
      what: "the app's queue and run store (codex-pr-bot.sqlite), repository mirrors and worktrees, per-job codex homes",
      create: Boolean(env.DATA_DIR?.trim()),
    });
  }
  dirs.push({
    dir: local.stateDir,
    label: env.DATA_DIR?.trim() ? "DATA_DIR" : "local state ($XDG_STATE_HOME/codex-pr-bot)",
    what: "run history of review, fix and the MCP tools (codex-pr-bot.sqlite), fix's scratch worktrees",
    create: true,
  });
  dirs.push({
    dir: local.cacheDir,
    label: env.DATA_DIR?.trim() ? "DATA_DIR" : "local cache ($XDG_CACHE_HOME/codex-pr-bot)",
    what: "per-run codex and Claude homes, removed after each run",
    create: true,
  });
  return dirs;
}

/** One check per distinct directory: it is outside /tmp and writable (or will be created by the app). */
function dirChecks(placed: readonly PlacedDir[]): CheckResult[] {
  const byDir = new Map<string, PlacedDir[]>();
  for (const p of placed) byDir.set(p.dir, [...(byDir.get(p.dir) ?? []), p]);
  return [...byDir.entries()].map(([dir, all]) => {
    const labels = [...new Set(all.map((p) => p.label))].join(", ");
    const what = all.map((p) => p.what).join("; ");
    const name = "data directory";
    const tmp = path.resolve(os.tmpdir());
    if (dir === tmp || dir.startsWith(tmp + path.sep)) {
      return {
        name,
        status: "fail",
        detail: `${labels} ${dir} is under the system temp dir`,
        fix: "Point DATA_DIR (or XDG_STATE_HOME / XDG_CACHE_HOME) at a directory outside /tmp: codex cannot run sandboxed commands with its home there.",
      };
    }
    if (!all.some((p) => p.create) && !existsSync(dir)) {
      return { name, status: "ok", detail: `${labels} ${dir}: ${what} (created when the app starts)` };
    }
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return { name, status: "ok", detail: `${labels} ${dir}: ${what}` };
    } catch (err) {
      return { name, status: "fail", detail: `cannot create ${dir} (${labels}): ${errorMessage(err)}`, fix: "Set DATA_DIR to a writable directory." };
    }
  });
}

/** The jail every agent run starts in (jail/): built once here exactly as the app builds it. */
async function jailCheck(env: NodeJS.ProcessEnv, stateDir: string): Promise<CheckResult> {
  let jail: Jail;
  try {
    jail = new Jail(jailSettingsFromEnv(env));
  } catch (err) {
    return { name: "jail", status: "fail", detail: errorMessage(err), fix: "Fix the variable named above (docs/configuration.md, Jail)." };
  }
  if (!jail.isolated) {
    return {
      name: "jail",
      status: "warn",
      detail: "AGENT_ISOLATION=none: agents run unjailed and can read every file the app's OS user can, the GitHub App private key included",
      fix: "Unset AGENT_ISOLATION once the host allows unprivileged user namespaces.",
    };
  }
  const probe = await jail.check(path.join(stateDir, "codex-homes"));
  if (probe.ok) return { name: "jail", status: "ok", detail: `${jail.describe()}; a jail starts in ${probe.durationMs} ms` };
  return { name: "jail", status: "fail", detail: probe.reason, fix: probe.fix };
}

async function sandboxCheck(bin: string, stateDir: string, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  let scratch: string | null = null;
  try {
    const root = path.join(stateDir, "doctor");
    mkdirSync(root, { recursive: true, mode: 0o700 });
    scratch = await mkdtemp(path.join(root, "sandbox-"));
    // Inside the jail, as every fix.verify runs: codex's own sandbox nested in it.
    const sandbox = new CodexSandbox({ bin, homesRoot: path.join(stateDir, "codex-homes"), jail: new Jail(jailSettingsFromEnv(env)) });
    const result = await sandbox.run({ cwd: scratch, command: `echo ${SANDBOX_MARKER} > probe.txt && cat probe.txt`, timeoutMs: 60_000 });
    if (result.exitCode === 0 && result.output.includes(SANDBOX_MARKER)) {
      return { name: "sandbox", status: "ok", detail: "codex sandbox runs commands (workspace-write)" };
    }
    return {
      name: "sandbox",
      status: "fail",
      detail: `a command in the codex sandbox failed (exit ${result.exitCode ?? "none"}${result.timedOut ? ", timed out" : ""}): ${result.output.trim().slice(-300)}`,
      fix:
        "codex sandboxes commands with Landlock/seccomp (bubblewrap on some builds). In a container, allow unprivileged user namespaces " +
        "(e.g. `sysctl kernel.unprivileged_userns_clone=1`, or Docker `--security-opt seccomp=unconfined`), and keep DATA_DIR outside /tmp.",
    };
  } catch (err) {
    return { name: "sandbox", status: "fail", detail: `could not run the sandbox probe: ${errorMessage(err)}`, fix: "Fix the codex check above first." };
  } finally {
    if (scratch !== null) await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

function appCheck(env: NodeJS.ProcessEnv): CheckResult {
  const missing: string[] = [];
  if (!env.APP_ID?.trim()) missing.push("APP_ID");
  if (!env.WEBHOOK_SECRET?.trim()) missing.push("WEBHOOK_SECRET");
  let key = env.PRIVATE_KEY?.trim() ?? "";
  if (key === "" && env.PRIVATE_KEY_PATH?.trim()) {
    try {
      key = readFileSync(env.PRIVATE_KEY_PATH.trim(), "utf8");
    } catch (err) {
      return {
        name: "github app",
        status: "fail",
        detail: `PRIVATE_KEY_PATH cannot be read: ${errorMessage(err)}`,
        fix: "Point PRIVATE_KEY_PATH at the .pem file downloaded from the GitHub App's settings page.",
      };
    }
  }
  if (key === "") missing.push("PRIVATE_KEY (or PRIVATE_KEY_PATH)");
  if (missing.length > 0) {
    return {
      name: "github app",
      status: "fail",
      detail: `missing ${missing.join(", ")}`,
      fix: "Copy the values from the GitHub App's settings page into the environment (see .env.example), or use --local to check only the local commands.",
    };
  }
  if (!/^\d+$/.test(env.APP_ID!.trim())) {
    return { name: "github app", status: "fail", detail: `APP_ID "${env.APP_ID}" is not a number`, fix: "APP_ID is the numeric App ID shown on the App's settings page." };
  }
  try {
    createPrivateKey(key.replace(/\\n/g, "\n"));
  } catch (err) {
    return {
      name: "github app",
      status: "fail",
      detail: `the private key does not parse: ${errorMessage(err)}`,
      fix: "Use the whole PEM file (including the BEGIN/END lines); in a single-line env var, write newlines as \\n.",
    };
  }
  return { name: "github app", status: "ok", detail: `APP_ID ${env.APP_ID!.trim()}, private key and webhook secret present` };
}

/** Which mentions the app answers, so "@claude got no answer" has its reason before anyone asks. */
export function handlesCheck(handles: readonly string[], claudeConfigured: boolean): CheckResult {
  const live = handles.map((h) => `@${h}`).join(", ");
  if (claudeConfigured && !handles.includes("claude")) {
    return {
      name: "handles",
      status: "warn",
      detail: `${live} answer commands; Claude is set up but BOT_HANDLES leaves @claude out, so "@claude …" comments get no answer`,
      fix: "Add claude to BOT_HANDLES, or unset it (the default answers every agent that is set up).",
    };
  }
  return { name: "handles", status: "ok", detail: `${live} answer commands${claudeConfigured ? "" : " (@claude once Claude is set up)"}` };
}

/**
 * Whether GitHub's webhooks can reach the app: the first thing to check when "nothing happens".
 * Probot forwards a WEBHOOK_PROXY_URL (smee.io) channel only when smee-client can be imported;
 * otherwise it logs one warning and forwards nothing.
 */
export function webhookCheck(env: NodeJS.ProcessEnv, resolve: (id: string) => string = createRequire(import.meta.url).resolve): CheckResult {
  const proxy = env.WEBHOOK_PROXY_URL?.trim();
  if (proxy) {
    let origin = proxy;
    try {
      origin = new URL(proxy).origin;
    } catch {
      return { name: "webhooks", status: "fail", detail: `WEBHOOK_PROXY_URL is not a URL`, fix: "Set it to your channel's URL, e.g. https://smee.io/<channel>." };
    }
    try {
      resolve("smee-client");
    } catch {
      return {
        name: "webhooks",
        status: "fail",
        detail: "WEBHOOK_PROXY_URL is set but smee-client is not installed: Probot forwards nothing",
        fix: "Run `npm ci` in the codex-pr-bot directory (smee-client is a dev dependency), or `npm install --save-dev smee-client`.",
      };
    }
    return { name: "webhooks", status: "ok", detail: `webhooks arrive through the WEBHOOK_PROXY_URL channel at ${origin} (the app's webhook URL must be the same channel)` };
  }
  if (env.NODE_ENV === "production") {
    return { name: "webhooks", status: "ok", detail: "no WEBHOOK_PROXY_URL: GitHub must reach this server's /api/github/webhooks directly" };
  }
  return {
    name: "webhooks",
    status: "note",
    detail: "WEBHOOK_PROXY_URL is not set: GitHub must reach this server at the app's webhook URL",
    fix: "On a laptop, create a channel at https://smee.io/new and set WEBHOOK_PROXY_URL to it (README \"Try it locally\"); the app's Recent Deliveries show deliveries that failed.",
  };
}

async function databaseCheck(file: string): Promise<CheckResult> {
  try {
    if (!existsSync(path.dirname(file))) {
      return { name: "database", status: "ok", detail: `${file} does not exist yet: the app creates it when it starts` };
    }
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(file, { timeout: 5000 });
    try {
      db.prepare("select 1").get();
    } finally {
      db.close();
    }
    return { name: "database", status: "ok", detail: `SQLite ${file} opens` };
  } catch (err) {
    return {
      name: "database",
      status: "fail",
      detail: `cannot open the SQLite database ${file}: ${errorMessage(err)}`,
      fix: "Set DATABASE_PATH (or DATA_DIR) to a writable location on a local disk.",
    };
  }
}

async function redisCheck(url: string | null): Promise<CheckResult> {
  if (url === null) return { name: "redis", status: "skip", detail: "QUEUE_URL is not set: the embedded SQLite queue is used" };
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    const pong = await redis.ping();
    return { name: "redis", status: "ok", detail: `QUEUE_URL answers (${pong})` };
  } catch (err) {
    return {
      name: "redis",
      status: "fail",
      detail: `cannot reach QUEUE_URL: ${errorMessage(err).replace(/\/\/[^@/]*@/, "//***@")}`,
      fix: "Start Redis or fix QUEUE_URL (redis://host:port, rediss:// for TLS); unset it to use the embedded queue.",
    };
  } finally {
    redis.disconnect();
  }
}

export async function runChecks(io: CliIO, opts: { local: boolean }): Promise<CheckResult[]> {
  const env = io.env;
  const local = loadLocalSettings(env, io.cwd);
  const results: CheckResult[] = [nodeCheck()];
  let appDir: string | null = null;
  let databasePath: string | null = null;
  let queueUrl: string | null = null;
  if (!opts.local) {
    try {
      const settings = loadSettings(env, io.cwd);
      const durable = readDurableSettings(env, { dataDir: settings.dataDir, concurrency: settings.concurrency });
      appDir = settings.dataDir;
      databasePath = durable.databasePath;
      queueUrl = durable.queueUrl;
      results.push({ name: "settings", status: "ok", detail: "the environment variables are valid" });
      results.push(handlesCheck(settings.handles, settings.claude !== null));
    } catch (err) {
      results.push({ name: "settings", status: "fail", detail: errorMessage(err), fix: "Fix the variable named above (docs/operations.md lists them)." });
    }
  }
  const codex = await codexCheck(local.codex.bin, io.cwd);
  results.push(codex.result);
  results.push(credentialsCheck(env, local.codex.homeTemplate));
  const dirs = dirChecks(placedDirs(env, local, appDir === null ? null : { dataDir: appDir }));
  results.push(...dirs);
  // The probe runs where the agents' homes will be: the app's data dir once it exists, else the local cache.
  const probeDir = appDir !== null && existsSync(appDir) ? appDir : local.cacheDir;
  const jail = dirs.every((d) => d.status === "ok")
    ? await jailCheck(env, probeDir)
    : ({ name: "jail", status: "skip", detail: "skipped: needs a data directory" } satisfies CheckResult);
  results.push(jail);
  if (codex.usable && dirs.every((d) => d.status === "ok") && jail.status !== "fail") results.push(await sandboxCheck(local.codex.bin, probeDir, env));
  else results.push({ name: "sandbox", status: "skip", detail: "skipped: needs a working codex, data directory and jail" });
  results.push(...(await claudeChecks(env, io.cwd)));
  if (!opts.local) {
    results.push(appCheck(env));
    results.push(webhookCheck(env));
    if (databasePath !== null) results.push(await databaseCheck(databasePath));
    results.push(await redisCheck(queueUrl));
  }
  return results;
}

const MARK: Record<CheckStatus, string> = { ok: "ok  ", note: "note", warn: "warn", fail: "FAIL", skip: "skip" };

export async function doctorCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      local: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(DOCTOR_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const results = await runChecks(io, { local: values.local });
  const failed = results.filter((r) => r.status === "fail").length;
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ ok: failed === 0, checks: results }, null, 2)}\n`);
  } else {
    const lines = results.flatMap((r) => [`[${MARK[r.status]}] ${r.name}: ${r.detail}`, ...(r.fix ? [`       fix: ${r.fix}`] : [])]);
    lines.push("", failed === 0 ? "Everything needed is in place." : `${failed} check(s) failed.`);
    io.stdout.write(`${lines.join("\n")}\n`);
  }
  return failed === 0 ? EXIT.ok : EXIT.error;
}
