import { describe, expect, it } from "vitest";
import type { FixReport } from "../../../src/fix/body.js";
import { patchComment, suggestionBody, suggestionsFromPatch } from "../../../src/fix/patch-comment.js";
import { parseUnifiedDiff } from "../../../src/review/diff.js";

const HEAD = "1234567890abcdef1234567890abcdef12345678";

/** The PR adds lines 5-7 (divide) to src/math.js. */
const PR_DIFF = parseUnifiedDiff(
  [
    "diff --git a/src/math.js b/src/math.js",
    "--- a/src/math.js",
    "+++ b/src/math.js",
    "@@ -3,1 +3,5 @@",
    " }",
    "+",
    "+export function divide(a, b) {",
    "+  return a / b;",
    "+}",
    "",
  ].join("\n"),
);

function fixPatch(hunks: string[], file = "src/math.js"): string {
  return [`diff --git a/${file} b/${file}`, "index 1111111..2222222 100644", `--- a/${file}`, `+++ b/${file}`, ...hunks, ""].join("\n");
}

const report: FixReport = {
  mode: "fix",
  prNumber: 7,
  headRef: "feature",
  headSha: HEAD,
  repoHtmlUrl: "https://github.com/octo/demo",
  targets: [],
  instruction: null,
  requestedBy: "maintainer",
  requestUrl: null,
  changes: [
    { path: "src/math.js", status: "modified", oldMode: "100644", newMode: "100644", newObject: "a".repeat(40), size: 1, binary: false, linkTarget: null, additions: 1, deletions: 0 },
  ],
  agentMessage: "Guarded divide().",
  verify: null,
  outdated: null,
  knownSecrets: [],
};

describe("suggestionsFromPatch", () => {
  it("turns a replacement on the PR's lines into a suggestion for exactly those lines", () => {
    const patch = fixPatch(["@@ -6,1 +6,2 @@", "-  return a / b;", '+  if (b === 0) throw new RangeError("x");', "+  return a / b;"]);
    expect(suggestionsFromPatch(patch, PR_DIFF)).toEqual([
      { path: "src/math.js", startLine: 6, endLine: 6, replacement: '  if (b === 0) throw new RangeError("x");\n  return a / b;' },
    ]);
  });

  it("widens a pure insertion to the next line, or the previous one when the next is not on the diff", () => {
    const insert = fixPatch(["@@ -5,2 +5,3 @@", " export function divide(a, b) {", "+  check(b);", "   return a / b;"]);
    expect(suggestionsFromPatch(insert, PR_DIFF)).toEqual([{ path: "src/math.js", startLine: 6, endLine: 6, replacement: "  check(b);\n  return a / b;" }]);
    // Line 8 is not part of the PR's diff, so the line before (7) carries the insertion.
    const atEnd = fixPatch(["@@ -7,2 +7,3 @@", " }", "+// end", " tail"]);
    expect(suggestionsFromPatch(atEnd, PR_DIFF)).toEqual([{ path: "src/math.js", startLine: 7, endLine: 7, replacement: "}\n// end" }]);
  });

  it("offers nothing for lines outside the PR's diff, other files, new files or binaries", () => {
    expect(suggestionsFromPatch(fixPatch(["@@ -1,1 +1,1 @@", "-export function add(a, b) {", "+export function add(a, b = 0) {"]), PR_DIFF)).toEqual([]);
    expect(suggestionsFromPatch(fixPatch(["@@ -1,1 +1,1 @@", "-x", "+y"], "README.md"), PR_DIFF)).toEqual([]);
    const added = ["diff --git a/t.js b/t.js", "new file mode 100644", "--- /dev/null", "+++ b/t.js", "@@ -0,0 +1 @@", "+x", ""].join("\n");
    expect(suggestionsFromPatch(added, PR_DIFF)).toEqual([]);
  });

  it("a file whose diff cannot be read gets no suggestion, and the others still get theirs", () => {
    const good = fixPatch(["@@ -6,1 +6,1 @@", "-  return a / b;", "+  return b === 0 ? NaN : a / b;"]);
    const broken = ["diff --git a/src/x.js b/src/x.js", "--- a/src/x.js", "+++ b/src/x.js", "@@ -1,2 +1,2 @@", "?? not a diff line", ""].join("\n");
    expect(suggestionsFromPatch(broken + good, PR_DIFF)).toEqual([
      { path: "src/math.js", startLine: 6, endLine: 6, replacement: "  return b === 0 ? NaN : a / b;" },
    ]);
  });

  it("never writes something shaped like the bot's markers", () => {
    expect(suggestionBody({ path: "a", startLine: 1, endLine: 1, replacement: "<!-- codex-pr-bot:fp:0000000000000000 -->" })).toBeNull();
    expect(suggestionBody({ path: "a", startLine: 1, endLine: 1, replacement: "x" })).toContain("```suggestion\nx\n```");
  });
});

describe("patchComment", () => {
  const patch = fixPatch(["@@ -6,1 +6,2 @@", "-  return a / b;", '+  if (b === 0) throw new RangeError("x");', "+  return a / b;"]);

  it("explains why there is no PR and holds the patch in a collapsed block", () => {
    const text = patchComment(report, patch);
    expect(text).toContain("@maintainer Codex wrote a fix for this pull request (1 file changed, +1 −0). The pull request comes from a fork");
    expect(text).toContain("<details>\n<summary>Patch (1 file changed, +1 −0), ready for <code>git apply</code></summary>");
    expect(/```diff\n([\s\S]*?)```/.exec(text)?.[1]).toBe(patch);
    expect(text).toContain("run `git apply codex-fix.patch`");
  });

  it("leaves a patch out that does not fit in a comment, and says so", () => {
    const huge = fixPatch(["@@ -6,1 +6,1 @@", "-x", `+${"y".repeat(70_000)}`]);
    const text = patchComment(report, huge);
    expect(text.length).toBeLessThan(65_000);
    expect(text).toContain("too large for a comment");
    expect(text).toContain("| `src/math.js` | modified | +1 −0 |");
  });
});
