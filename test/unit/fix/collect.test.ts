import { describe, expect, it } from "vitest";
import {
  CollectError,
  combineChanges,
  parseBatchCheck,
  parseNumstat,
  parseRawDiff,
  summarizeChanges,
} from "../../../src/fix/collect.js";

const Z = "0".repeat(40);
const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);

describe("parseRawDiff", () => {
  it("reads added, modified, deleted and type-changed entries with their modes", () => {
    const text =
      `:000000 100644 ${Z} ${A} A\0src/new file.js\0` +
      `:100644 100755 ${B} ${C} M\0run.sh\0` +
      `:100644 000000 ${B} ${Z} D\0old.txt\0` +
      `:100644 120000 ${B} ${A} T\0link\0`;
    expect(parseRawDiff(text)).toEqual([
      { path: "src/new file.js", status: "added", oldMode: null, newMode: "100644", newObject: A },
      { path: "run.sh", status: "modified", oldMode: "100644", newMode: "100755", newObject: C },
      { path: "old.txt", status: "deleted", oldMode: "100644", newMode: null, newObject: null },
      { path: "link", status: "type-changed", oldMode: "100644", newMode: "120000", newObject: A },
    ]);
  });

  it("keeps paths with newlines and tabs intact (NUL-separated)", () => {
    expect(parseRawDiff(`:000000 100644 ${Z} ${A} A\0we\nird\tname\0`)[0]!.path).toBe("we\nird\tname");
  });

  it("returns nothing for no changes and fails loudly on anything unexpected", () => {
    expect(parseRawDiff("")).toEqual([]);
    expect(() => parseRawDiff(`:100644 100644 ${B} ${C} R100\0a\0b\0`)).toThrow(CollectError);
    expect(() => parseRawDiff("garbage")).toThrow(CollectError);
  });
});

describe("parseNumstat and parseBatchCheck", () => {
  it("reads line counts, with null for binary files", () => {
    expect(parseNumstat("3\t1\tsrc/a.js\0-\t-\timg.png\0")).toEqual([
      { path: "src/a.js", additions: 3, deletions: 1 },
      { path: "img.png", additions: null, deletions: null },
    ]);
    expect(() => parseNumstat("x\ty\tz\0")).toThrow(CollectError);
  });

  it("reads object sizes and skips missing objects", () => {
    const sizes = parseBatchCheck(`${A} blob 12\n${B} missing\n${C} commit 240\n`);
    expect([...sizes]).toEqual([
      [A, 12],
      [C, 240],
    ]);
  });
});

describe("combineChanges", () => {
  it("joins the three listings into one record per file", () => {
    const raw = parseRawDiff(
      `:000000 100644 ${Z} ${A} A\0img.png\0:000000 120000 ${Z} ${B} A\0link\0:000000 160000 ${Z} ${C} A\0sub\0:100644 000000 ${A} ${Z} D\0gone\0`,
    );
    const changes = combineChanges(
      raw,
      parseNumstat("-\t-\timg.png\0" + "1\t0\tlink\0" + "1\t0\tsub\0" + "0\t4\tgone\0"),
      new Map([
        [A, 5000],
        [B, 9],
        [C, 240],
      ]),
      new Map([[B, "../x"]]),
    );
    expect(changes.map((c) => [c.path, c.size, c.binary, c.linkTarget, c.additions, c.deletions])).toEqual([
      ["img.png", 5000, true, null, 0, 0],
      ["link", 9, false, "../x", 1, 0],
      // A gitlink's object is a commit in another repository: no size.
      ["sub", null, false, null, 1, 0],
      ["gone", null, false, null, 0, 4],
    ]);
    expect(summarizeChanges(changes)).toBe("4 files changed, +2 −4");
    expect(summarizeChanges(changes.slice(0, 1))).toBe("1 file changed, +0 −0");
  });
});
