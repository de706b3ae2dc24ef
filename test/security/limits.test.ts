import { describe, expect, it } from "vitest";
import { diffBytes, fileRank, prioritiseFiles } from "../../src/security/limits.js";
import type { DiffFile } from "../../src/types.js";

function file(path: string, added: number, opts: Partial<DiffFile> = {}): DiffFile {
  return {
    path,
    oldPath: null,
    status: "modified",
    binary: false,
    hunks: [
      {
        oldStart: 1,
        oldLines: 0,
        newStart: 1,
        newLines: added,
        header: "",
        lines: Array.from({ length: added }, (_, i) => ({ kind: "add" as const, oldLine: null, newLine: i + 1, text: "x".repeat(8) })),
      },
    ],
    ...opts,
  };
}

describe("prioritiseFiles", () => {
  it("ranks code before config, tests, docs and generated files", () => {
    expect(["src/a.ts", "app.yml", "test/a.test.ts", "README.md", "package-lock.json", "vendor/x.js"].map(fileRank)).toEqual([0, 1, 2, 3, 4, 4]);
  });

  it("keeps everything under the limits, in diff order", () => {
    const files = [file("README.md", 1), file("src/a.ts", 2)];
    const r = prioritiseFiles(files, { maxFiles: 10, maxBytes: 1_000_000 });
    expect(r.included.map((f) => f.path)).toEqual(["README.md", "src/a.ts"]);
    expect(r.skipped).toEqual([]);
    expect(r.bytes).toBe(diffBytes(files[0]!) + diffBytes(files[1]!));
  });

  it("caps the file count, keeping code and the biggest changes", () => {
    const files = [file("docs/x.md", 50), file("src/small.ts", 1), file("package-lock.json", 500), file("src/big.ts", 30), file("test/a.test.ts", 5)];
    const r = prioritiseFiles(files, { maxFiles: 2, maxBytes: 1_000_000 });
    expect(r.included.map((f) => f.path)).toEqual(["src/small.ts", "src/big.ts"]);
    expect(r.skipped.map((s) => [s.path, s.reason])).toEqual([
      ["test/a.test.ts", "max-files"],
      ["docs/x.md", "max-files"],
      ["package-lock.json", "max-files"],
    ]);
  });

  it("caps the bytes, skipping a file too big for what is left but taking smaller ones after it", () => {
    const files = [file("src/a.ts", 10), file("src/huge.ts", 1000), file("src/b.ts", 5)];
    const budget = diffBytes(files[0]!) + diffBytes(files[2]!);
    const r = prioritiseFiles(files, { maxFiles: 10, maxBytes: budget });
    expect(r.included.map((f) => f.path)).toEqual(["src/a.ts", "src/b.ts"]);
    expect(r.skipped).toEqual([{ path: "src/huge.ts", reason: "max-bytes" }]);
    expect(r.bytes).toBeLessThanOrEqual(budget);
  });
});
