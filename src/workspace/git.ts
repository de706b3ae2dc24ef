import { Cancelled, WorkspaceError } from "../errors.js";
import { buildEnv, run, SpawnError, type ExecResult } from "../util/exec.js";

/**
 * The only place that runs git. Every call gets the same hardened environment because the trees we
 * check out are hostile (PR content) and the repositories may have been touched by an earlier job's
 * agent: nothing from the host's git config, no hooks, no helpers, no prompts, and the installation
 * token only ever in this process's environment, never in argv (world-readable in /proc) or a file.
 */

export interface GitOptions {
  cwd: string;
  /** Installation token for this command only; sent as an HTTP header, never stored. */
  token?: string | null;
  signal?: AbortSignal;
  timeoutMs?: number;
  input?: string;
  /** Repository to use. Given explicitly so git never trusts a `.git` it finds in a (hostile) tree. */
  gitDir?: string;
  workTree?: string;
  /** HOME for git: an empty directory we own. Default /dev/null, where nothing can be read. */
  home?: string;
  /** Most stdout bytes accepted; more is an error, never a silently truncated result. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Non-zero exit codes that still mean success and return stdout (e.g. 1 from `merge-tree` on conflicts). */
  okExitCodes?: readonly number[];
}

/** What every git call of one job shares: HOME, time limit, cancellation. */
export type GitContext = Pick<GitOptions, "home" | "timeoutMs" | "signal">;

const DEFAULT_MAX_OUTPUT = 1024 * 1024;
const STDERR_TAIL_CHARS = 600;
const STDERR_TAIL_LINES = 6;

/**
 * Config that outranks anything in the repository's own config file, which a job's agent may have
 * written to through its worktree.
 */
const HARDENING: readonly (readonly [string, string])[] = [
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["core.attributesFile", "/dev/null"],
  ["core.excludesFile", "/dev/null"],
  ["core.symlinks", "true"],
  ["core.protectNTFS", "true"],
  ["core.protectHFS", "true"],
  ["core.logAllRefUpdates", "false"],
  // Paths in diffs as UTF-8 rather than octal escapes, like GitHub shows them.
  ["core.quotePath", "false"],
  ["credential.helper", ""],
  // Only the transports a clone URL may use; `ext::` runs arbitrary commands.
  ["protocol.allow", "never"],
  ["protocol.https.allow", "always"],
  ["protocol.http.allow", "always"],
  ["protocol.file.allow", "user"],
  ["protocol.ext.allow", "never"],
  ["submodule.recurse", "false"],
  ["fetch.recurseSubmodules", "false"],
  ["safe.bareRepository", "explicit"],
  // A detached auto-gc would outlive the process-group kill of a timed-out or cancelled fetch.
  ["gc.autoDetach", "false"],
  ["maintenance.autoDetach", "false"],
  ["advice.detachedHead", "false"],
  ["init.defaultBranch", "main"],
  ["color.ui", "false"],
];

const ENV_ALLOWLIST = ["PATH", "LANG", "LC_ALL", "TZ"];

/** The `Authorization` value GitHub accepts for an installation token over git's smart HTTP. */
export function basicAuth(token: string): string {
  return Buffer.from(`x-access-token:${token}`, "utf8").toString("base64");
}

export function gitEnv(opts: Pick<GitOptions, "token" | "home">): Record<string, string> {
  const config = [...HARDENING];
  if (opts.token) config.push(["http.extraHeader", `Authorization: Basic ${basicAuth(opts.token)}`]);
  const home = opts.home ?? "/dev/null";
  const extra: Record<string, string> = {
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_SYSTEM: "/dev/null",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ATTR_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    GIT_LFS_SKIP_SMUDGE: "1",
    GIT_NO_REPLACE_OBJECTS: "1",
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([key, value], i) => {
    extra[`GIT_CONFIG_KEY_${i}`] = key;
    extra[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return buildEnv(ENV_ALLOWLIST, extra);
}

/** Removes the token (raw and as sent) and any `user:pass@` credentials in URLs from git's output. */
export function redactSecrets(text: string, token?: string | null): string {
  let out = text;
  if (token) {
    for (const secret of [basicAuth(token), token]) out = out.split(secret).join("***");
  }
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, "$1***@");
}

function stderrTail(stderr: string, token?: string | null): string {
  const lines = redactSecrets(stderr, token)
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const tail = lines.slice(-STDERR_TAIL_LINES).join(" | ");
  if (tail.length === 0) return "no error output";
  return tail.length > STDERR_TAIL_CHARS ? `…${tail.slice(-STDERR_TAIL_CHARS)}` : tail;
}

function globalArgs(opts: GitOptions): string[] {
  const args: string[] = [];
  if (opts.gitDir !== undefined) args.push(`--git-dir=${opts.gitDir}`);
  if (opts.workTree !== undefined) args.push(`--work-tree=${opts.workTree}`);
  return args;
}

async function spawnGit(args: string[], opts: GitOptions, limit: number): Promise<ExecResult> {
  try {
    return await run("git", [...globalArgs(opts), ...args], {
      cwd: opts.cwd,
      env: gitEnv(opts),
      input: opts.input,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      maxOutputBytes: limit,
    });
  } catch (err) {
    if (err instanceof SpawnError) throw new WorkspaceError(`git ${args[0] ?? ""} could not be started: ${err.message}`);
    throw err;
  }
}

/** Runs git and returns its stdout; throws WorkspaceError on any failure, Cancelled when aborted. */
export async function git(args: string[], opts: GitOptions): Promise<string> {
  const sub = args[0] ?? "";
  const limit = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const result = await spawnGit(args, opts, limit);
  if (result.aborted) throw new Cancelled(`git ${sub} was cancelled`);
  if (result.timedOut) {
    throw new WorkspaceError(`git ${sub} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`);
  }
  const ok = result.exitCode === 0 || (result.exitCode !== null && (opts.okExitCodes ?? []).includes(result.exitCode));
  if (!ok) throw new WorkspaceError(`git ${sub} failed: ${stderrTail(result.stderr, opts.token)}`);
  if (result.stdoutBytes > limit) {
    throw new WorkspaceError(`git ${sub} printed more than ${limit} bytes`);
  }
  return result.stdout;
}
