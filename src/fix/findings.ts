/**
 * The findings a fix is asked to address, read back from what the bot posted earlier (inline
 * comments and the "outside the diff" list of its review bodies), or taken straight from a review
 * that just ran. Pure: the comments are fetched by github/fixups.ts.
 *
 * Everything parsed here is agent output that was sanitised when posted; it goes into the fix prompt
 * as a description of problems, fenced as data, never as instructions.
 */
import { extractFingerprints, fingerprint } from "../review/fingerprint.js";
import { stripHtmlComments } from "../review/sanitize.js";
import type { Finding, Priority } from "../types.js";

export interface FixTarget {
  title: string;
  priority: Priority | null;
  /** Repository-relative path and line range on the PR head, when known. */
  path: string | null;
  startLine: number | null;
  endLine: number | null;
  /** Markdown explanation (may include the suggested replacement). */
  body: string;
  /** Link to the comment that reported it, when there is one. */
  url: string | null;
  fingerprint: string | null;
}

/** An inline review comment as the API returns it (only the fields used here). */
export interface ReviewCommentLike {
  body: string;
  path: string;
  /** null when the comment is outdated: the code it was on has changed since. */
  line?: number | null;
  start_line?: number | null;
  html_url: string;
  in_reply_to_id?: number | null;
  user: { type: string } | null;
}

export interface ReviewLike {
  body: string | null;
  html_url: string;
  user: { type: string } | null;
}

const BODY_MAX = 4000;
const TITLE_MAX = 200;
/** More than this many findings in one fix makes a PR nobody wants to review. */
export const MAX_TARGETS = 20;

export function targetFromFinding(f: Finding): FixTarget {
  return {
    title: f.title,
    priority: f.priority,
    path: f.path,
    startLine: Math.min(f.startLine, f.endLine),
    endLine: Math.max(f.startLine, f.endLine),
    body: f.suggestion === null ? f.body : `${f.body}\n\nSuggested replacement for those lines:\n\n${fence(f.suggestion)}`,
    url: null,
    fingerprint: fingerprint(f),
  };
}

function fence(code: string): string {
  const longest = Math.max(0, ...[...code.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(Math.max(3, longest + 1));
  return `${ticks}\n${code}\n${ticks}`;
}

function priorityOf(text: string): Priority | null {
  const m = /!\[P([0-3]) Badge\]/.exec(text);
  return m ? (Number(m[1]) as Priority) : null;
}

/** The bold title after the badge: `**<sub><sub>![P1 Badge](…)</sub></sub>  Title**`. */
function titleOf(text: string): string | null {
  const m = /<\/sub><\/sub>\s+(.+?)\*\*[ \t]*$/m.exec(text);
  return m ? clip(m[1]!.trim(), TITLE_MAX) : null;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The explanation of an inline comment: everything but the title line, attribution and marker. */
function inlineBody(text: string): string {
  const lines = stripHtmlComments(text).split("\n");
  const start = lines.findIndex((l) => /<\/sub><\/sub>/.test(l));
  const rest = lines.slice(start + 1).filter((l) => !/^_Found by: /.test(l));
  return clip(rest.join("\n").trim(), BODY_MAX);
}

/** A bot's inline comment carrying a finding marker, as a fix target; null for anything else. */
export function targetFromComment(c: ReviewCommentLike): FixTarget | null {
  if (c.user?.type !== "Bot") return null;
  const fp = extractFingerprints(c.body)[0];
  if (fp === undefined) return null;
  const end = c.line ?? null;
  const start = c.start_line ?? end;
  return {
    title: titleOf(c.body) ?? "Finding",
    priority: priorityOf(c.body),
    path: c.path,
    startLine: start,
    endLine: end,
    body: inlineBody(c.body),
    url: c.html_url,
    fingerprint: fp,
  };
}

const OUTSIDE_HEADING = "### Findings outside the diff";
const LOCATION = /`([^`\n]+?):(\d+)(?:-(\d+))?`/;

/** Findings listed in a review body under "Findings outside the diff", each ending with its marker. */
export function targetsFromReviewBody(body: string, url: string): FixTarget[] {
  const at = body.indexOf(OUTSIDE_HEADING);
  if (at < 0) return [];
  const section = body.slice(at + OUTSIDE_HEADING.length);
  const targets: FixTarget[] = [];
  let from = 0;
  for (const m of section.matchAll(/<!-- codex-pr-bot:fp:([0-9a-f]+) -->/g)) {
    const entry = section.slice(from, m.index);
    from = m.index + m[0].length;
    const title = titleOf(entry);
    if (title === null) continue;
    const loc = LOCATION.exec(entry);
    const details = /<summary>Details<\/summary>\s*([\s\S]*?)<\/details>/.exec(entry);
    const start = loc ? Number(loc[2]) : null;
    targets.push({
      title,
      priority: priorityOf(entry),
      path: loc ? loc[1]! : null,
      startLine: start,
      endLine: loc ? Number(loc[3] ?? loc[2]) : null,
      body: clip(stripHtmlComments(details?.[1] ?? "").trim(), BODY_MAX),
      url,
      fingerprint: m[1]!,
    });
  }
  return targets;
}

/**
 * The open findings on a PR: root inline comments by bots that carry a marker and are not outdated
 * (an outdated comment sits on code that has changed since, so it is likely addressed), then the
 * outside-the-diff entries of bot reviews. One per fingerprint, most severe first, at most MAX_TARGETS.
 * `closed`: fingerprints whose threads are resolved or were dismissed (review/conversation.ts): a
 * person's decision stands, and a fixed finding is not fixed again.
 */
export function openTargets(comments: readonly ReviewCommentLike[], reviews: readonly ReviewLike[], closed: ReadonlySet<string> = new Set()): FixTarget[] {
  const found: FixTarget[] = [];
  for (const c of comments) {
    if (c.in_reply_to_id != null || c.line == null) continue;
    const t = targetFromComment(c);
    if (t) found.push(t);
  }
  for (const r of reviews) {
    if (r.user?.type !== "Bot" || !r.body) continue;
    found.push(...targetsFromReviewBody(r.body, r.html_url));
  }
  const seen = new Set<string>();
  const unique = found.filter((t) => {
    if (t.fingerprint !== null && closed.has(t.fingerprint)) return false;
    const key = t.fingerprint ?? `${t.path}:${t.endLine}:${t.title}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique
    .map((t, i) => ({ t, i }))
    .sort((a, b) => (a.t.priority ?? 4) - (b.t.priority ?? 4) || a.i - b.i)
    .map((x) => x.t)
    .slice(0, MAX_TARGETS);
}
