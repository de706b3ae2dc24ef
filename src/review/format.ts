import type { Finding, InlinePlacement, Mode, OutsidePlacement, Priority, Progress, ReviewOutcome, Usage } from "../types.js";
import type { UnparsedFile } from "./diff.js";
import { fingerprintMarker } from "./fingerprint.js";
import {
  codeFence,
  codeSpan,
  redactSecrets,
  sanitizeAgentMarkdown,
  stripHtmlComments,
  neutralizeMentions,
  truncate,
} from "./sanitize.js";

/**
 * Markdown for GitHub. Every piece of agent text passes through sanitize.ts on its way in here, and
 * every output respects GitHub's size limits, because an oversized body fails the whole request.
 */

const INLINE_COMMENT_CAP = 60_000;
const REVIEW_BODY_CAP = 65_000;
const CHECK_TEXT_CAP = 65_535;
const ANNOTATION_MESSAGE_BYTES = 64_000;
const ANNOTATION_TITLE_CAP = 255;
const TITLE_CAP = 200;
const EXPLANATION_CAP = 5_000;
const OUTSIDE_BODY_CAP = 10_000;
const PRIORITIES: readonly Priority[] = [0, 1, 2, 3];

export const PRIORITY_LABEL: Record<Priority, string> = { 0: "P0", 1: "P1", 2: "P2", 3: "P3" };

// Codex cloud's colours for P1 (orange) and P2 (yellow); P0 red and P3 lightgrey complete the scale.
const PRIORITY_COLOR: Record<Priority, string> = { 0: "red", 1: "orange", 2: "yellow", 3: "lightgrey" };

/** The shields.io badge Codex cloud puts in front of its review comments (tools parse it). */
export function priorityBadge(priority: Priority): string {
  const label = PRIORITY_LABEL[priority];
  return `![${label} Badge](https://img.shields.io/badge/${label}-${PRIORITY_COLOR[priority]}?style=flat)`;
}

/** Badge and bold title, laid out exactly like Codex cloud's comments. */
function titleLine(priority: Priority, title: string, known: readonly string[]): string {
  return `**<sub><sub>${priorityBadge(priority)}</sub></sub>  ${safeInline(title, known, TITLE_CAP)}**`;
}

/** Agent text that must stay on one line (titles, plan steps): no fences to close, only flattening. */
function safeInline(text: string, known: readonly string[], max: number): string {
  const flat = stripHtmlComments(redactSecrets(text, known)).replace(/\s+/g, " ").trim();
  const safe = neutralizeMentions(redactSecrets(flat, known));
  return safe.length <= max ? safe : `${safe.slice(0, max - 1).trimEnd()}…`;
}

// ---------------------------------------------------------------------------------------------
// Inline comments

export function formatInlineComment(
  p: InlinePlacement,
  opts: { fingerprint: string; knownSecrets: readonly string[]; agents?: string[] },
): string {
  const f = p.finding;
  const head = titleLine(f.priority, f.title, opts.knownSecrets);
  const tail: string[] = [];
  if (opts.agents && opts.agents.length > 0) {
    // Two independent agents reporting the same problem is the strongest signal a review can carry.
    const agreed = opts.agents.length > 1 ? " (agreed)" : "";
    tail.push(`_Found by: ${opts.agents.map(agentName).join(" and ")}${agreed}_`);
  }
  tail.push(fingerprintMarker(opts.fingerprint));

  const fixed = [head, ...tail].join("\n\n").length + 2;
  let suggestion = p.suggestionApplies ? suggestionBlock(f.suggestion, opts.knownSecrets) : null;
  // A suggestion cannot be shortened without becoming wrong; past half the budget, drop it instead.
  if (suggestion !== null && fixed + suggestion.length > INLINE_COMMENT_CAP / 2) suggestion = null;

  const reserved = fixed + (suggestion === null ? 0 : suggestion.length + 2);
  const body = sanitizeAgentMarkdown(f.body, { maxLength: INLINE_COMMENT_CAP - reserved, known: opts.knownSecrets });
  const parts = [head, body.trim(), suggestion ?? "", ...tail].filter((s) => s !== "");
  return truncate(parts.join("\n\n"), INLINE_COMMENT_CAP);
}

/**
 * The ```suggestion block, or null when it cannot be offered verbatim: redaction would change the
 * code, or it carries something shaped like our marker (it sits in a fence, so it can't be stripped).
 */
function suggestionBlock(suggestion: string | null, known: readonly string[]): string | null {
  if (suggestion === null) return null;
  if (redactSecrets(suggestion, known) !== suggestion || /codex-pr-bot:fp:/i.test(suggestion)) return null;
  return codeFence(suggestion, "suggestion");
}

function agentName(name: string): string {
  return name.replace(/[^A-Za-z0-9 ._-]/g, "");
}

// ---------------------------------------------------------------------------------------------
// Review body

const OUTSIDE_REASON: Record<OutsidePlacement["reason"], string> = {
  "file-not-in-diff": "file not changed in this pull request",
  "lines-not-in-diff": "lines outside the changed hunks",
  "file-deleted": "file deleted in this pull request",
  "binary-file": "binary file",
  "over-inline-limit": "over the inline comment limit",
  "rejected-inline": "GitHub did not accept it as an inline comment",
};

export interface ReviewBodyInput {
  outcome: ReviewOutcome;
  mode: "review" | "audit";
  inlineCount: number;
  outside: { placement: OutsidePlacement; fingerprint: string }[];
  duplicatesSkipped: number;
  belowThreshold: number;
  headSha: string;
  repoHtmlUrl: string;
  knownSecrets: readonly string[];
  /** Files whose diff could not be read: not reviewed, and the body says so with the reason. */
  unparsed?: readonly UnparsedFile[];
  /**
   * Characters the caller appends after this body (hidden fingerprint markers, notes): the findings
   * section shrinks to leave them room, so the posted body still fits GitHub's 65,535.
   */
  reserve?: number;
}

export function formatReviewBody(input: ReviewBodyInput): string {
  const known = input.knownSecrets;
  const head = [
    `## ${input.mode === "audit" ? "Codex security audit" : "Codex review"}`,
    verdictBlock(input.outcome, known),
    findingsLine(input),
  ].join("\n\n");
  const notes = [unparsedFilesSection(input.unparsed ?? [], known), ...reviewNotes(input)].filter((s) => s !== "");
  const footer = `<sub>Reviewed commit [\`${input.headSha.slice(0, 12)}\`](${input.repoHtmlUrl}/commit/${input.headSha}).</sub>`;

  const entries = input.outside.map((o) => outsideEntry(o.placement, o.fingerprint, input));
  const cap = Math.max(0, REVIEW_BODY_CAP - Math.max(0, input.reserve ?? 0));
  const section = fitOutsideSection(entries, cap - [head, ...notes, footer].join("\n\n").length - 4);
  return truncate([head, section, ...notes, footer].filter((s) => s !== "").join("\n\n"), cap);
}

const UNPARSED_SECTION_CAP = 10_000;
const UNPARSED_REASON_CAP = 200;

/**
 * The files left out because their diff could not be read, each with the reason; "" when none.
 * Path and reason are PR content (the reason quotes the offending line), so they are redacted,
 * stripped of anything that could pose as our hidden markers, flattened to one line and capped.
 */
export function unparsedFilesSection(files: readonly UnparsedFile[], known: readonly string[]): string {
  if (files.length === 0) return "";
  const n = files.length;
  const heading = `**${n} ${plural(n, "file")} not reviewed:** ${n === 1 ? "its" : "their"} diff could not be read.`;
  const entries: string[] = [];
  let size = heading.length;
  for (const file of files) {
    const entry = `- ${codeSpan(oneLine(file.path, known, UNPARSED_REASON_CAP))}: ${codeSpan(oneLine(file.reason, known, UNPARSED_REASON_CAP))}`;
    if (size + entry.length + 1 > UNPARSED_SECTION_CAP) break;
    entries.push(entry);
    size += entry.length + 1;
  }
  if (entries.length < n) entries.push(`- …and ${n - entries.length} more`);
  return `${heading}\n\n${entries.join("\n")}`;
}

/** One unreadable file for the check run's list of skipped files: path and reason, cleaned like the body's. */
export function unparsedFileLabel(file: UnparsedFile, known: readonly string[]): string {
  return `${oneLine(file.path, known, UNPARSED_REASON_CAP)} (its diff could not be read: ${oneLine(file.reason, known, UNPARSED_REASON_CAP)})`;
}

/** The check run's summary when no changed file is left to review: what the filters excluded, what could not be read. */
export function nothingToReviewSummary(skipped: readonly string[], unparsed: readonly UnparsedFile[], known: readonly string[]): string {
  const parts = [unparsedFilesSection(unparsed, known)];
  if (skipped.length > 0 || unparsed.length === 0) {
    const lead = unparsed.length > 0 ? "The other changed files are" : "Every changed file is";
    parts.push(`${lead} excluded by the path filters.\n\n${skipped.map((p) => `- \`${p}\``).join("\n")}`);
  }
  return truncate(parts.filter((s) => s !== "").join("\n\n"), CHECK_TEXT_CAP);
}

/** PR text for a one-line code span: redacted, no HTML comments, whitespace (U+2028 too) as spaces. */
function oneLine(text: string, known: readonly string[], max: number): string {
  const flat = redactSecrets(stripHtmlComments(redactSecrets(text, known)), known).replace(/\s+/g, " ").trim();
  // Never end on half a surrogate pair.
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, "").trimEnd()}…`;
}

function verdictBlock(outcome: ReviewOutcome, known: readonly string[]): string {
  const verdict = outcome.verdict === "patch is correct" ? "Patch is correct" : "Patch is incorrect";
  const explanation = sanitizeAgentMarkdown(outcome.explanation, { maxLength: EXPLANATION_CAP, known }).trim();
  const confidence = Number.isFinite(outcome.confidence) ? ` (confidence ${Math.round(outcome.confidence * 100)}%)` : "";
  return explanation === "" ? `**Verdict: ${verdict}**${confidence}` : `**Verdict: ${verdict}**${confidence}\n\n${explanation}`;
}

function findingsLine(input: ReviewBodyInput): string {
  const total = input.outcome.findings.length;
  if (total === 0 && input.inlineCount === 0 && input.outside.length === 0) {
    return input.duplicatesSkipped + input.belowThreshold === 0 ? "No issues found. 👍" : "No new findings to post.";
  }
  const where = [`${input.inlineCount} as inline ${plural(input.inlineCount, "comment")}`];
  if (input.outside.length > 0) where.push(`${input.outside.length} listed below (outside the diff)`);
  const counts = priorityCounts(input.outcome.findings);
  return `**${total} ${plural(total, "finding")}**${counts === "" ? "" : ` (${counts})`}: ${where.join(", ")}.`;
}

function reviewNotes(input: ReviewBodyInput): string[] {
  const notes: string[] = [];
  if (input.duplicatesSkipped > 0) {
    const n = input.duplicatesSkipped;
    notes.push(`_${n} ${plural(n, "finding")} already posted on this pull request ${n === 1 ? "was" : "were"} not repeated._`);
  }
  if (input.belowThreshold > 0) {
    const n = input.belowThreshold;
    notes.push(`_${n} ${plural(n, "finding")} below the configured minimum severity ${n === 1 ? "was" : "were"} not posted._`);
  }
  return notes;
}

/**
 * One finding of the "outside the diff" section, rendered on demand: a 3,000-file pull request can
 * have thousands, of which only what fits in 65,535 characters is ever shown.
 */
interface OutsideEntry {
  /** Title, location and marker. */
  compact(): string;
  /** compact() plus the explanation. */
  full(): string;
}

function outsideEntry(placement: OutsidePlacement, fp: string, input: ReviewBodyInput): OutsideEntry {
  const f = placement.finding;
  let head: { title: string; where: string; marker: string } | null = null;
  let compact: string | null = null;
  let full: string | null = null;
  const parts = (): { title: string; where: string; marker: string } =>
    (head ??= {
      title: titleLine(f.priority, f.title, input.knownSecrets),
      where: `${locationLink(f, placement.reason, input)} · ${OUTSIDE_REASON[placement.reason]}`,
      marker: fingerprintMarker(fp),
    });
  return {
    compact: () => {
      const { title, where, marker } = parts();
      return (compact ??= `${title}\n${where}\n\n${marker}`);
    },
    full: () => {
      if (full !== null) return full;
      const { title, where, marker } = parts();
      const body = sanitizeAgentMarkdown(f.body, { maxLength: OUTSIDE_BODY_CAP, known: input.knownSecrets }).trim();
      const details = body === "" ? "" : `<details>\n<summary>Details</summary>\n\n${body}\n\n</details>\n\n`;
      return (full = `${title}\n${where}\n\n${details}${marker}`);
    },
  };
}

function locationLink(f: Finding, reason: OutsidePlacement["reason"], input: ReviewBodyInput): string {
  const start = Math.min(f.startLine, f.endLine);
  const end = Math.max(f.startLine, f.endLine);
  const lines = start === end ? `#L${start}` : `#L${start}-L${end}`;
  const label = codeSpan(`${f.path}${start === end ? `:${start}` : `:${start}-${end}`}`);
  // The head commit has no blob for a deleted file; a link would only lead to a 404.
  if (reason === "file-deleted") return label;
  const encodedPath = f.path.split("/").map(encodeURIComponent).join("/");
  return `[${label}](${input.repoHtmlUrl}/blob/${input.headSha}/${encodedPath}${lines})`;
}

/**
 * Fits the outside-diff entries into `budget`: first the details of the last entries go (their
 * title, link and marker stay), then whole entries from the end, each step saying what was left out.
 */
function fitOutsideSection(entries: OutsideEntry[], budget: number): string {
  if (entries.length === 0) return "";
  const heading = "### Findings outside the diff\n\nThese could not be attached to changed lines.";
  const noteReserve = 200;
  // Whole entries without details, from the first, as many as fit: entries past that are never rendered.
  let total = heading.length + noteReserve;
  let shown = 0;
  while (shown < entries.length && total + (entries[shown] as OutsideEntry).compact().length + 2 <= budget) {
    total += (entries[shown] as OutsideEntry).compact().length + 2;
    shown++;
  }
  // When every entry fits, the details of the first ones go back in while they fit (the last ones'
  // details are the first to go). When not, no entry keeps its details.
  let withDetails = 0;
  while (shown === entries.length && withDetails < shown) {
    const e = entries[withDetails] as OutsideEntry;
    const extra = e.full().length - e.compact().length;
    if (total + extra > budget) break;
    total += extra;
    withDetails++;
  }
  const parts = [heading, ...entries.slice(0, shown).map((e, i) => (i < withDetails ? e.full() : e.compact()))];
  const trimmedDetails = Math.max(0, shown - withDetails);
  if (trimmedDetails > 0) {
    parts.push(`_Details of the last ${trimmedDetails} ${plural(trimmedDetails, "finding")} were left out to stay within GitHub's size limit._`);
  }
  const omitted = entries.length - shown;
  if (omitted > 0) {
    parts.push(`_${omitted} more ${plural(omitted, "finding")} outside the diff ${omitted === 1 ? "was" : "were"} omitted to stay within GitHub's size limit._`);
  }
  return parts.join("\n\n");
}

// ---------------------------------------------------------------------------------------------
// Check run

export interface CheckOutputInput {
  outcome: ReviewOutcome | null;
  mode: Mode;
  durationMs: number;
  model: string | null;
  usage: Usage | null;
  inlineCount: number;
  outsideCount: number;
  duplicatesSkipped: number;
  filesReviewed: number;
  filesSkipped: string[];
  error?: string;
}

const SKIPPED_INLINE_MAX = 10;
const SKIPPED_LIST_MAX = 300;

export function formatCheckOutput(input: CheckOutputInput): { title: string; summary: string } {
  const parts: string[] = [];
  if (input.error !== undefined) {
    parts.push(`**Error:** ${sanitizeAgentMarkdown(input.error, { maxLength: 10_000, known: [] }).trim()}`);
  }
  if (input.outcome) {
    parts.push(verdictBlock(input.outcome, []));
    parts.push(severityTable(input.outcome.findings));
    parts.push(
      `Inline comments: ${input.inlineCount} · In the review body: ${input.outsideCount} · ` +
        `Already posted (skipped): ${input.duplicatesSkipped}`,
    );
  }
  parts.push(runTable(input));
  if (input.filesSkipped.length > 0) parts.push(skippedFiles(input.filesSkipped));
  return { title: checkTitle(input), summary: truncate(parts.join("\n\n"), CHECK_TEXT_CAP) };
}

function checkTitle(input: CheckOutputInput): string {
  if (input.error !== undefined) return safeInline(input.error, [], TITLE_CAP) || "Failed";
  if (!input.outcome) return "Done";
  const total = input.outcome.findings.length;
  if (total === 0) return "No findings";
  return `${total} ${plural(total, "finding")} (${priorityCounts(input.outcome.findings)})`;
}

function severityTable(findings: readonly Finding[]): string {
  const rows = PRIORITIES.map((p) => `| ${priorityBadge(p)} | ${findings.filter((f) => f.priority === p).length} |`);
  return ["| Severity | Findings |", "|---|---:|", ...rows, `| **Total** | ${findings.length} |`].join("\n");
}

function runTable(input: CheckOutputInput): string {
  const rows: [string, string][] = [
    ["Mode", input.mode],
    ["Duration", formatDuration(input.durationMs)],
    ["Model", input.model === null ? "default" : codeSpan(input.model)],
  ];
  if (input.usage) rows.push(["Tokens", formatUsage(input.usage)]);
  rows.push(["Files reviewed", String(input.filesReviewed)]);
  if (input.filesSkipped.length > 0) rows.push(["Files skipped", String(input.filesSkipped.length)]);
  return ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, "\\|")} |`)].join("\n");
}

function formatUsage(u: Usage): string {
  return (
    `${thousands(u.inputTokens)} input (${thousands(u.cachedInputTokens)} cached) · ` +
    `${thousands(u.outputTokens)} output (${thousands(u.reasoningOutputTokens)} reasoning)`
  );
}

function skippedFiles(files: readonly string[]): string {
  const shown = files.slice(0, SKIPPED_LIST_MAX).map((f) => `- ${codeSpan(f)}`);
  if (files.length > SKIPPED_LIST_MAX) shown.push(`- …and ${files.length - SKIPPED_LIST_MAX} more`);
  const title = `Skipped files (${files.length})`;
  if (files.length <= SKIPPED_INLINE_MAX) return `**${title}**\n\n${shown.join("\n")}`;
  return `<details>\n<summary>${title}</summary>\n\n${shown.join("\n")}\n\n</details>`;
}

// ---------------------------------------------------------------------------------------------
// Annotations

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure" | "warning" | "notice";
  title: string;
  message: string;
}

const ANNOTATION_LEVEL: Record<Priority, Annotation["annotation_level"]> = {
  0: "failure",
  1: "failure",
  2: "warning",
  3: "notice",
};

/** Check-run annotations; they show even on lines outside the diff. `knownSecrets` defaults to none. */
export function buildAnnotations(findings: Finding[], knownSecrets: readonly string[] = []): Annotation[] {
  return findings.map((f) => {
    const title = truncate(
      `[${PRIORITY_LABEL[f.priority]}] ${redactSecrets(f.title, knownSecrets).replace(/\s+/g, " ").trim()}`,
      ANNOTATION_TITLE_CAP,
    );
    const body = redactSecrets(stripHtmlComments(redactSecrets(f.body, knownSecrets)), knownSecrets).trim();
    return {
      path: f.path,
      start_line: Math.max(1, Math.min(f.startLine, f.endLine)),
      end_line: Math.max(1, f.startLine, f.endLine),
      annotation_level: ANNOTATION_LEVEL[f.priority],
      title,
      message: truncateBytes(body === "" ? title : body, ANNOTATION_MESSAGE_BYTES),
    };
  });
}

/** GitHub accepts 50 annotations per request. */
export function chunk<T>(items: T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The annotation limit is in bytes; cut on a character boundary and say so. */
function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const note = "\n\n… (truncated)";
  const room = maxBytes - Buffer.byteLength(note, "utf8");
  let cut = Buffer.from(text, "utf8").subarray(0, room).toString("utf8");
  // A multi-byte character cut in half decodes to U+FFFD; drop it.
  if (cut.endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return cut + note;
}

// ---------------------------------------------------------------------------------------------
// Progress

const MODE_VERB: Record<Mode, string> = {
  review: "reviewing",
  audit: "auditing",
  ask: "answering",
  fix: "fixing",
  tests: "writing tests",
};

const COMMAND_CAP = 200;
const PLAN_MAX = 50;

export function formatProgress(p: Progress, elapsedMs: number, mode: Mode): { title: string; summary: string } {
  const elapsed = formatDuration(elapsedMs);
  const parts: string[] = [];
  if (p.plan.length > 0) {
    const steps = p.plan.slice(0, PLAN_MAX).map((s) => `- [${s.completed ? "x" : " "}] ${safeInline(s.text, [], 300) || "…"}`);
    if (p.plan.length > PLAN_MAX) steps.push(`- …and ${p.plan.length - PLAN_MAX} more steps`);
    parts.push(`**Plan**\n\n${steps.join("\n")}`);
  }
  if (p.currentCommand !== null && p.currentCommand.trim() !== "") {
    const cmd = redactSecrets(p.currentCommand, []);
    const shown = cmd.length > COMMAND_CAP ? `${cmd.slice(0, COMMAND_CAP - 1)}…` : cmd;
    parts.push(`Running now: ${codeSpan(shown)}`);
  }
  parts.push(`Commands completed: ${p.commandsCompleted} · Elapsed: ${elapsed}`);
  if (p.lastNote !== null && p.lastNote.trim() !== "") parts.push(`> ${safeInline(p.lastNote, [], 500)}`);
  return { title: `Codex is ${MODE_VERB[mode]}… (${elapsed})`, summary: truncate(parts.join("\n\n"), CHECK_TEXT_CAP) };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** "45s", "1m 05s", "1h 02m 03s". */
export function formatDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number): string => String(n).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

function priorityCounts(findings: readonly Finding[]): string {
  return PRIORITIES.map((p) => ({ p, n: findings.filter((f) => f.priority === p).length }))
    .filter(({ n }) => n > 0)
    .map(({ p, n }) => `${n} ${PRIORITY_LABEL[p]}`)
    .join(", ");
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

function thousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
