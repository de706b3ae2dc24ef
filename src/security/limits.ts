import type { DiffFile } from "../types.js";

/**
 * Resource limits for one run (issue 6, item 6): a pull request larger than the limits is reviewed
 * on a prioritised subset of its files instead of being sent whole (or failing). Pure.
 */

export interface DiffLimits {
  /** Most files handed to the agent. */
  maxFiles: number;
  /** Most diff bytes (sum over the chosen files' hunk lines) handed to the agent (MAX_DIFF_BYTES). */
  maxBytes: number;
}

export interface Prioritised {
  /** Files to review, in diff order. */
  included: DiffFile[];
  /** Files left out, with why, most important first (for the review/check-run summary). */
  skipped: { path: string; reason: "max-files" | "max-bytes" }[];
  /** Diff bytes of the included files. */
  bytes: number;
}

/** Rank 0 reviews first: code, then config/build, then tests, then docs, then generated/vendored. */
export function fileRank(filePath: string): number {
  const p = filePath.toLowerCase();
  if (/(^|\/)(vendor|node_modules|third_party|dist|build)\//.test(p) || /(\.min\.(js|css)|\.lock|-lock\.json|\.snap|\.map)$/.test(p)) return 4;
  if (/\.(md|mdx|rst|txt|adoc)$/.test(p) || /(^|\/)docs?\//.test(p)) return 3;
  if (/(^|\/)(tests?|__tests__|spec|e2e|fixtures?)\//.test(p) || /[._-](test|spec)\.[a-z0-9]+$/.test(p)) return 2;
  if (/\.(json|ya?ml|toml|ini|cfg|conf|xml|gradle|properties)$/.test(p) || /(^|\/)(dockerfile|makefile)$/.test(p)) return 1;
  return 0;
}

/** Bytes of a file's diff as the agent would read it: its hunk lines plus a newline each. */
export function diffBytes(file: DiffFile): number {
  let bytes = 0;
  for (const hunk of file.hunks) {
    for (const line of hunk.lines) bytes += Buffer.byteLength(line.text, "utf8") + 2; // marker + newline
  }
  return bytes;
}

function changedLines(file: DiffFile): number {
  return file.hunks.reduce((n, h) => n + h.lines.filter((l) => l.kind !== "context").length, 0);
}

/**
 * Picks the files to review: by rank, then most changed lines first, then path; a file that would
 * cross the byte budget is skipped (a smaller one after it may still fit). Binary and deleted files
 * rank last within their class: there is little to review in them.
 */
export function prioritiseFiles(files: readonly DiffFile[], limits: DiffLimits): Prioritised {
  const order = files
    .map((file, index) => ({ file, index, bytes: diffBytes(file), rank: fileRank(file.path) + (file.binary || file.status === "deleted" ? 0.5 : 0), changed: changedLines(file) }))
    .sort((a, b) => a.rank - b.rank || b.changed - a.changed || (a.file.path < b.file.path ? -1 : a.file.path > b.file.path ? 1 : 0));
  const chosen: typeof order = [];
  const skipped: Prioritised["skipped"] = [];
  let bytes = 0;
  for (const entry of order) {
    if (chosen.length >= limits.maxFiles) skipped.push({ path: entry.file.path, reason: "max-files" });
    else if (bytes + entry.bytes > limits.maxBytes) skipped.push({ path: entry.file.path, reason: "max-bytes" });
    else {
      chosen.push(entry);
      bytes += entry.bytes;
    }
  }
  return { included: chosen.sort((a, b) => a.index - b.index).map((e) => e.file), skipped, bytes };
}
