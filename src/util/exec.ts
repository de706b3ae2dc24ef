import { spawn } from "node:child_process";

/**
 * The only place that spawns processes (git, codex, verify commands). It exists so every child gets
 * the same guarantees: an explicit environment (nothing inherited by accident), stdin always closed
 * (codex waits forever on an open stdin), its own process group so a timeout or abort kills the whole
 * tree, and bounded memory however much the child prints.
 */

export interface ExecOptions {
  cwd: string;
  /** The complete environment of the child. Nothing is inherited from this process. */
  env: Record<string, string>;
  /** Written to stdin, which is then closed. Without it stdin is closed at once. */
  input?: string;
  /** Wall-clock limit; the whole process group is killed when it passes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called for every complete stdout line, as it arrives (for streaming JSONL). */
  onStdoutLine?: (line: string) => void;
  /** Bytes of stdout/stderr kept in the result (the tail is kept). Default 1 MiB each. */
  maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL. Default 2 s. */
  killGraceMs?: number;
  /**
   * Run the child as this OS user/group (needs a root parent). Node then also drops the parent's
   * supplementary groups, so the child has exactly these ids (used to run the agent unprivileged).
   */
  uid?: number;
  gid?: number;
  /** Open descriptors handed to the child as fds 3, 4, … (the jail binds directories through them). */
  extraFds?: readonly number[];
}

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Tail of stdout, at most maxOutputBytes. */
  stdout: string;
  /** Bytes the child wrote to stdout in all; more than maxOutputBytes means `stdout` is only the tail. */
  stdoutBytes: number;
  /** Tail of stderr, at most maxOutputBytes. */
  stderr: string;
  /** True when our timeout killed it. */
  timedOut: boolean;
  /** True when the abort signal killed it. */
  aborted: boolean;
  durationMs: number;
}

export class SpawnError extends Error {
  override readonly name = "SpawnError";
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

/** Keeps the last `limit` bytes of a stream without holding the rest. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Every byte seen, kept or not: callers must be able to tell a complete output from a cut one. */
  total = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.total += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }
  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString("utf8");
  }
}

export function run(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const started = Date.now();
  const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const grace = options.killGraceMs ?? 2000;

  return new Promise<ExecResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ exitCode: null, signal: null, stdout: "", stdoutBytes: 0, stderr: "", timedOut: false, aborted: true, durationMs: 0 });
      return;
    }
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe", ...(options.extraFds ?? [])],
      detached: true, // own process group: kill(-pid) reaches grandchildren too
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });

    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    let pending = "";
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnFailed = false;

    const killTree = (): void => {
      if (child.pid === undefined) return;
      signalGroup(child.pid, "SIGTERM");
      killTimer ??= setTimeout(() => signalGroup(child.pid!, "SIGKILL"), grace);
    };

    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            killTree();
          }, options.timeoutMs)
        : undefined;
    const onAbort = (): void => {
      aborted = true;
      killTree();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });

    child.on("error", (err: NodeJS.ErrnoException) => {
      spawnFailed = true;
      cleanup();
      reject(new SpawnError(`could not start ${file}: ${err.code ?? err.message}`));
    });

    const stdoutStream = child.stdout!;
    const stderrStream = child.stderr!;
    const stdinStream = child.stdin!;
    stdoutStream.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      if (!options.onStdoutLine) return;
      pending += chunk.toString("utf8");
      // A single line is capped too: a child printing one endless line must not grow memory.
      if (pending.length > limit && !pending.includes("\n")) pending = pending.slice(-limit);
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.length > 0) options.onStdoutLine(line);
      }
    });
    stderrStream.on("data", (chunk: Buffer) => stderr.push(chunk));

    // EPIPE when the child exits without reading its input is not our failure.
    stdinStream.on("error", () => undefined);
    stdinStream.end(options.input ?? "");

    child.on("close", (code, signal) => {
      if (spawnFailed) return;
      cleanup();
      if (options.onStdoutLine && pending.length > 0) options.onStdoutLine(pending);
      resolve({
        exitCode: code,
        signal,
        stdout: stdout.toString(),
        stdoutBytes: stdout.total,
        stderr: stderr.toString(),
        timedOut,
        aborted,
        durationMs: Date.now() - started,
      });
    });

    function cleanup(): void {
      if (timer) clearTimeout(timer);
      // A pending SIGKILL escalation is left to fire: the direct child may be gone while a grandchild
      // that ignores SIGTERM (and does not hold our pipes) lives on in the group.
      options.signal?.removeEventListener("abort", onAbort);
    }
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Variables every child may see when they are set: locale and timezone only, nothing secret. */
export const BASE_ENV_ALLOWLIST = ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ"] as const;

/**
 * Builds a child environment from an allowlist of names taken from `source`, plus explicit values.
 * Allowlisting (rather than deleting known secrets) means a secret added to the app's environment
 * later is still kept from agents by default.
 */
export function buildEnv(
  allow: readonly string[],
  extra: Record<string, string | undefined> = {},
  source: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of allow) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined) env[name] = value;
  }
  return env;
}
