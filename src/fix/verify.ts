import { Cancelled } from "../errors.js";
import type { CodexSandbox } from "../executors/sandbox.js";
import { redactSecrets } from "../review/sanitize.js";

/** What a `fix.verify` run came to, for the fix PR body and the local report. */
export interface VerifyOutcome {
  command: string;
  passed: boolean;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** Last lines of the combined output, already redacted. */
  outputTail: string;
  /** Set when the command could not be run at all. */
  error?: string;
  /** Set when it ran into the jail's process or memory limit: which one, and the variable that sets it. */
  limit?: string;
}

/** Characters of the verify output shown in a fix PR body. */
export const OUTPUT_TAIL_CAP = 4_000;

/** Lines of the verify command's output kept for the fix PR body / the local report. */
const VERIFY_TAIL_LINES = 60;

/**
 * Runs `fix.verify` in a fix's worktree inside codex's sandbox (the app's and the local fix alike).
 * Never throws except on cancellation: a verify that cannot start is a failed verify, with the reason.
 */
export async function runVerifyCommand(
  sandbox: CodexSandbox,
  options: { dir: string; command: string; timeoutMs: number; secrets: readonly string[]; signal?: AbortSignal; onError?: (err: unknown) => void },
): Promise<VerifyOutcome> {
  const { dir, command, timeoutMs, secrets, signal } = options;
  const started = Date.now();
  try {
    const r = await sandbox.run({ cwd: dir, command, timeoutMs, signal });
    return {
      command,
      passed: r.exitCode === 0 && !r.timedOut,
      exitCode: r.exitCode,
      timedOut: r.timedOut,
      durationMs: r.durationMs,
      outputTail: tailOf(redactSecrets(r.output, secrets)),
      ...(r.limitHit ? { limit: r.limitHit } : {}),
    };
  } catch (err) {
    if (err instanceof Cancelled) throw err;
    options.onError?.(err);
    const message = err instanceof Error ? err.message : String(err);
    return { command, passed: false, exitCode: null, timedOut: false, durationMs: Date.now() - started, outputTail: "", error: redactSecrets(message, secrets) };
  }
}

function tailOf(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").trimEnd().split("\n").slice(-VERIFY_TAIL_LINES).join("\n");
  return lines.length > OUTPUT_TAIL_CAP ? `…${lines.slice(-(OUTPUT_TAIL_CAP - 1))}` : lines;
}
