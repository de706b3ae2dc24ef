import { codeSpan } from "../review/sanitize.js";
import type { Trigger } from "../types.js";

/**
 * How the pipeline talks about whoever asked for a job. A command's author is a GitHub login and is
 * @-mentioned so they are notified; a dispatcher's `requestedBy` is a free label from the operator's
 * environment and is only quoted, so it can never ping an unrelated GitHub user.
 */

/** "@login " for a command, "" otherwise: put in front of a reply. */
export function mentionPrefix(trigger: Trigger): string {
  return trigger.kind === "command" || trigger.kind === "button" ? `@${trigger.sender} ` : "";
}

/**
 * Whether someone asked for the job and waits for an answer in the PR conversation (a command, a
 * dispatch). Automatic reviews answer through their check run only.
 */
export function expectsReply(trigger: Trigger): boolean {
  return trigger.kind === "command" || trigger.kind === "dispatch" || trigger.kind === "button";
}

/** The footnote of a reply to a dispatched job, saying who asked and how; "" for other triggers. */
export function requestNote(trigger: Trigger): string {
  return trigger.kind === "dispatch" ? `\n\n<sub>Requested by ${codeSpan(trigger.requestedBy)} through the codex-pr-bot MCP server.</sub>` : "";
}

/** One line for the runs page and the `runs` command. */
export function describeTrigger(trigger: Trigger): string {
  switch (trigger.kind) {
    case "event":
      return `${trigger.event}.${trigger.action} by ${trigger.sender}`;
    case "command":
      return `@${trigger.executor} command by ${trigger.sender}`;
    case "dispatch":
      return `${trigger.via.toUpperCase()} dispatch by ${trigger.requestedBy}${trigger.executor ? ` (${trigger.executor})` : ""}`;
    case "button":
      return `"${trigger.action === "fix" ? "Fix findings" : "Re-review"}" button by ${trigger.sender}`;
  }
}
