import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { commentableLines, DiffParseError, parseDiff, parseUnifiedDiff } from "../../../src/review/diff.js";
import type { DiffFile } from "../../../src/types.js";

function fixture(name: string): DiffFile[] {
  return parseUnifiedDiff(readFileSync(new URL(`../../fixtures/diffs/${name}`, import.meta.url), "utf8"));
}

function byPath(files: DiffFile[], path: string): DiffFile {
  const file = files.find((f) => f.path === path);
  if (!file) throw new Error(`no ${path} in ${files.map((f) => f.path).join(", ")}`);
  return file;
}

/** "kind old/new:text" per line, compact enough to assert whole hunks. */
function render(file: DiffFile): string[][] {
  return file.hunks.map((h) => h.lines.map((l) => `${l.kind} ${l.oldLine ?? "-"}/${l.newLine ?? "-"}:${l.text}`));
}

describe("parseUnifiedDiff on real git output", () => {
  it("reads a rename with edits: both paths, status and two hunks with head-side numbers", () => {
    const [file, ...rest] = fixture("rename-edit.diff");
    expect(rest).toHaveLength(0);
    expect(file).toMatchObject({ path: "src/new_name.ts", oldPath: "src/old_name.ts", status: "renamed", binary: false });
    expect(file?.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines, h.header])).toEqual([
      [7, 7, 7, 7, "const value 6"],
      [18, 3, 18, 4, "const value 17"],
    ]);
    expect(render(file as DiffFile)[1]).toEqual([
      "context 18/18:const value 18",
      "context 19/19:const value 19",
      "context 20/20:const value 20",
      "add -/21:const value 21",
    ]);
  });

  it("keeps a pure rename (no hunks) as a file", () => {
    expect(fixture("rename-pure.diff")).toEqual([
      { path: "docs/b.md", oldPath: "docs/a.md", status: "renamed", binary: false, hunks: [] },
    ]);
  });

  it("reads deletions, including an empty deleted file without hunks", () => {
    const files = fixture("delete.diff");
    expect(files.map((f) => [f.path, f.status, f.oldPath, f.hunks.length])).toEqual([
      ["empty.txt", "deleted", null, 0],
      ["removed.txt", "deleted", null, 1],
    ]);
    const removed = byPath(files, "removed.txt");
    expect(render(removed)).toEqual([["del 1/-:gone 1", "del 2/-:gone 2", "del 3/-:gone 3"]]);
    expect(commentableLines(removed).size).toBe(0);
  });

  it.each(["binary.diff", "binary-patch.diff"])("marks binary files and still parses the text file after them (%s)", (name) => {
    const files = fixture(name);
    expect(files.map((f) => [f.path, f.status, f.binary, f.hunks.length])).toEqual([
      ["blob.bin", "added", true, 0],
      ["image.png", "modified", true, 0],
      ["notes.txt", "modified", false, 1],
    ]);
    expect(render(byPath(files, "notes.txt"))).toEqual([["context 1/1:text", "add -/2:more"]]);
  });

  it("does not count '\\ No newline at end of file' as a line, on either side", () => {
    const files = fixture("no-newline.diff");
    expect(render(byPath(files, "both.txt"))).toEqual([["context 1/1:a", "context 2/2:b", "del 3/-:c", "add -/3:C"]]);
    expect(render(byPath(files, "added-newline.txt"))).toEqual([["context 1/1:x", "del 2/-:y", "add -/2:y"]]);
    expect(render(byPath(files, "removed-newline.txt"))).toEqual([["context 1/1:p", "del 2/-:q", "add -/2:q"]]);
    expect(files).toHaveLength(3);
  });

  it("numbers three hunks independently (replace, insert, delete)", () => {
    const [file] = fixture("multi-hunk.diff");
    expect(file?.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines])).toEqual([
      [2, 7, 2, 7],
      [28, 6, 28, 7],
      [52, 7, 53, 6],
    ]);
    const lines = commentableLines(file as DiffFile);
    expect(lines.get(5)).toBe(0);
    expect(lines.get(31)).toBe(1);
    expect(lines.get(34)).toBe(1);
    expect(lines.get(35)).toBeUndefined();
    expect(lines.get(55)).toBe(2);
    expect(lines.get(58)).toBe(2);
    expect([...lines.keys()]).toHaveLength(7 + 7 + 6);
  });

  it("reads content lines that look like ---/+++ headers as hunk lines (count-driven)", () => {
    const files = fixture("dash-lines.diff");
    expect(files).toHaveLength(1);
    expect(render(files[0] as DiffFile)).toEqual([
      [
        "context 1/1:SELECT 1;",
        "del 2/-:-- a/fake.sql",
        "del 3/-:-- comment",
        "add -/2:++ b/fake.sql",
        "context 4/3:SELECT 2;",
        "del 5/-:++counter;",
        "add -/4:+++triple",
        "add -/5:---",
        "context 6/6:SELECT 3;",
      ],
    ]);
  });

  it("decodes C-quoted paths (octal UTF-8, \\\" and \\t) and unquoted paths with spaces", () => {
    const files = fixture("quoted-path.diff");
    expect(files.map((f) => [f.path, f.oldPath, f.status, f.hunks.length])).toEqual([
      ["empty ä.txt", null, "added", 0],
      ["keep space.txt", null, "modified", 1],
      ["mode space.sh", null, "modified", 0],
      ["now ü.txt", "with space.txt", "renamed", 1],
      ['quote"d.txt', null, "modified", 1],
      ["tab\there.txt", null, "modified", 1],
      ["ä b.txt", null, "modified", 1],
    ]);
    expect(render(byPath(files, "ä b.txt"))).toEqual([["context 1/1:one", "add -/2:two"]]);
  });

  it("keeps mode-only changes as modified files without hunks", () => {
    const files = fixture("mode-change.diff");
    expect(files.map((f) => [f.path, f.status, f.hunks.length])).toEqual([
      ["both.sh", "modified", 1],
      ["run.sh", "modified", 0],
    ]);
  });

  it("reads added files, empty new files, and keeps CRLF in the text", () => {
    const files = fixture("added.diff");
    expect(files.map((f) => [f.path, f.status, f.hunks.length])).toEqual([
      ["added.txt", "added", 1],
      ["empty-new.txt", "added", 0],
      ["windows.txt", "modified", 1],
    ]);
    expect(render(byPath(files, "added.txt"))).toEqual([["add -/1:new 1", "add -/2:new 2"]]);
    expect(byPath(files, "windows.txt").hunks[0]?.lines.map((l) => l.text)).toEqual(["w1\r", "w2\r", "W2\r", "w3\r"]);
  });

  it("reads copies with and without edits", () => {
    const files = fixture("copy.diff");
    expect(files.map((f) => [f.path, f.oldPath, f.status, f.hunks.length])).toEqual([
      ["copy-edited.txt", "original.txt", "copied", 1],
      ["copy-same.txt", "original.txt", "copied", 0],
    ]);
    expect(commentableLines(byPath(files, "copy-edited.txt")).get(11)).toBe(0);
  });

  it("parses all fixtures concatenated as one diff (file boundaries never leak)", () => {
    const names = ["rename-edit.diff", "binary-patch.diff", "dash-lines.diff", "no-newline.diff", "quoted-path.diff"];
    const text = names.map((n) => readFileSync(new URL(`../../fixtures/diffs/${n}`, import.meta.url), "utf8")).join("");
    const separately = names.flatMap((n) => fixture(n));
    expect(parseUnifiedDiff(text)).toEqual(separately);
  });
});

describe("parseUnifiedDiff edge cases", () => {
  it("treats an omitted hunk count as 1", () => {
    const [file] = parseUnifiedDiff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
    expect(file?.hunks[0]).toMatchObject({ oldStart: 1, oldLines: 1, newStart: 1, newLines: 1, header: "" });
    expect(render(file as DiffFile)).toEqual([["del 1/-:a", "add -/1:b"]]);
  });

  it("returns nothing for empty input and ignores text before the first file", () => {
    expect(parseUnifiedDiff("")).toEqual([]);
    const files = parseUnifiedDiff("+stray\n-lines\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n x\n+y\n");
    expect(files.map((f) => f.path)).toEqual(["x"]);
  });

  it("keeps the lines of a truncated last hunk with correct numbers", () => {
    const [file] = parseUnifiedDiff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -10,5 +10,6 @@\n ten\n+new\n");
    expect(render(file as DiffFile)).toEqual([["context 10/10:ten", "add -/11:new"]]);
  });

  it("accepts a blank context line whose leading space was stripped", () => {
    const [file] = parseUnifiedDiff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n");
    expect(render(file as DiffFile)).toEqual([["context 1/1:a", "context 2/2:", "del 3/-:b", "add -/3:c"]]);
  });

  it("throws instead of guessing when a hunk's lines do not match its header", () => {
    const text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n+b\n+c\n";
    expect(() => parseUnifiedDiff(text)).toThrow(DiffParseError);
    expect(() => parseUnifiedDiff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n?? b\n")).toThrow(/does not fit/);
  });

  it("reads a rename between two unquoted paths with spaces from the rename headers", () => {
    const text = [
      "diff --git a/old name.txt b/new name.txt",
      "similarity index 100%",
      "rename from old name.txt",
      "rename to new name.txt",
      "",
    ].join("\n");
    expect(parseUnifiedDiff(text)).toEqual([
      { path: "new name.txt", oldPath: "old name.txt", status: "renamed", binary: false, hunks: [] },
    ]);
  });

  it("decodes every C escape git uses", () => {
    const text = 'diff --git "a/\\a\\b\\f\\n\\r\\v\\\\x" "b/\\a\\b\\f\\n\\r\\v\\\\x"\nnew file mode 100644\nindex 0000000..e69de29\n';
    expect(parseUnifiedDiff(text)[0]?.path).toBe("\x07\b\f\n\r\v\\x");
  });
});

describe("commentableLines", () => {
  it("maps added and context lines to their hunk, never deleted ones", () => {
    const [file] = fixture("rename-edit.diff");
    const lines = commentableLines(file as DiffFile);
    expect([...lines]).toEqual([
      [7, 0],
      [8, 0],
      [9, 0],
      [10, 0],
      [11, 0],
      [12, 0],
      [13, 0],
      [18, 1],
      [19, 1],
      [20, 1],
      [21, 1],
    ]);
  });
});

describe("parseDiff: one strange byte never fails the whole diff", () => {
  /** One modified file "x" whose only hunk carries `context` after the second "@@". */
  const withContext = (context: string): string =>
    `diff --git a/x b/x\nindex 1111111..2222222 100644\n--- a/x\n+++ b/x\n@@ -7,3 +7,3 @@ ${context}\n a\n-b\n+c\n d\n`;

  it.each([
    ["U+2028", "def f():  # sep\u2028here"],
    ["U+2029", "def f():  # sep\u2029here"],
    ["a lone CR", "def f():  # sep\rhere"],
    ["all three and a trailing CR", "a\u2028b\u2029c\rd\r"],
  ])("reads a hunk header whose context holds %s", (_name, context) => {
    const { files, unparsed } = parseDiff(withContext(context));
    expect(unparsed).toEqual([]);
    expect(files).toHaveLength(1);
    expect(files[0]?.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines, h.header])).toEqual([[7, 3, 7, 3, context]]);
    expect(render(files[0] as DiffFile)).toEqual([["context 7/7:a", "del 8/-:b", "add -/8:c", "context 9/9:d"]]);
    // The strict form agrees: nothing in it is an error.
    expect(parseUnifiedDiff(withContext(context))).toEqual(files);
  });

  it("splits lines on LF only: CR, U+2028 and U+2029 inside hunk lines stay text of that line", () => {
    const text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\u2028still a\r\n-b\rstill b\n+c\u2029still c\n";
    const { files, unparsed } = parseDiff(text);
    expect(unparsed).toEqual([]);
    expect(render(files[0] as DiffFile)).toEqual([["context 1/1:a\u2028still a\r", "del 2/-:b\rstill b", "add -/2:c\u2029still c"]]);
  });

  const good = (name: string): string => `diff --git a/${name} b/${name}\n--- a/${name}\n+++ b/${name}\n@@ -1 +1 @@\n-old ${name}\n+new ${name}\n`;
  const goodFile = (name: string): DiffFile => ({
    path: name,
    oldPath: null,
    status: "modified",
    binary: false,
    hunks: [
      {
        oldStart: 1,
        oldLines: 1,
        newStart: 1,
        newLines: 1,
        header: "",
        lines: [
          { kind: "del", oldLine: 1, newLine: null, text: `old ${name}` },
          { kind: "add", oldLine: null, newLine: 1, text: `new ${name}` },
        ],
      },
    ],
  });

  it("skips a corrupt file section between two good ones, with the reason, and reads both good ones", () => {
    // The bad line is line 12 of the whole text (6 of first.txt, then 6 of bad.txt): not a hunk line.
    const bad = "diff --git a/bad.txt b/bad.txt\n--- a/bad.txt\n+++ b/bad.txt\n@@ -1,2 +1,2 @@\n ok\n?? junk\n+tail\n";
    const { files, unparsed } = parseDiff(good("first.txt") + bad + good("last.txt"));
    expect(files).toEqual([goodFile("first.txt"), goodFile("last.txt")]);
    expect(unparsed).toEqual([{ path: "bad.txt", reason: 'line 12 does not fit its hunk: "?? junk"' }]);
  });

  it("skips a section whose hunk header is not a hunk header", () => {
    const bad = "diff --git a/bad.txt b/bad.txt\n--- a/bad.txt\n+++ b/bad.txt\n@@ -one +1 @@ f\u2028g\n-a\n+b\n";
    const { files, unparsed } = parseDiff(good("first.txt") + bad + good("last.txt"));
    expect(files.map((f) => f.path)).toEqual(["first.txt", "last.txt"]);
    expect(unparsed).toEqual([{ path: "bad.txt", reason: 'malformed hunk header: "@@ -one +1 @@ f\u2028g"' }]);
  });

  it("skips a section whose hunk runs short into the next file, and reads that next file", () => {
    const short = "diff --git a/short.txt b/short.txt\n--- a/short.txt\n+++ b/short.txt\n@@ -1,5 +1,5 @@\n a\n";
    const { files, unparsed } = parseDiff(short + good("next.txt"));
    expect(files).toEqual([goodFile("next.txt")]);
    expect(unparsed).toEqual([{ path: "short.txt", reason: 'line 6 does not fit its hunk: "diff --git a/next.txt b/next.txt"' }]);
  });

  it("names a section without any readable path by its raw header", () => {
    const { files, unparsed } = parseDiff(`diff --git nonsense\n${good("after.txt")}`);
    expect(files).toEqual([goodFile("after.txt")]);
    expect(unparsed).toEqual([{ path: "nonsense", reason: "diff entry without a readable path" }]);
  });

  it("names a renamed section by its new path", () => {
    const bad = "diff --git a/old.txt b/new.txt\nsimilarity index 90%\nrename from old.txt\nrename to new.txt\n@@ -1 +1 @@\n*x\n";
    expect(parseDiff(bad).unparsed).toEqual([{ path: "new.txt", reason: 'line 6 does not fit its hunk: "*x"' }]);
  });

  it("parseUnifiedDiff (strict, for the fix checks) still refuses, naming the file", () => {
    const bad = "diff --git a/bad.txt b/bad.txt\n--- a/bad.txt\n+++ b/bad.txt\n@@ -1 +1 @@\n?x\n";
    expect(() => parseUnifiedDiff(good("a.txt") + bad)).toThrow(new DiffParseError('bad.txt: line 11 does not fit its hunk: "?x"'));
  });
});
