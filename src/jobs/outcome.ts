import { Cancelled, ConfigError, ExecutorError, WorkspaceError, type AgentSpend } from "../errors.js";
import { formatUsd } from "../executors/pricing.js";
import { count, tokensOf } from "../executors/token-ceiling.js";
import { codeFence, redactSecrets } from "../review/sanitize.js";
import type { Conclusion } from "../github/checks.js";
import { AmbiguousWriteError, GitHubUnavailableError } from "../github/policy.js";
import type { FinalRunStatus, RunResult } from "../store/runs.js";

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
    const detail = err.detail.trim() ? `\n\n<details><summary>Details</summary>\n\n${codeFence(clean(err.detail))}\n\n</details>` : "";
    const spent = err.spent ? `\n\n${spentLine(err.spent)}` : "";
    return {
      conclusion: err.kind === "timeout" ? "timed_out" : "failure",
      title: failureTitle(err, agent),
      summary: `${clean(err.message)}${spent}${detail}`,
      unexpected: false,
    };
  }
  const github = gitHubFailure(err);
  if (github) {
    return {
      conclusion: "failure",
      title: "GitHub failed",
      summary: `${clean(github)}\n\nThe agent's work is not lost: ask again with \`@codex review\` (or redeliver the event) and a review composed but not posted is posted without running the agent again.`,
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

/** What GitHub did wrong, when `err` is GitHub's failure rather than the bot's or the agent's; null otherwise. */
function gitHubFailure(err: unknown): string | null {
  if (err instanceof GitHubUnavailableError || err instanceof AmbiguousWriteError) return err.message;
  const status = (err as { status?: unknown } | null)?.status;
  const request = (err as { request?: { method?: string; url?: string } } | null)?.request;
  if (typeof status === "number" && request?.method && request.url) {
    const message = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 300) : "";
    return `GitHub answered ${status} to ${request.method} ${new URL(request.url, "https://api.github.com").pathname}${message ? `: ${message}` : ""}.`;
  }
  return null;
}

function failureTitle(err: ExecutorError, agent: string): string {
  switch (err.kind) {
    case "timeout":
      return `${agent} timed out`;
    case "rate-limit":
      return `${agent} hit a rate or usage limit`;
    case "invalid-output":
      return `${agent} returned an unusable result`;
    case "budget":
      return `${agent} stopped at its budget`;
    default:
      return `${agent} failed`;
  }
}

/** "Used before the run stopped: 5,300 tokens (5,000 input, 100 of them cached; 300 output), $0.0123." */
function spentLine(spent: AgentSpend): string {
  const u = spent.usage;
  const cost = spent.costUsd !== null ? `, ${formatUsd(spent.costUsd)}` : "";
  return (
    `Used before the run stopped: ${count(tokensOf(u))} tokens (${count(u.inputTokens)} input, ${count(u.cachedInputTokens)} of them cached; ` +
    `${count(u.outputTokens)} output)${cost}.`
  );
}

/**
 * What a failed job's run record keeps of the tokens and cost spent: the failed agents' own figures
 * (ExecutorError.spent), or nothing. Spread into RunResult where a failure settles the run.
 */
export function spentOf(err: unknown): Pick<RunResult, "usage" | "costUsd"> {
  if (!(err instanceof ExecutorError) || err.spent === null) return {};
  return { usage: err.spent.usage, ...(err.spent.costUsd !== null ? { costUsd: err.spent.costUsd } : {}) };
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
