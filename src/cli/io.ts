import { createRequire } from "node:module";

/** What a command may touch of the outside world; tests hand in their own. */
export interface CliIO {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM by the entry point. */
  signal?: AbortSignal;
}

/**
 * Exit codes, documented in docs/cli.md: 0 success, 1 error (bad arguments, broken set-up, failed
 * run), 2 findings at or above `--fail-on`. Kept apart so a CI gate can tell "the code has problems"
 * from "the tool could not run".
 */
export const EXIT = { ok: 0, error: 1, findings: 2 } as const;

/** A bad command line: printed with a pointer to --help, exit 1. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("../../package.json") as { version: string }).version;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const details = (err as { details?: unknown }).details;
    return typeof details === "string" && details.trim() !== "" ? `${err.message}\n${details}` : err.message;
  }
  return String(err);
}
