/**
 * What an agent changed, as the bot commits it: parsed from git's machine-readable diff output
 * (`--raw -z --no-abbrev --no-renames` and `--numstat -z --no-renames` between the PR head and the
 * snapshot of the worktree). Pure: the git calls live in workspace/commit.ts.
 */

export type ChangeStatus = "added" | "modified" | "deleted" | "type-changed";

/** git's file modes, as printed in raw diffs. */
export const MODE_SYMLINK = "120000";
export const MODE_GITLINK = "160000";
const MODE_NONE = "000000";

export interface FileChange {
  /** Repository-relative path, as git prints it (never starts with "/" and never holds ".."). */
  path: string;
  status: ChangeStatus;
  /** Mode before ("100644", "100755", "120000", "160000"), null when the file is new. */
  oldMode: string | null;
  /** Mode after, null when the file was deleted. */
  newMode: string | null;
  /** Blob (or commit, for a gitlink) after the change, null for deletions. */
  newObject: string | null;
  /** Bytes of the new content; null for deletions and gitlinks. */
  size: number | null;
  /** True when git sees the new or old content as binary. */
  binary: boolean;
  /** Target of a symlink after the change, null for everything else. */
  linkTarget: string | null;
  /** Lines added and removed (0 for binary files). */
  additions: number;
  deletions: number;
}

/** One entry of `git diff --raw -z --no-abbrev --no-renames`. */
export interface RawEntry {
  path: string;
  status: ChangeStatus;
  oldMode: string | null;
  newMode: string | null;
  newObject: string | null;
}

const STATUS: Record<string, ChangeStatus> = { A: "added", M: "modified", D: "deleted", T: "type-changed" };

export class CollectError extends Error {
  override readonly name = "CollectError";
}

export function parseRawDiff(text: string): RawEntry[] {
  const fields = text.split("\0");
  if (fields.at(-1) === "") fields.pop();
  const entries: RawEntry[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const meta = fields[i] ?? "";
    const path = fields[i + 1];
    const m = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([AMDT])$/.exec(meta);
    if (!m || path === undefined) throw new CollectError(`unexpected raw diff entry: ${JSON.stringify(meta.slice(0, 100))}`);
    const [, oldMode, newMode, , newObject, code] = m as unknown as [string, string, string, string, string, string];
    const deleted = code === "D";
    entries.push({
      path,
      status: STATUS[code]!,
      oldMode: oldMode === MODE_NONE ? null : oldMode,
      newMode: deleted || newMode === MODE_NONE ? null : newMode,
      newObject: deleted ? null : newObject,
    });
  }
  return entries;
}

export interface NumstatEntry {
  path: string;
  /** null for binary content ("-" in git's output). */
  additions: number | null;
  deletions: number | null;
}

/** `git diff --numstat -z --no-renames`: "added\tdeleted\tpath\0" per file. */
export function parseNumstat(text: string): NumstatEntry[] {
  const records = text.split("\0");
  if (records.at(-1) === "") records.pop();
  return records.map((record) => {
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]+)$/.exec(record);
    if (!m) throw new CollectError(`unexpected numstat entry: ${JSON.stringify(record.slice(0, 100))}`);
    const num = (s: string): number | null => (s === "-" ? null : Number(s));
    return { path: m[3]!, additions: num(m[1]!), deletions: num(m[2]!) };
  });
}

/** `git cat-file --batch-check` lines ("<sha> blob <size>") → size per object. */
export function parseBatchCheck(text: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+) (?:blob|tree|commit|tag) (\d+)$/.exec(line);
    if (m) sizes.set(m[1]!, Number(m[2]));
  }
  return sizes;
}

export function combineChanges(
  raw: readonly RawEntry[],
  numstat: readonly NumstatEntry[],
  sizes: ReadonlyMap<string, number>,
  linkTargets: ReadonlyMap<string, string>,
): FileChange[] {
  const stats = new Map(numstat.map((n) => [n.path, n]));
  return raw.map((entry) => {
    const stat = stats.get(entry.path);
    const isGitlink = entry.newMode === MODE_GITLINK;
    return {
      ...entry,
      size: entry.newObject !== null && !isGitlink ? (sizes.get(entry.newObject) ?? null) : null,
      binary: stat !== undefined && (stat.additions === null || stat.deletions === null),
      linkTarget: entry.newMode === MODE_SYMLINK && entry.newObject !== null ? (linkTargets.get(entry.newObject) ?? null) : null,
      additions: stat?.additions ?? 0,
      deletions: stat?.deletions ?? 0,
    };
  });
}

/** "3 files changed, +12 −4" for titles and replies. */
export function summarizeChanges(changes: readonly FileChange[]): string {
  const add = changes.reduce((n, c) => n + c.additions, 0);
  const del = changes.reduce((n, c) => n + c.deletions, 0);
  return `${changes.length} ${changes.length === 1 ? "file" : "files"} changed, +${add} −${del}`;
}
