import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseUnifiedDiff } from "../../../src/review/diff.js";
import { placeFindings } from "../../../src/review/placement.js";
import type { DiffFile, Finding } from "../../../src/types.js";

function fixtureText(name: string): string {
  return readFileSync(new URL(`../../fixtures/diffs/${name}`, import.meta.url), "utf8");
}

// big.txt: hunks cover head lines 2-8 (line 5 replaced), 28-34 (31 inserted), 53-58 (a line deleted).
// Also a rename, a deleted file and binary files, all from real git output.
const FILES: DiffFile[] = parseUnifiedDiff(
  ["multi-hunk.diff", "rename-edit.diff", "rename-pure.diff", "delete.diff", "binary.diff"].map(fixtureText).join(""),
);

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    title: "Something is wrong",
    body: "Explanation.",
    priority: 1,
    confidence: 0.8,
    path: "big.txt",
    startLine: 5,
    endLine: 5,
    anchor: "",
    suggestion: null,
    ...overrides,
  };
}

function place(findings: Finding[], maxInline = 50) {
  return placeFindings(FILES, findings, { maxInline });
}

describe("placeFindings: exact placement", () => {
  it("places a single line exactly, with startLine null (GitHub rejects start_line == line)", () => {
    const { inline, outside } = place([finding({ startLine: 5, endLine: 5 })]);
    expect(outside).toEqual([]);
    expect(inline).toHaveLength(1);
    expect(inline[0]).toMatchObject({ path: "big.txt", line: 5, startLine: null, adjusted: false, suggestionApplies: false });
  });

  it("places a multi-line range inside one hunk exactly, including context lines", () => {
    const { inline } = place([finding({ startLine: 3, endLine: 8 })]);
    expect(inline[0]).toMatchObject({ line: 8, startLine: 3, adjusted: false });
  });

  it("places on a renamed file by its head path", () => {
    const { inline, outside } = place([
      finding({ path: "src/new_name.ts", startLine: 21, endLine: 21 }),
      finding({ path: "src/old_name.ts", startLine: 21, endLine: 21 }),
    ]);
    expect(inline.map((p) => [p.path, p.line])).toEqual([["src/new_name.ts", 21]]);
    expect(outside.map((o) => o.reason)).toEqual(["file-not-in-diff"]);
  });

  it("accepts a reversed range as the same range", () => {
    const { inline } = place([finding({ startLine: 7, endLine: 4 })]);
    expect(inline[0]).toMatchObject({ line: 7, startLine: 4, adjusted: false });
  });
});

describe("placeFindings: files that cannot take comments", () => {
  it("sends missing, deleted and binary files outside with the right reason", () => {
    const { inline, outside } = place([
      finding({ path: "nope.ts" }),
      finding({ path: "removed.txt", startLine: 1, endLine: 1 }),
      finding({ path: "image.png", startLine: 1, endLine: 1 }),
      finding({ path: "blob.bin", startLine: 1, endLine: 1 }),
    ]);
    expect(inline).toEqual([]);
    expect(outside.map((o) => [o.finding.path, o.reason])).toEqual([
      ["nope.ts", "file-not-in-diff"],
      ["removed.txt", "file-deleted"],
      ["image.png", "binary-file"],
      ["blob.bin", "binary-file"],
    ]);
  });

  it("sends findings on a pure rename (no hunks) outside", () => {
    const { outside } = place([finding({ path: "docs/b.md", startLine: 1, endLine: 1 })]);
    expect(outside.map((o) => o.reason)).toEqual(["lines-not-in-diff"]);
  });
});

describe("placeFindings: anchor relocation", () => {
  it("moves a finding whose line numbers are off by N to where its anchor is", () => {
    // The agent said 21, but "inserted after 30" is head line 31.
    const { inline } = place([finding({ startLine: 21, endLine: 21, anchor: "inserted after 30", suggestion: "fixed" })]);
    expect(inline[0]).toMatchObject({ line: 31, startLine: null, adjusted: true, suggestionApplies: true });
  });

  it("matches multi-line anchors line by line, ignoring indentation and blank lines around them", () => {
    const anchor = "\n\n    line 30  \n\tinserted after 30\n   \n";
    const { inline } = place([finding({ startLine: 40, endLine: 41, anchor, suggestion: "a\nb" })]);
    expect(inline[0]).toMatchObject({ line: 31, startLine: 30, adjusted: true, suggestionApplies: true });
  });

  it("skips deleted lines: anchors are matched against head-side lines only", () => {
    const { inline } = place([finding({ startLine: 40, endLine: 41, anchor: "line 4\nline 5 edited" })]);
    expect(inline[0]).toMatchObject({ line: 5, startLine: 4, adjusted: true });
  });

  it("does not offer the suggestion when the anchor range has a different size than the reported one", () => {
    const { inline } = place([finding({ startLine: 40, endLine: 40, anchor: "line 30\ninserted after 30", suggestion: "x" })]);
    expect(inline[0]).toMatchObject({ line: 31, startLine: 30, suggestionApplies: false });
  });

  it("picks the match closest to the reported line when the anchor occurs more than once", () => {
    // The same added line in two hunks, at head lines 2 and 42.
    const diff = [
      "diff --git a/dup.ts b/dup.ts",
      "--- a/dup.ts",
      "+++ b/dup.ts",
      "@@ -1,2 +1,3 @@",
      " a",
      "+  return null;",
      " b",
      "@@ -40,2 +41,3 @@",
      " c",
      "+  return null;",
      " d",
      "",
    ].join("\n");
    const files = parseUnifiedDiff(diff);
    const near = (startLine: number) =>
      placeFindings(files, [finding({ path: "dup.ts", startLine, endLine: startLine, anchor: "return null;" })], { maxInline: 5 })
        .inline[0]?.line;
    expect(near(10)).toBe(2);
    expect(near(35)).toBe(42);
    expect(near(100)).toBe(42);
  });

  it("prefers the anchor over narrowing a partly overlapping range", () => {
    const { inline } = place([finding({ startLine: 7, endLine: 31, anchor: "line 6\nline 7" })]);
    expect(inline[0]).toMatchObject({ line: 7, startLine: 6, adjusted: true });
  });

  it("never matches an anchor across two hunks", () => {
    // "line 8" ends hunk 0 and "line 28" starts hunk 1.
    const { outside } = place([finding({ startLine: 12, endLine: 13, anchor: "line 8\nline 28" })]);
    expect(outside.map((o) => o.reason)).toEqual(["lines-not-in-diff"]);
  });
});

describe("placeFindings: narrowing and rejection", () => {
  it("narrows a range spanning two hunks to the hunk with the larger overlap", () => {
    // 7..31 overlaps hunk 0 on 7-8 (2 lines) and hunk 1 on 28-31 (4 lines).
    const { inline } = place([finding({ startLine: 7, endLine: 31, suggestion: "nope" })]);
    expect(inline[0]).toMatchObject({ line: 31, startLine: 28, adjusted: true, suggestionApplies: false });
  });

  it("takes the earlier hunk on a tie and can narrow to a single line", () => {
    expect(place([finding({ startLine: 6, endLine: 30 })]).inline[0]).toMatchObject({ line: 8, startLine: 6 });
    expect(place([finding({ startLine: 8, endLine: 20 })]).inline[0]).toMatchObject({ line: 8, startLine: null, adjusted: true });
  });

  it("narrows absurd ranges without walking them", () => {
    const { inline } = place([finding({ startLine: 1, endLine: 1_000_000_000 })]);
    expect(inline[0]).toMatchObject({ line: 8, startLine: 2, adjusted: true });
  });

  it("sends a range entirely outside the hunks outside, without snapping to nearby lines", () => {
    const { inline, outside } = place([finding({ startLine: 9, endLine: 9 }), finding({ startLine: 40, endLine: 45, anchor: "not in the diff" })]);
    expect(inline).toEqual([]);
    expect(outside.map((o) => o.reason)).toEqual(["lines-not-in-diff", "lines-not-in-diff"]);
  });
});

describe("placeFindings: suggestions", () => {
  it("applies a suggestion only on the exact reported range", () => {
    const { inline } = place([
      finding({ title: "a", startLine: 5, endLine: 5, suggestion: "line 5 fixed" }),
      finding({ title: "b", startLine: 3, endLine: 4, suggestion: "" }),
      finding({ title: "c", startLine: 6, endLine: 6, suggestion: null }),
    ]);
    expect(inline.map((p) => [p.finding.title, p.suggestionApplies])).toEqual([
      ["a", true],
      ["b", true],
      ["c", false],
    ]);
  });
});

describe("placeFindings: ordering, limit and duplicates", () => {
  const findings = [
    finding({ title: "p2 low", priority: 2, confidence: 0.3, startLine: 2, endLine: 2 }),
    finding({ title: "p0", priority: 0, confidence: 0.5, startLine: 3, endLine: 3 }),
    finding({ title: "p2 high", priority: 2, confidence: 0.9, startLine: 4, endLine: 4 }),
    finding({ title: "p1 first", priority: 1, confidence: 0.7, startLine: 5, endLine: 5 }),
    finding({ title: "p1 second", priority: 1, confidence: 0.7, startLine: 6, endLine: 6 }),
    finding({ title: "missing", priority: 3, confidence: 1, path: "nope.ts" }),
    finding({ title: "also missing", priority: 0, confidence: 1, path: "gone.ts" }),
  ];

  it("orders inline by priority, then confidence, stable on ties", () => {
    const { inline } = place(findings);
    expect(inline.map((p) => p.finding.title)).toEqual(["p0", "p1 first", "p1 second", "p2 high", "p2 low"]);
  });

  it("moves placements beyond maxInline outside in that same order", () => {
    const { inline, outside } = place(findings, 2);
    expect(inline.map((p) => p.finding.title)).toEqual(["p0", "p1 first"]);
    expect(outside.map((o) => [o.finding.title, o.reason])).toEqual([
      ["also missing", "file-not-in-diff"],
      ["p1 second", "over-inline-limit"],
      ["p2 high", "over-inline-limit"],
      ["p2 low", "over-inline-limit"],
      ["missing", "file-not-in-diff"],
    ]);
  });

  it("puts everything outside when maxInline is 0", () => {
    const { inline, outside } = place(findings.slice(0, 2), 0);
    expect(inline).toEqual([]);
    expect(outside.map((o) => o.reason)).toEqual(["over-inline-limit", "over-inline-limit"]);
  });

  it("never places two comments with the same path, line and title; the higher-ranked one stays", () => {
    const { inline, outside } = place([
      finding({ title: "Null check", priority: 2, body: "second", startLine: 5, endLine: 5 }),
      finding({ title: "[P1] null-check!", priority: 1, body: "first", startLine: 4, endLine: 5 }),
      finding({ title: "Null check", priority: 2, body: "other line", startLine: 6, endLine: 6 }),
    ]);
    expect(inline.map((p) => [p.finding.body, p.line])).toEqual([
      ["first", 5],
      ["other line", 6],
    ]);
    expect(outside).toEqual([]);
  });
});
