/**
 * Fix-ups for pull requests from forks. The bot never pushes to a fork and never opens a PR against
 * one: the change is posted as a patch in a collapsible comment that `git apply` takes as is, plus
 * ```suggestion blocks on the PR's own diff lines where a hunk fits there exactly. Pure.
 */
import { commentableLines, parseDiff } from "../review/diff.js";
import { codeFence, codeSpan, sanitizeAgentMarkdown } from "../review/sanitize.js";
import type { DiffFile, DiffLine } from "../types.js";
import { agentLabel, bestOfTwoSection, changesTable, outdatedNote, verificationFailed, verifySection, type FixReport } from "./body.js";
import { summarizeChanges } from "./collect.js";

const COMMENT_CAP = 65_000;
const SUMMARY_CAP = 6_000;
/** Room for everything around the patch. */
const FRAME_RESERVE = 3_000;
export const MAX_SUGGESTIONS = 20;

function targetsList(r: FixReport): string {
  if (r.targets.length === 0) return "";
  return `Addresses: ${r.targets.map((t) => (t.url ? `[${codeSpan(t.title.slice(0, 80))}](${t.url})` : codeSpan(t.title.slice(0, 80)))).join(", ")}.`;
}

/**
 * The comment for a fork PR. When the patch does not fit in one comment it is left out and the
 * comment says so (GitHub caps comments at 65,536 characters).
 */
export function patchComment(r: FixReport, patch: string): string {
  const who = r.requestedBy ? `@${r.requestedBy} ` : "";
  const what = r.mode === "tests" ? "tests" : "a fix";
  const parts: string[] = [
    `${who}${agentLabel(r.agent)} wrote ${what} for this pull request (${summarizeChanges(r.changes)}). The pull request comes from a fork, ` +
      "so codex-pr-bot does not push to it or open a pull request against it: apply the patch below to your branch if you want it.",
  ];
  const note = outdatedNote(r);
  if (note) parts.push(note);
  if (verificationFailed(r)) parts.push("> [!WARNING]\n> **Verification failed** on this patch; see below.");
  const targets = targetsList(r);
  if (targets) parts.push(targets);

  const tail: string[] = [];
  if (r.verify) tail.push(`**Verification**\n\n${verifySection(r.verify)}`);
  const best = bestOfTwoSection(r);
  if (best) tail.push(`**Best of two**\n\n${best}`);
  const summary = sanitizeAgentMarkdown(r.agentMessage, { maxLength: SUMMARY_CAP, known: r.knownSecrets }).trim();
  if (summary !== "") tail.push(`<details>\n<summary>${agentLabel(r.agent)}'s summary</summary>\n\n${summary}\n\n</details>`);
  tail.push(`<sub>Made against \`${r.headSha.slice(0, 12)}\`.</sub>`);

  const fixed = [...parts, ...tail].join("\n\n").length;
  const block = codeFence(patch, "diff");
  if (fixed + block.length + FRAME_RESERVE <= COMMENT_CAP) {
    parts.push(
      `<details>\n<summary>Patch (${summarizeChanges(r.changes)}), ready for <code>git apply</code></summary>\n\n${block}\n\n</details>`,
      "To apply it: save the block above as `codex-fix.patch` in your checkout of the branch " +
        `${codeSpan(r.headRef)}, then run \`git apply codex-fix.patch\` and commit.`,
    );
  } else {
    parts.push(
      `The patch is ${patch.length.toLocaleString("en-US")} characters, too large for a comment, so it is not posted. Files it changes:\n\n${changesTable(r.changes)}`,
    );
  }
  return [...parts, ...tail].join("\n\n");
}

export interface Suggestion {
  path: string;
  startLine: number;
  endLine: number;
  /** Replacement text for startLine..endLine, without a trailing newline (may be "" to delete them). */
  replacement: string;
}

/**
 * Hunks of the fix that replace lines GitHub accepts a comment on (RIGHT side of the PR diff, all
 * within one of its hunks), as suggestions. A hunk that only inserts lines is widened to a
 * neighbouring line (the next one if it fits, else the previous one): a suggestion replaces lines.
 */
export function suggestionsFromPatch(patch: string, prFiles: readonly DiffFile[]): Suggestion[] {
  const prByPath = new Map(prFiles.map((f) => [f.path, f]));
  const out: Suggestion[] = [];
  // Suggestions are extras beside the whole patch: a file whose diff cannot be read gets none, and
  // the other files still get theirs.
  for (const file of parseDiff(patch).files) {
    if (file.status !== "modified" || file.binary) continue;
    const prFile = prByPath.get(file.path);
    if (!prFile || prFile.binary || prFile.status === "deleted") continue;
    const allowed = commentableLines(prFile);
    for (const hunk of file.hunks) {
      const options = [hunkSuggestion(file.path, hunk.lines, "after"), hunkSuggestion(file.path, hunk.lines, "before")];
      const chosen = options.find((c): c is Suggestion => c !== null && fits(c, allowed));
      if (chosen) out.push(chosen);
    }
  }
  return out.slice(0, MAX_SUGGESTIONS);
}

/**
 * The smallest replacement covering a hunk's changes. A hunk that only inserts lines takes in the
 * unchanged line after the insertion (`prefer` "after") or before it, so it replaces something.
 */
function hunkSuggestion(path: string, lines: readonly DiffLine[], prefer: "after" | "before"): Suggestion | null {
  let first = lines.findIndex((l) => l.kind !== "context");
  let last = lines.length - 1 - [...lines].reverse().findIndex((l) => l.kind !== "context");
  if (first < 0) return null;
  if (!lines.slice(first, last + 1).some((l) => l.kind === "del")) {
    const canAfter = last < lines.length - 1;
    const canBefore = first > 0;
    if (prefer === "after" ? canAfter : !canBefore && canAfter) last++;
    else if (canBefore) first--;
    else return null;
  }
  const span = lines.slice(first, last + 1);
  const old = span.filter((l) => l.oldLine !== null).map((l) => l.oldLine!);
  if (old.length === 0) return null;
  return {
    path,
    startLine: Math.min(...old),
    endLine: Math.max(...old),
    replacement: span
      .filter((l) => l.kind !== "del")
      .map((l) => l.text)
      .join("\n"),
  };
}

function fits(s: Suggestion, allowed: ReadonlyMap<number, number>): boolean {
  const hunk = allowed.get(s.startLine);
  if (hunk === undefined) return false;
  for (let line = s.startLine; line <= s.endLine; line++) if (allowed.get(line) !== hunk) return false;
  return true;
}

/** The body of one suggestion comment; null when the code could be mistaken for our markers. */
export function suggestionBody(s: Suggestion): string | null {
  if (/codex-pr-bot:fp:/i.test(s.replacement)) return null;
  return `From the suggested fix (the full patch is in the conversation):\n\n${codeFence(s.replacement, "suggestion")}`;
}
