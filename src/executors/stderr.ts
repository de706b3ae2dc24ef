/** Reading a CLI's stderr the same way for every executor: warnings for logs, a reason for users. */

/** Lines of stderr that are warnings worth logging (at most 10), by the CLI's own prefix. */
export function stderrWarnings(stderr: string, prefix: RegExp): string[] {
  return stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => prefix.test(line))
    .slice(0, 10);
}

/** The last `max` characters, marked as cut when they are. */
export function tail(text: string, max: number): string {
  const trimmed = text.trim();
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
}

/** The line of stderr that best says what went wrong: the last "Error…" line, else the last line. */
export function errorLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const line = lines.filter((l) => /^(error|fatal)\b/i.test(l)).at(-1) ?? lines.at(-1) ?? "";
  return line.length > 500 ? `${line.slice(0, 499)}…` : line;
}
