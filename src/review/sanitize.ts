/**
 * Agent output is untrusted (a prompt injection in the PR can steer it) and is posted under the
 * app's name. These functions keep it from pinging people, forging our hidden markers, leaking
 * secrets, or breaking the Markdown around it. Where the Markdown is ambiguous they err towards
 * neutralising too much: an invisible character in prose costs nothing, a notification cannot be
 * taken back.
 */

const TRUNCATION_NOTE = "\n\n… (truncated)";
const REDACTED = "[REDACTED]";
const ZWSP = "\u200B";

// ---------------------------------------------------------------------------------------------
// Fences

interface Fence {
  indent: number;
  char: "`" | "~";
  length: number;
}

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t\r]*$/;

function fenceOpening(line: string): Fence | null {
  const m = FENCE_OPEN.exec(line);
  if (!m) return null;
  const marker = m[2] as string;
  // CommonMark: a backtick fence's info string may not contain backticks (then it is inline code).
  if (marker.startsWith("`") && (m[3] ?? "").includes("`")) return null;
  return { indent: (m[1] as string).length, char: marker[0] as Fence["char"], length: marker.length };
}

function closesFence(line: string, open: Fence): boolean {
  const m = FENCE_CLOSE.exec(line);
  return m !== null && m[1]?.[0] === open.char && (m[1] as string).length >= open.length;
}

interface ClassifiedLine {
  text: string;
  code: boolean;
}

/**
 * Marks lines inside fenced blocks. A content line indented less than its opening fence counts as
 * prose: inside a list item such a line ends the item (and the fence) on GitHub.
 */
function classifyLines(text: string): { lines: ClassifiedLine[]; open: Fence | null } {
  const lines: ClassifiedLine[] = [];
  let open: Fence | null = null;
  for (const line of text.split("\n")) {
    if (open) {
      if (closesFence(line, open)) {
        lines.push({ text: line, code: true });
        open = null;
      } else {
        const indent = /^ */.exec(line)?.[0].length ?? 0;
        lines.push({ text: line, code: line.trim() === "" || indent >= open.indent });
      }
      continue;
    }
    open = fenceOpening(line);
    lines.push({ text: line, code: open !== null });
  }
  return { lines, open };
}

/** Closes a fence left open at the end, so the text cannot swallow whatever is posted after it. */
export function closeOpenFences(text: string): string {
  const { open } = classifyLines(text);
  if (!open) return text;
  // Same indentation as the opener: inside a list item a column-0 fence would open a new block instead.
  const closer = " ".repeat(open.indent) + open.char.repeat(open.length);
  return `${text}${text.endsWith("\n") ? "" : "\n"}${closer}`;
}

// ---------------------------------------------------------------------------------------------
// Mentions

// "@" directly after a letter, digit or "_" is an e-mail address or similar, never a mention.
const MENTION = /(?<![\p{L}\p{N}_])@(?=[A-Za-z0-9])/gu;

function neutralizeProse(text: string): string {
  return text.replace(MENTION, `@${ZWSP}`);
}

/** Applies `fn` to the parts of one line outside inline code spans (CommonMark: equal-length backtick runs). */
function outsideInlineCode(line: string, fn: (s: string) => string): string {
  // Escaped backticks change which runs pair up; rather than model that, treat the line as prose.
  if (line.includes("\\`")) return fn(line);
  const runs = [...line.matchAll(/`+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
  let out = "";
  let pos = 0;
  for (let i = 0; i < runs.length; i++) {
    const opener = runs[i] as { start: number; end: number };
    const closerIndex = runs.findIndex((r, k) => k > i && r.end - r.start === opener.end - opener.start);
    if (closerIndex === -1) continue;
    const closer = runs[closerIndex] as { start: number; end: number };
    out += fn(line.slice(pos, opener.start)) + line.slice(opener.start, closer.end);
    pos = closer.end;
    i = closerIndex;
  }
  return out + fn(line.slice(pos));
}

/**
 * Stops `@user`, `@org/team`, `@everyone` and `@here` from notifying anyone by putting a zero-width
 * space after the "@". Code is left alone: mentions don't fire there and code must stay copyable.
 * Inline code spans are only recognised within one line; a span across lines is treated as prose.
 */
export function neutralizeMentions(text: string): string {
  return classifyLines(text)
    .lines.map((l) => (l.code ? l.text : outsideInlineCode(l.text, neutralizeProse)))
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// Comments, secrets, length

/** Removes HTML comments so the agent cannot forge the hidden markers we use to find our own posts. */
export function stripHtmlComments(text: string): string {
  let out = text;
  // Repeat: removing "<!-- x -->" from "<!<!-- x -->-- y -->" creates a new comment.
  for (let prev = ""; prev !== out; ) {
    prev = out;
    out = out.replace(/<!--[\s\S]*?-->/g, "");
  }
  // An unterminated opener would hide everything after it, including text we append.
  return out.replace(/<!--/g, `<${ZWSP}!--`);
}

const SECRET_PATTERNS: readonly RegExp[] = [
  // A cut-off block (no END line) still goes, up to the last line that looks like key material.
  /-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----|(?:[ \t]*\r?\n(?:[A-Za-z-]+: [^\n]*|[A-Za-z0-9+/=]+(?=[ \t]*(?:\r?\n|$))))*)/g,
  /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}/g,
  /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}/g,
  // sk-proj-…, sk-ant-… too; the look-behind keeps "task-…"/"disk-…" identifiers intact.
  /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}/g,
  /(?<![A-Z0-9])AKIA[0-9A-Z]{16}(?![0-9A-Z])/g,
];

/** An HTTP credential as a header line (checkout's extraheader, curl -v): the header name stays. */
const AUTH_HEADER = /\b(authorization:[ \t]*(?:basic|bearer|token)[ \t]+)[A-Za-z0-9+/=._~-]{8,}/gi;

/**
 * Every form in which a known secret may turn up in text: itself; base64 of `x-access-token:VALUE`
 * (the HTTP Basic credential actions/checkout persists in `.git/config` as
 * `http.<server>/.extraheader`, and git sends) and of VALUE alone, padded and not; and the
 * URL-encoded spelling of each. The one place the derived forms are made: every redaction below
 * goes through it, so no writer (PR, check run, SARIF, reports, job summary, logs) can forget one.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  for (const plain of [`x-access-token:${value}`, value]) {
    const b64 = Buffer.from(plain, "utf8").toString("base64");
    forms.add(b64);
    forms.add(b64.replace(/=+$/, ""));
    // base64url, as JWT-style tooling prints it.
    forms.add(b64.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"));
  }
  for (const form of [...forms]) {
    forms.add(encodeURIComponent(form));
    // Lower-case escapes (%2b) are as valid as upper-case ones.
    forms.add(encodeURIComponent(form).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  return [...forms];
}

/** Replaces known secret values (in every form secretForms names) and well-known token shapes with "[REDACTED]". */
export function redactSecrets(text: string, known: readonly string[]): string {
  // Longest first, so a secret that contains another is removed whole.
  const values = [...new Set(known.filter((k) => k.length >= 8).flatMap(secretForms))]
    .filter((k) => k.length >= 8)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of values) out = out.split(value).join(REDACTED);
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
  out = out.replace(AUTH_HEADER, `$1${REDACTED}`);
  // Keep the URL readable: only the credential goes.
  return out.replace(/x-access-token:[^@\s]+@/g, `x-access-token:${REDACTED}@`);
}

/** Cuts to at most `maxLength` characters, ending with a note, never splitting a surrogate pair. */
export function truncate(text: string, maxLength: number): string {
  const max = Math.max(0, Math.floor(maxLength));
  if (text.length <= max) return text;
  if (max <= TRUNCATION_NOTE.length) return sliceChars(text, max);
  return sliceChars(text, max - TRUNCATION_NOTE.length) + TRUNCATION_NOTE;
}

function sliceChars(text: string, end: number): string {
  const code = text.charCodeAt(end - 1);
  const cut = code >= 0xd800 && code <= 0xdbff ? end - 1 : end;
  return text.slice(0, Math.max(0, cut));
}

/** Like truncate, but a fence cut open by the truncation is closed again within the limit. */
function truncateMarkdown(text: string, maxLength: number): string {
  const max = Math.max(0, Math.floor(maxLength));
  if (text.length <= max) return text;
  let budget = max - TRUNCATION_NOTE.length;
  for (let attempt = 0; attempt < 3 && budget > 0; attempt++) {
    const cut = closeOpenFences(sliceChars(text, budget));
    const over = cut.length + TRUNCATION_NOTE.length - max;
    if (over <= 0) return cut + TRUNCATION_NOTE;
    budget -= over;
  }
  return truncate(text, max);
}

/** The one gate for agent-written Markdown on its way to GitHub. */
export function sanitizeAgentMarkdown(text: string, opts: { maxLength: number; known: readonly string[] }): string {
  // Redacting again after stripping: "ghp_abc<!-- -->def" only becomes a token once the comment is gone.
  const redacted = redactSecrets(stripHtmlComments(redactSecrets(text, opts.known)), opts.known);
  const safe = closeOpenFences(neutralizeMentions(redacted));
  return truncateMarkdown(safe, opts.maxLength);
}

/** A fenced block whose fence no backtick run inside `code` can close. */
export function codeFence(code: string, lang = ""): string {
  const longest = Math.max(0, ...[...code.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  // An empty body means zero lines (a suggestion that deletes the range), not one blank line.
  const body = code === "" || code.endsWith("\n") ? code : `${code}\n`;
  return `${fence}${lang}\n${body}${fence}`;
}

/** `code` as an inline code span that its own backticks cannot end, on one line. */
export function codeSpan(code: string): string {
  const flat = code.replace(/\r?\n|\r/g, " ");
  if (flat === "") return "` `";
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  // CommonMark strips one space on each side, so padding keeps edge backticks and spaces intact.
  const pad = flat.startsWith("`") || flat.endsWith("`") || flat.startsWith(" ") ? " " : "";
  return `${ticks}${pad}${flat}${pad}${ticks}`;
}
