/**
 * What the conversation on a pull request says about the bot's findings, read from its review
 * threads (github/review-threads.ts fetches them). Pure.
 *
 * - **Open**: the bot's finding (its first comment carries a fingerprint marker), unresolved and not
 *   dismissed: an incremental review hands these to the agent to re-check.
 * - **Decided**: a person resolved the thread, or dismissed the finding with a reply ("won't fix",
 *   "false positive", …). A decided finding is never raised again, and `@codex fix` without a
 *   target leaves it alone.
 * - **Fixed**: the bot resolved the thread itself after an agent said the finding was fixed (its
 *   "Fixed in" reply carries FIXED_MARKER). Not raised again either, and not fixed again.
 */
import { extractFingerprints, normalizeTitle } from "./fingerprint.js";
import { stripHtmlComments } from "./sanitize.js";
import type { Finding, Priority } from "../types.js";

export interface ConversationComment {
  id: number;
  body: string;
  isBot: boolean;
}

export interface ConversationThread {
  id: string;
  isResolved: boolean;
  isOutdated: boolean;
  path: string;
  line: number | null;
  startLine: number | null;
  comments: ConversationComment[];
}

export interface OpenFinding {
  /** Short id the agent answers with ("F1"); stable only within one prompt. */
  id: string;
  threadId: string;
  /** The thread's first comment: replies go under it. */
  rootCommentId: number;
  fingerprint: string;
  path: string;
  /** Where GitHub places the thread now; null when the code it was on changed (outdated). */
  line: number | null;
  startLine: number | null;
  title: string;
  priority: Priority | null;
  /** GitHub says the lines it was on have changed since it was posted. */
  outdated: boolean;
}

export interface Decision {
  fingerprint: string;
  path: string;
  /** normalizeTitle of the finding's title: the same problem re-worded slightly keeps its decision. */
  titleKey: string;
  how: "resolved" | "dismissed" | "fixed";
}

export interface Conversation {
  open: OpenFinding[];
  decisions: Decision[];
}

export const EMPTY_CONVERSATION: Conversation = { open: [], decisions: [] };

/** In the bot's "Fixed in" reply: the thread was closed by the bot, not by a person. */
export const FIXED_MARKER = "<!-- codex-pr-bot:fixed -->";

/**
 * A person's reply that turns a finding down. Plain words people use in review threads; anything
 * else (a question, "good catch", a `@codex` command) leaves the finding open.
 */
const DISMISSAL =
  /\b(won'?t fix|wontfix|will not fix|not (?:a|an) (?:bug|issue|problem)|false positive|by design|as designed|working as intended|(?:is |was )?intended|intentional(?:ly)?|not applicable|not relevant|dismiss(?:ed|ing)?|ignore (?:this|it)|no need|not needed|not going to (?:fix|change))\b/i;

const COMMAND = /^\s*@(?:codex|claude)\b/im;

/** Whether a person's reply dismisses the finding it answers. */
export function isDismissal(body: string): boolean {
  const text = stripHtmlComments(body)
    .split("\n")
    .filter((l) => !/^\s*>/.test(l))
    .join("\n");
  if (COMMAND.test(text)) return false;
  return DISMISSAL.test(text);
}

/** The bold title after the priority badge of one of the bot's inline comments. */
function titleOf(body: string): string {
  const m = /<\/sub><\/sub>\s+(.+?)\*\*[ \t]*$/m.exec(body);
  return m ? m[1]!.trim() : "Finding";
}

function priorityOf(body: string): Priority | null {
  const m = /!\[P([0-3]) Badge\]/.exec(body);
  return m ? (Number(m[1]) as Priority) : null;
}

/** Reads the bot's findings and people's decisions on them out of a pull request's review threads. */
export function readConversation(threads: readonly ConversationThread[]): Conversation {
  const open: OpenFinding[] = [];
  const decisions: Decision[] = [];
  for (const thread of threads) {
    const root = thread.comments[0];
    if (!root?.isBot) continue;
    const fp = extractFingerprints(root.body)[0];
    if (fp === undefined) continue;
    const title = titleOf(root.body);
    const replies = thread.comments.slice(1);
    const fixedByBot = replies.some((c) => c.isBot && c.body.includes(FIXED_MARKER));
    const base = { fingerprint: fp, path: thread.path, titleKey: normalizeTitle(title) };
    if (thread.isResolved) {
      decisions.push({ ...base, how: fixedByBot ? "fixed" : "resolved" });
      continue;
    }
    if (replies.some((c) => !c.isBot && isDismissal(c.body))) {
      decisions.push({ ...base, how: "dismissed" });
      continue;
    }
    // A person reopened it after the bot marked it fixed: their call; the bot does not close it again.
    if (fixedByBot) continue;
    open.push({
      id: `F${open.length + 1}`,
      threadId: thread.id,
      rootCommentId: root.id,
      fingerprint: fp,
      path: thread.path,
      line: thread.line,
      startLine: thread.startLine,
      title,
      priority: priorityOf(root.body),
      outdated: thread.isOutdated,
    });
  }
  return { open, decisions };
}

/** Whether a new finding is one a person already decided on (same fingerprint, or same file and title). */
export function isDecided(f: Pick<Finding, "path" | "title">, fp: string, decisions: readonly Decision[]): boolean {
  const key = normalizeTitle(f.title);
  return decisions.some((d) => d.fingerprint === fp || (d.path === f.path && d.titleKey === key));
}

/** Fingerprints whose threads are closed (resolved by anyone, or dismissed): not to be fixed again. */
export function closedFingerprints(conversation: Conversation): Set<string> {
  return new Set(conversation.decisions.map((d) => d.fingerprint));
}

export interface SettledFindings {
  /** The agent says the new commits fixed these: resolve the thread, reply once. */
  fixed: OpenFinding[];
  /** Their code changed but the agent did not say fixed: left open, reported as outdated. */
  outdated: OpenFinding[];
  stillOpen: OpenFinding[];
}

/** What happens to each open finding after a review, from the ids the agent reported fixed. */
export function settleOpenFindings(open: readonly OpenFinding[], fixedIds: readonly string[]): SettledFindings {
  const fixedSet = new Set(fixedIds.map((id) => id.trim().toUpperCase()));
  const out: SettledFindings = { fixed: [], outdated: [], stillOpen: [] };
  for (const f of open) {
    if (fixedSet.has(f.id.toUpperCase())) out.fixed.push(f);
    else if (f.outdated) out.outdated.push(f);
    else out.stillOpen.push(f);
  }
  return out;
}

/** The reply under a fixed finding's thread. */
export function fixedReply(headSha: string): string {
  return `Fixed in ${headSha.slice(0, 7)}.\n\n${FIXED_MARKER}`;
}
