import type { DiffFile, Finding, Hunk, InlinePlacement, OutsidePlacement, PlacementResult } from "../types.js";
import { commentableLines } from "./diff.js";
import { normalizeTitle } from "./fingerprint.js";

/**
 * Puts findings on lines GitHub accepts. One comment outside a hunk makes GitHub reject the whole
 * review (422, without saying which), so a finding is only placed where placement is certain, and
 * otherwise goes to the review body. There is deliberately no "snap to the nearest hunk": a comment
 * on an unrelated line misleads more than a body entry.
 */

interface Range {
  start: number;
  end: number;
}

type Placed = { inline: InlinePlacement } | { outside: OutsidePlacement["reason"] };

export function placeFindings(files: DiffFile[], findings: Finding[], opts: { maxInline: number }): PlacementResult {
  const byPath = new Map(files.map((file) => [file.path, file]));
  const lookups = new Map<DiffFile, Map<number, number>>();
  const inline: InlinePlacement[] = [];
  const outside: OutsidePlacement[] = [];

  for (const finding of findings) {
    const file = byPath.get(finding.path);
    let lines: Map<number, number> | undefined;
    if (file) {
      lines = lookups.get(file) ?? commentableLines(file);
      lookups.set(file, lines);
    }
    const placed = placeOne(file, lines, finding);
    if ("inline" in placed) inline.push(placed.inline);
    else outside.push({ finding, reason: placed.outside });
  }

  const ranked = dropDuplicates(stableSortBy(inline, (p) => p.finding));
  const limit = Math.max(0, Math.floor(opts.maxInline));
  for (const p of ranked.slice(limit)) outside.push({ finding: p.finding, reason: "over-inline-limit" });
  // Sorting the body list the same way puts the P0s first there too; being stable, it keeps the
  // over-limit entries in their inline order.
  return { inline: ranked.slice(0, limit), outside: stableSortBy(outside, (o) => o.finding) };
}

function placeOne(file: DiffFile | undefined, lines: Map<number, number> | undefined, finding: Finding): Placed {
  if (!file || !lines) return { outside: "file-not-in-diff" };
  if (file.status === "deleted") return { outside: "file-deleted" };
  if (file.binary) return { outside: "binary-file" };

  const reported: Range = {
    start: Math.min(finding.startLine, finding.endLine),
    end: Math.max(finding.startLine, finding.endLine),
  };
  if (withinOneHunk(lines, reported)) return { inline: inlineAt(file, finding, reported, false, true) };

  const anchored = findAnchor(file.hunks, finding.anchor, reported.start);
  if (anchored) {
    const sameSize = span(anchored) === span(reported);
    return { inline: inlineAt(file, finding, anchored, true, sameSize) };
  }

  const narrowed = largestOverlap(lines, reported);
  if (narrowed) return { inline: inlineAt(file, finding, narrowed, true, false) };
  return { outside: "lines-not-in-diff" };
}

function inlineAt(file: DiffFile, finding: Finding, range: Range, adjusted: boolean, fits: boolean): InlinePlacement {
  return {
    finding,
    path: file.path,
    line: range.end,
    // GitHub rejects start_line == line, so single lines carry no start.
    startLine: range.start === range.end ? null : range.start,
    suggestionApplies: finding.suggestion !== null && fits,
    adjusted,
  };
}

function span(r: Range): number {
  return r.end - r.start + 1;
}

function withinOneHunk(lines: Map<number, number>, r: Range): boolean {
  // Checked before iterating so an absurd range (1..1e9) costs nothing.
  if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || span(r) > lines.size) return false;
  const hunk = lines.get(r.start);
  if (hunk === undefined) return false;
  for (let n = r.start + 1; n <= r.end; n++) {
    if (lines.get(n) !== hunk) return false;
  }
  return true;
}

/** The anchor's lines, trimmed, without blank lines around them; empty when there is nothing to match. */
function anchorLines(anchor: string): string[] {
  const lines = anchor.split(/\r?\n/).map((l) => l.trim());
  let first = 0;
  let last = lines.length;
  while (first < last && lines[first] === "") first++;
  while (last > first && lines[last - 1] === "") last--;
  return lines.slice(first, last);
}

/** Head-side matches of the anchor inside single hunks; the one nearest the reported start wins. */
function findAnchor(hunks: readonly Hunk[], anchor: string, reportedStart: number): Range | null {
  const wanted = anchorLines(anchor);
  if (wanted.length === 0) return null;
  let best: Range | null = null;
  for (const hunk of hunks) {
    const head = hunk.lines.filter((l) => l.newLine !== null);
    for (let i = 0; i + wanted.length <= head.length; i++) {
      if (!wanted.every((w, k) => head[i + k]?.text.trim() === w)) continue;
      const start = head[i]?.newLine as number;
      const candidate = { start, end: start + wanted.length - 1 };
      if (!best || Math.abs(start - reportedStart) < Math.abs(best.start - reportedStart)) best = candidate;
    }
  }
  return best;
}

/** The reported range cut down to the hunk it overlaps most (ties: the earlier hunk). */
function largestOverlap(lines: Map<number, number>, r: Range): Range | null {
  const perHunk = new Map<number, Range & { count: number }>();
  for (const [line, hunk] of lines) {
    if (line < r.start || line > r.end) continue;
    const seen = perHunk.get(hunk);
    if (!seen) perHunk.set(hunk, { start: line, end: line, count: 1 });
    else {
      seen.start = Math.min(seen.start, line);
      seen.end = Math.max(seen.end, line);
      seen.count++;
    }
  }
  let best: { hunk: number; range: Range & { count: number } } | null = null;
  for (const [hunk, range] of perHunk) {
    if (!best || range.count > best.range.count || (range.count === best.range.count && hunk < best.hunk)) {
      best = { hunk, range };
    }
  }
  return best ? { start: best.range.start, end: best.range.end } : null;
}

/** Priority ascending, then confidence descending; Array.prototype.sort is stable, so ties keep input order. */
function stableSortBy<T>(items: readonly T[], finding: (item: T) => Finding): T[] {
  return [...items].sort((a, b) => {
    const fa = finding(a);
    const fb = finding(b);
    return fa.priority - fb.priority || fb.confidence - fa.confidence || 0;
  });
}

/** Two comments with the same title on the same line read as a glitch; the higher-ranked one stays. */
function dropDuplicates(ranked: readonly InlinePlacement[]): InlinePlacement[] {
  const seen = new Set<string>();
  return ranked.filter((p) => {
    const key = `${p.path}\0${p.line}\0${normalizeTitle(p.finding.title)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
