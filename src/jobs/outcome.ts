import { Cancelled, ConfigError, ExecutorError, WorkspaceError } from "../errors.js";
import { codeFence, redactSecrets } from "../review/sanitize.js";
import type { Conclusion } from "../github/checks.js";
import type { FinalRunStatus } from "../store/runs.js";

export interface FailureReport {
  conclusion: Conclusion;
  title: string;
  /** Markdown for the check run or a reply; free of secrets and stack traces. */
  summary: string;
  /** True for bugs (unexpected errors) that deserve an error-level log. */
  unexpected: boolean;
}

/** The one place errors become what users see. */
export function describeFailure(err: unknown, known: readonly string[], jobId: string, agent = "Codex"): FailureReport {
  const clean = (s: string): string => redactSecrets(s, known);
  if (err instanceof ConfigError) {
    return {
      conclusion: "failure",
      title: "Invalid codex-pr-bot configuration",
      summary: `${clean(err.message)}. Nothing was run.\n\n${codeFence(clean(err.details))}\n\nFix the file on the default branch; see the configuration reference in the README.`,
      unexpected: false,
    };
  }
  if (err instanceof Cancelled) {
    return { conclusion: "cancelled", title: "Cancelled", summary: clean(err.message), unexpected: false };
  }
  if (err instanceof WorkspaceError) {
    return {
      conclusion: "failure",
      title: "Could not check out the pull request",
      summary: clean(err.message),
      unexpected: false,
    };
  }
  if (err instanceof ExecutorError) {
    const title =
      err.kind === "timeout"
        ? `${agent} timed out`
        : err.kind === "rate-limit"
          ? `${agent} hit a rate or usage limit`
          : err.kind === "invalid-output"
            ? `${agent} returned an unusable result`
            : `${agent} failed`;
    const detail = err.detail.trim() ? `\n\n<details><summary>Details</summary>\n\n${codeFence(clean(err.detail))}\n\n</details>` : "";
    return {
      conclusion: err.kind === "timeout" ? "timed_out" : "failure",
      title,
      summary: `${clean(err.message)}${detail}`,
      unexpected: false,
    };
  }
  return {
    conclusion: "failure",
    title: "Internal error",
    summary: `codex-pr-bot hit an unexpected error and stopped. The operator can find it in the logs under job id \`${jobId}\`.`,
    unexpected: true,
  };
}

/** How a check-run conclusion reads in the run history. */
export function runStatusOf(conclusion: Conclusion): FinalRunStatus {
  switch (conclusion) {
    case "cancelled":
      return "cancelled";
    case "timed_out":
      return "timed_out";
    case "failure":
    case "action_required":
      return "failed";
    default:
      return "succeeded";
  }
}
