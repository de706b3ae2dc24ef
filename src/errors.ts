/**
 * The few error classes the job boundary maps to a user-facing outcome. Every message here may be
 * shown in a check run, so it must be written for the PR author and never include secrets.
 */

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Human-readable list of problems (z.prettifyError output or a parse error). */
  constructor(message: string, readonly details: string) {
    super(message);
  }
}

export class WorkspaceError extends Error {
  override readonly name = "WorkspaceError";
}

export type ExecutorFailure =
  | "exit"          // non-zero exit code
  | "timeout"       // killed by our wall clock
  | "turn-failed"   // the CLI reported a failed turn
  | "invalid-output" // final message missing, not JSON, or not matching the schema
  | "spawn"         // the CLI could not be started
  | "rate-limit";   // provider said 429 / usage limit

export class ExecutorError extends Error {
  override readonly name = "ExecutorError";
  constructor(
    message: string,
    readonly kind: ExecutorFailure,
    /** Tail of the agent's stderr/last error, already free of secrets, for logs and the check run. */
    readonly detail: string = "",
  ) {
    super(message);
  }
}

/** The job was cancelled (superseded by a newer push, or the app is shutting down). */
export class Cancelled extends Error {
  override readonly name = "Cancelled";
}
