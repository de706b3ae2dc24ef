import { describe, expect, it } from "vitest";
import { composeReview, quoteNotes, type ComposeReviewInput } from "../../../src/review/compose.js";
import { parseDiff, parseUnifiedDiff } from "../../../src/review/diff.js";
import { fingerprint, fingerprintMarker } from "../../../src/review/fingerprint.js";
import type { Finding } from "../../../src/types.js";

const DIFF = `diff --git a/a.c b/a.c
--- a/a.c
+++ b/a.c
@@ -1,2 +1,5 @@
 int a;
+int b;
+int c;
+int d;
 int e;
`;

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    title: "Uninitialised b",
    body: "b is read before it is set.",
    priority: 1,
    confidence: 0.9,
    path: "a.c",
    startLine: 2,
    endLine: 2,
    anchor: "int b;",
    suggestion: "int b = 0;",
    ...overrides,
  };
}

function input(findings: Finding[], overrides: Partial<ComposeReviewInput> = {}): ComposeReviewInput {
  return {
    outcome: { findings, verdict: "patch is incorrect", explanation: "Two problems.", confidence: 0.8 },
    mode: "review",
    files: parseUnifiedDiff(DIFF),
    unparsed: [],
    alreadyPosted: new Set(),
    maxInline: 10,
    belowThreshold: 0,
    headSha: "f".repeat(40),
    repoHtmlUrl: "https://github.com/octo/demo",
    knownSecrets: [],
    ...overrides,
  };
}

describe("composeReview", () => {
  it("reviews the files it could read and lists the one it could not, in the body and in the fallback body", () => {
    // a.c between two sections that are not git's output: the parse keeps a.c and records the others.
    const text = `diff --git a/first.py b/first.py\n@@ -1 +1 @@\n?\n${DIFF}diff --git a/last.py b/last.py\n@@ bad @@\n`;
    const { files, unparsed } = parseDiff(text);
    expect(files).toEqual(parseUnifiedDiff(DIFF));
    expect(unparsed).toEqual([
      { path: "first.py", reason: 'line 3 does not fit its hunk: "?"' },
      { path: "last.py", reason: 'malformed hunk header: "@@ bad @@"' },
    ]);
    const c = composeReview(input([finding()], { files, unparsed }));
    const section =
      "**2 files not reviewed:** their diff could not be read.\n\n" +
      "- `first.py`: `line 3 does not fit its hunk: \"?\"`\n" +
      "- `last.py`: `malformed hunk header: \"@@ bad @@\"`";
    expect(c.comments).toEqual([expect.objectContaining({ path: "a.c", line: 2 })]);
    expect(c.body).toContain(`\n\n${section}\n\n<sub>Reviewed commit`);
    expect(c.fallbackBody()).toContain(`\n\n${section}\n\n<sub>Reviewed commit`);
  });

  it("places new findings inline (multi-line ranges with start_line) and carries every fingerprint in the body", () => {
    const one = finding();
    const range = finding({ title: "c and d race", startLine: 3, endLine: 4, anchor: "int c;\nint d;", suggestion: null, priority: 2 });
    const outside = finding({ title: "Stale header", path: "a.h", anchor: "#pragma once", suggestion: null, priority: 3 });
    const c = composeReview(input([one, range, outside], { bodyNote: "\n\nNOTE", notes: quoteNotes(["claude did not finish"]) }));
    expect(c.fresh).toEqual([one, range, outside]);
    expect(c.comments).toEqual([
      expect.objectContaining({ path: "a.c", line: 2, side: "RIGHT" }),
      expect.objectContaining({ path: "a.c", line: 4, start_line: 3, side: "RIGHT", start_side: "RIGHT" }),
    ]);
    expect(c.comments[0]).not.toHaveProperty("start_line");
    expect(c.comments[0]!.body).toContain("```suggestion\nint b = 0;\n```");
    for (const f of [one, range, outside]) expect(c.body).toContain(fingerprintMarker(fingerprint(f)));
    expect(c.body).toContain("### Findings outside the diff");
    expect(c.body.endsWith("\n\nNOTE\n\n> claude did not finish")).toBe(true);
  });

  it("leaves out what an earlier review carries and says how many", () => {
    const old = finding();
    const fresh = finding({ title: "Another", anchor: "int d;", startLine: 4, endLine: 4 });
    const c = composeReview(input([old, fresh], { alreadyPosted: new Set([fingerprint(old)]) }));
    expect(c.fresh).toEqual([fresh]);
    expect(c.duplicatesSkipped).toBe(1);
    expect(c.comments).toHaveLength(1);
    expect(c.body).toContain("1 finding already posted on this pull request was not repeated.");
  });

  it("folds the inline comments into the fallback body, without the note meant for the inline review", () => {
    const c = composeReview(input([finding()], { bodyNote: "\n\nNOTE", notes: quoteNotes(["n"]) }));
    const fallback = c.fallbackBody();
    expect(fallback).toContain("GitHub did not accept it as an inline comment");
    expect(fallback).toContain(fingerprintMarker(fingerprint(finding())));
    expect(fallback).not.toContain("NOTE");
    expect(fallback.endsWith("> n")).toBe(true);
  });

  it("names the agents that found a finding when several ran, and honours the inline limit", () => {
    const a = finding();
    const b = finding({ title: "Other", anchor: "int c;", startLine: 3, endLine: 3 });
    const c = composeReview(input([a, b], { maxInline: 1, agents: new Map([[a, ["codex", "claude"]]]) }));
    expect(c.comments).toHaveLength(1);
    expect(c.comments[0]!.body).toContain("_Found by: codex and claude (agreed)_");
    expect(c.placement.outside.map((o) => o.reason)).toEqual(["over-inline-limit"]);
  });
});

describe("quoteNotes", () => {
  it("is empty without notes, a quoted block otherwise", () => {
    expect(quoteNotes([])).toBe("");
    expect(quoteNotes(["a", "b"])).toBe("\n\n> a\n>\n> b");
  });
});
