/**
 * Finds the "@codex <word> …" command in a comment body.
 *
 * Only what a reader sees as a command counts: a mention at the start of a line, outside fenced
 * code, quotes and HTML comments. That way a reply that quotes an earlier command, a code sample
 * that shows the syntax, or a hidden comment in a template never starts a run.
 */

export type CommandKind = "review" | "audit" | "ask" | "help" | "fix" | "tests";
export type Executor = "codex" | "claude";

export type ParsedCommand =
  /** `text`: everything after the word (rest of its line plus all following lines), trimmed; "" if none. */
  | { executor: Executor; kind: CommandKind; text: string }
  /**
   * A word the bot does not know, or "" for a bare "@codex"; the handler answers with help. `rest`:
   * everything after the handle, word included, trimmed (in a review thread: a question, "@codex why …").
   */
  | { executor: Executor; kind: "unknown"; word: string; rest: string };

/**
 * Accepted words (lower case) → command. Aliases are the names people reach for first. A Map, not
 * an object literal, so "@codex constructor" cannot find something on Object.prototype.
 */
export const COMMAND_WORDS: ReadonlyMap<string, CommandKind> = new Map<string, CommandKind>([
  ["review", "review"],
  ["audit", "audit"],
  ["security", "audit"],
  ["security-review", "audit"],
  ["ask", "ask"],
  ["question", "ask"],
  ["help", "help"],
  ["fix", "fix"],
  ["tests", "tests"],
  ["test", "tests"],
]);

// "@handle" at the start of a line, followed by whitespace or the end of the line. GitHub logins
// are letters, digits and hyphens, so capturing the whole run is what rejects "@codex-foo" and
// "@codexbot" instead of reading them as "@codex".
const MENTION = /^[ \t]*@([A-Za-z0-9-]+)(?=[ \t]|$)(.*)$/;
const FENCE = /^[ \t]*(`{3,}|~{3,})(.*)$/;

/** Trailing punctuation people add in prose ("@codex review!") is not part of the word. */
const TRAILING_PUNCTUATION = /[.,:;!?]+$/;

export function parseCommand(body: string, handles: readonly Executor[]): ParsedCommand | null {
  const wanted = new Set(handles.map((h) => h.toLowerCase()));
  const lines = body.replace(/\r\n?/g, "\n").split("\n");

  let fence: { char: string; length: number } | null = null;
  let inHtmlComment = false;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";

    if (fence) {
      // A closing fence uses the same character, is at least as long, and carries no info string.
      const close = FENCE.exec(line);
      if (close?.[1]?.startsWith(fence.char) && close[1].length >= fence.length && (close[2] ?? "").trim() === "") {
        fence = null;
      }
      continue;
    }
    if (inHtmlComment) {
      if (line.includes("-->")) inHtmlComment = false;
      continue;
    }
    const open = FENCE.exec(line);
    if (open?.[1]) {
      // Backtick fences cannot have backticks in their info string (CommonMark); such a line is inline code.
      if (!(open[1].startsWith("`") && (open[2] ?? "").includes("`"))) {
        fence = { char: open[1].charAt(0), length: open[1].length };
        continue;
      }
    }
    if (/^[ \t]*>/.test(line)) continue;

    const mention = MENTION.exec(line);
    const handle = (mention?.[1] ?? "").toLowerCase();
    if (!mention || !wanted.has(handle)) {
      const commentStart = line.lastIndexOf("<!--");
      if (commentStart !== -1 && !line.includes("-->", commentStart + 4)) inHtmlComment = true;
      continue;
    }
    const executor = handle as Executor;

    const rest = [(mention[2] ?? "").trimStart(), ...lines.slice(i + 1)].join("\n");
    const wordMatch = /^\S+/.exec(rest);
    if (!wordMatch) return { executor, kind: "unknown", word: "", rest: "" };

    const word = wordMatch[0];
    const kind = COMMAND_WORDS.get(word.toLowerCase().replace(TRAILING_PUNCTUATION, ""));
    if (!kind) return { executor, kind: "unknown", word, rest: rest.trim() };
    return { executor, kind, text: rest.slice(word.length).trim() };
  }
  return null;
}
