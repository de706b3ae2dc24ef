import type { DiffFile, DiffLine, Hunk } from "../types.js";

/**
 * Parser for the one diff format the app produces. Hand-written on purpose: git's output for these
 * flags is fixed and small, and placement needs exact head-side line numbers with hunk boundaries,
 * binary/mode-only/rename entries kept as files, and hunk bodies read by their line counts (a removed
 * line "-- a/x" prints as "--- a/x"; prefix-guessing parsers take it for a file header). The npm diff
 * parsers we looked at either guess by prefix or drop hunk-less entries, and a wrong line number costs
 * the whole review (GitHub answers 422 for the batch).
 */

/** The flags the parser expects; the workspace must produce the diff with exactly these. */
export const GIT_DIFF_FLAGS = [
  "--no-color",
  "--no-ext-diff",
  "--no-textconv",
  "--find-renames",
  "--src-prefix=a/",
  "--dst-prefix=b/",
] as const;

/** The text is not the git diff we asked for; posting on guessed lines would be worse than failing. */
export class DiffParseError extends Error {
  override readonly name = "DiffParseError";
}

const FILE_START = "diff --git ";
// `s`: the context text after the second "@@" is a copy of a line of the file and may hold U+2028,
// U+2029 or a lone CR, which `.` would not match without it. No `m` flag: `^`/`$` are the line's ends.
const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/s;

interface FileHeaders {
  gitOld: string | null;
  gitNew: string | null;
  minus: string | null | undefined;
  plus: string | null | undefined;
  renameFrom: string | null;
  renameTo: string | null;
  copyFrom: string | null;
  copyTo: string | null;
  added: boolean;
  deleted: boolean;
  binary: boolean;
}

/** A file section of the diff that could not be read, and why (DiffParseError's message). */
export interface UnparsedFile {
  path: string;
  reason: string;
}

export interface ParsedDiff {
  files: DiffFile[];
  /** Sections skipped because they are not what git prints; the other files are unaffected. */
  unparsed: UnparsedFile[];
}

/**
 * Parses a whole diff file by file: a section that cannot be read is recorded in `unparsed` and
 * parsing resumes at the next "diff --git " line, so one strange file never costs the review of
 * the others. Only LF separates lines: CR, U+2028 and U+2029 are file content here.
 */
export function parseDiff(text: string): ParsedDiff {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const files: DiffFile[] = [];
  const unparsed: UnparsedFile[] = [];
  let i = 0;
  while (i < lines.length) {
    // Anything before the first file header (e.g. a tail-capped output) carries no usable positions.
    if (!lineAt(lines, i).startsWith(FILE_START)) {
      i++;
      continue;
    }
    try {
      const parsed = parseFile(lines, i);
      files.push(parsed.file);
      i = parsed.next;
    } catch (err) {
      if (!(err instanceof DiffParseError)) throw err;
      unparsed.push({ path: sectionPath(lineAt(lines, i)), reason: err.message });
      // Hunk lines start with " ", "+", "-" or a backslash, and base85 payload lines hold no space, so the
      // next line starting with "diff --git " is the next file.
      i++;
      while (i < lines.length && !lineAt(lines, i).startsWith(FILE_START)) i++;
    }
  }
  return { files, unparsed };
}

/**
 * Strict form of parseDiff for diffs the bot checks rather than reviews (the policy and secret
 * checks of a fix): a section it cannot read must stop the caller, not pass unchecked.
 */
export function parseUnifiedDiff(text: string): DiffFile[] {
  const { files, unparsed } = parseDiff(text);
  const first = unparsed[0];
  if (first) throw new DiffParseError(`${first.path}: ${first.reason}`);
  return files;
}

/** The best name for a section that could not be parsed: its head-side path, else the raw header. */
function sectionPath(gitLine: string): string {
  const rest = gitLine.slice(FILE_START.length);
  const paths = parseGitHeaderPaths(rest);
  return paths ? stripPrefix(paths.b, "b/") : rest;
}

/** Head-side line number → index of its hunk, for every line GitHub accepts a RIGHT-side comment on. */
export function commentableLines(file: DiffFile): Map<number, number> {
  const lines = new Map<number, number>();
  file.hunks.forEach((hunk, index) => {
    for (const line of hunk.lines) {
      if (line.newLine !== null) lines.set(line.newLine, index);
    }
  });
  return lines;
}

function lineAt(lines: readonly string[], i: number): string {
  return lines[i] ?? "";
}

function parseFile(lines: readonly string[], start: number): { file: DiffFile; next: number } {
  const headers = emptyHeaders(lineAt(lines, start).slice(FILE_START.length));
  let i = readHeaders(lines, start + 1, headers);
  const hunks: Hunk[] = [];
  while (i < lines.length && lineAt(lines, i).startsWith("@@ ")) {
    const parsed = parseHunk(lines, i);
    hunks.push(parsed.hunk);
    i = parsed.next;
  }
  return { file: buildFile(headers, hunks), next: i };
}

function emptyHeaders(gitLine: string): FileHeaders {
  const paths = parseGitHeaderPaths(gitLine);
  return {
    gitOld: paths ? stripPrefix(paths.a, "a/") : null,
    gitNew: paths ? stripPrefix(paths.b, "b/") : null,
    minus: undefined,
    plus: undefined,
    renameFrom: null,
    renameTo: null,
    copyFrom: null,
    copyTo: null,
    added: false,
    deleted: false,
    binary: false,
  };
}

/** Reads extended header lines up to the first hunk or the next file; returns the index after them. */
function readHeaders(lines: readonly string[], start: number, h: FileHeaders): number {
  let i = start;
  for (; i < lines.length; i++) {
    const line = lineAt(lines, i);
    if (line.startsWith(FILE_START) || line.startsWith("@@ ")) break;
    if (line.startsWith("GIT binary patch")) {
      h.binary = true;
      // The base85 payload never starts with "diff --git ", so skipping to it is safe.
      while (i + 1 < lines.length && !lineAt(lines, i + 1).startsWith(FILE_START)) i++;
      continue;
    }
    applyHeader(line, h);
  }
  return i;
}

function applyHeader(line: string, h: FileHeaders): void {
  if (line.startsWith("--- ")) h.minus = parseLabel(line.slice(4), "a/");
  else if (line.startsWith("+++ ")) h.plus = parseLabel(line.slice(4), "b/");
  else if (line.startsWith("rename from ")) h.renameFrom = parseBarePath(line.slice(12));
  else if (line.startsWith("rename to ")) h.renameTo = parseBarePath(line.slice(10));
  else if (line.startsWith("copy from ")) h.copyFrom = parseBarePath(line.slice(10));
  else if (line.startsWith("copy to ")) h.copyTo = parseBarePath(line.slice(8));
  else if (line.startsWith("new file mode ")) h.added = true;
  else if (line.startsWith("deleted file mode ")) h.deleted = true;
  else if (line.startsWith("Binary files ") && line.endsWith(" differ")) h.binary = true;
  // index, similarity, dissimilarity, old/new mode: nothing placement needs.
}

function buildFile(h: FileHeaders, hunks: Hunk[]): DiffFile {
  const oldName = h.renameFrom ?? h.copyFrom ?? h.minus ?? h.gitOld;
  const newName = h.renameTo ?? h.copyTo ?? h.plus ?? h.gitNew;
  const added = h.added || h.minus === null;
  const deleted = h.deleted || h.plus === null;
  const status: DiffFile["status"] = added
    ? "added"
    : deleted
      ? "deleted"
      : h.renameFrom !== null || h.renameTo !== null
        ? "renamed"
        : h.copyFrom !== null || h.copyTo !== null
          ? "copied"
          : "modified";
  const path = status === "deleted" ? (oldName ?? newName) : (newName ?? oldName);
  if (path == null) throw new DiffParseError("diff entry without a readable path");
  const oldPath = oldName != null && oldName !== path && status !== "deleted" ? oldName : null;
  return { path, oldPath, status, binary: h.binary, hunks };
}

function parseHunk(lines: readonly string[], start: number): { hunk: Hunk; next: number } {
  const header = lineAt(lines, start);
  const m = HUNK_HEADER.exec(header);
  if (!m) throw new DiffParseError(`malformed hunk header: ${JSON.stringify(header.slice(0, 80))}`);
  const hunk: Hunk = {
    oldStart: Number(m[1]),
    // An omitted count means one line ("@@ -1 +1 @@").
    oldLines: m[2] === undefined ? 1 : Number(m[2]),
    newStart: Number(m[3]),
    newLines: m[4] === undefined ? 1 : Number(m[4]),
    header: m[5] ?? "",
    lines: [],
  };
  let oldNo = hunk.oldStart;
  let newNo = hunk.newStart;
  let oldLeft = hunk.oldLines;
  let newLeft = hunk.newLines;
  let i = start + 1;
  // Count-driven: the header says how many lines belong to the hunk, whatever they look like.
  // A truncated final hunk simply ends early; its lines so far are still correctly numbered.
  for (; (oldLeft > 0 || newLeft > 0) && i < lines.length; i++) {
    const raw = lineAt(lines, i);
    if (raw.startsWith("\\")) continue; // "\ No newline at end of file" describes the line before it
    const line = hunkLine(raw, oldNo, newNo, oldLeft, newLeft, i);
    hunk.lines.push(line);
    if (line.oldLine !== null) {
      oldNo++;
      oldLeft--;
    }
    if (line.newLine !== null) {
      newNo++;
      newLeft--;
    }
  }
  while (i < lines.length && lineAt(lines, i).startsWith("\\")) i++;
  return { hunk, next: i };
}

function hunkLine(raw: string, oldNo: number, newNo: number, oldLeft: number, newLeft: number, index: number): DiffLine {
  // Tools that strip trailing whitespace turn a blank context line (" ") into "".
  const marker = raw === "" ? " " : raw[0];
  const text = raw.slice(1);
  if (marker === " " && oldLeft > 0 && newLeft > 0) return { kind: "context", oldLine: oldNo, newLine: newNo, text };
  if (marker === "-" && oldLeft > 0) return { kind: "del", oldLine: oldNo, newLine: null, text };
  if (marker === "+" && newLeft > 0) return { kind: "add", oldLine: null, newLine: newNo, text };
  throw new DiffParseError(`line ${index + 1} does not fit its hunk: ${JSON.stringify(raw.slice(0, 80))}`);
}

/** "a/x", "\"a/\\303\\244\"" or "/dev/null" (→ null) from a ---/+++ line. */
function parseLabel(rest: string, prefix: string): string | null {
  let name: string;
  if (rest.startsWith('"')) {
    const quoted = parseQuoted(rest, 0);
    if (!quoted) throw new DiffParseError(`malformed quoted path: ${rest.slice(0, 80)}`);
    name = quoted.value;
  } else {
    // git appends a tab when an unquoted name contains a space; unquoted names never contain tabs.
    const tab = rest.indexOf("\t");
    name = tab === -1 ? rest : rest.slice(0, tab);
  }
  if (name === "/dev/null") return null;
  return stripPrefix(name, prefix);
}

/** rename/copy headers carry the path without a/ or b/, quoted when needed. */
function parseBarePath(rest: string): string {
  if (!rest.startsWith('"')) return rest;
  const quoted = parseQuoted(rest, 0);
  if (!quoted) throw new DiffParseError(`malformed quoted path: ${rest.slice(0, 80)}`);
  return quoted.value;
}

/** Splits "a/x b/x" (either side possibly quoted); null when ambiguous and never needed. */
function parseGitHeaderPaths(rest: string): { a: string; b: string } | null {
  if (rest.startsWith('"')) {
    const a = parseQuoted(rest, 0);
    if (!a || rest[a.end] !== " ") return null;
    const tail = rest.slice(a.end + 1);
    const b = tail.startsWith('"') ? parseQuoted(tail, 0) : { value: tail, end: tail.length };
    return b ? { a: a.value, b: b.value } : null;
  }
  if (rest.endsWith('"')) {
    for (let k = rest.indexOf(' "'); k !== -1; k = rest.indexOf(' "', k + 1)) {
      const b = parseQuoted(rest, k + 1);
      if (b && b.end === rest.length) return { a: rest.slice(0, k), b: b.value };
    }
    return null;
  }
  // Unquoted with spaces is ambiguous, except when both sides name the same file (mode changes,
  // empty new files): then the separator is exactly in the middle.
  const mid = (rest.length - 1) / 2;
  if (Number.isInteger(mid) && rest[mid] === " ") {
    const a = rest.slice(0, mid);
    const b = rest.slice(mid + 1);
    if (a.startsWith("a/") && b.startsWith("b/") && a.slice(2) === b.slice(2)) return { a, b };
  }
  const sep = rest.indexOf(" b/");
  return sep === -1 ? null : { a: rest.slice(0, sep), b: rest.slice(sep + 1) };
}

function stripPrefix(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  b: 8,
  t: 9,
  n: 10,
  v: 11,
  f: 12,
  r: 13,
  '"': 34,
  "\\": 92,
};

/**
 * Decodes git's C-style quoting starting at s[start] === '"'. Octal escapes are raw bytes (UTF-8 of
 * non-ASCII names), so bytes are collected and decoded once at the end.
 */
function parseQuoted(s: string, start: number): { value: string; end: number } | null {
  if (s[start] !== '"') return null;
  const bytes: number[] = [];
  for (let i = start + 1; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch === '"') return { value: Buffer.from(bytes).toString("utf8"), end: i + 1 };
    if (ch !== "\\") {
      const cp = s.codePointAt(i) as number;
      if (cp > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(cp), "utf8"));
      continue;
    }
    const next = s[i + 1] ?? "";
    const octal = /^[0-7]{3}/.exec(s.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(parseInt(octal[0], 8) & 0xff);
      i += 3;
    } else if (next in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[next] as number);
      i += 1;
    } else {
      return null;
    }
  }
  return null;
}
