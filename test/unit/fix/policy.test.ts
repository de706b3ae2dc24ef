import { describe, expect, it } from "vitest";
import type { FileChange } from "../../../src/fix/collect.js";
import {
  checkChanges,
  formatBytes,
  isUnsafePath,
  isWorkflowPath,
  secretViolations,
  symlinkStaysInside,
  type FixPolicy,
} from "../../../src/fix/policy.js";
import { parseUnifiedDiff } from "../../../src/review/diff.js";

const STRICT: FixPolicy = { allowWorkflowChanges: false, allowBinaries: false, maxFileBytes: 1024 };
const OPEN: FixPolicy = { allowWorkflowChanges: true, allowBinaries: true, maxFileBytes: 10_000 };

function change(path: string, extra: Partial<FileChange> = {}): FileChange {
  return {
    path,
    status: "modified",
    oldMode: "100644",
    newMode: "100644",
    newObject: "a".repeat(40),
    size: 10,
    binary: false,
    linkTarget: null,
    additions: 1,
    deletions: 0,
    ...extra,
  };
}

describe("checkChanges", () => {
  it("passes an ordinary source change", () => {
    expect(checkChanges([change("src/math.js"), change("README.md", { status: "deleted", newMode: null, newObject: null, size: null })], STRICT)).toEqual([]);
  });

  it("refuses any touch of .github/workflows (adding, changing, deleting; any case) unless allowed", () => {
    const changes = [
      change(".github/workflows/ci.yml", { status: "added", oldMode: null }),
      change(".GitHub/Workflows/release.yaml"),
      change(".github/workflows/old.yml", { status: "deleted", newMode: null, newObject: null, size: null }),
    ];
    const v = checkChanges(changes, STRICT);
    expect(v.map((x) => [x.path, x.kind, x.reason])).toEqual([
      [".github/workflows/ci.yml", "workflow", "adds a GitHub Actions workflow"],
      [".GitHub/Workflows/release.yaml", "workflow", "changes a GitHub Actions workflow"],
      [".github/workflows/old.yml", "workflow", "deletes a GitHub Actions workflow"],
    ]);
    expect(checkChanges(changes, OPEN)).toEqual([]);
    // Other files under .github are fine.
    expect(checkChanges([change(".github/CODEOWNERS"), change(".github/workflows-notes.md")], STRICT)).toEqual([]);
  });

  it("refuses symlinks that leave the repository or point into .git, whatever the config", () => {
    const link = (path: string, target: string) => change(path, { newMode: "120000", linkTarget: target, status: "added", oldMode: null });
    const v = checkChanges(
      [link("a/escape", "../../outside"), link("abs", "/etc/passwd"), link("hooks", ".git/hooks"), link("a/ok", "../src/math.js"), link("self", ".")],
      OPEN,
    );
    expect(v.map((x) => [x.path, x.kind])).toEqual([
      ["a/escape", "symlink-outside"],
      ["abs", "symlink-outside"],
      ["hooks", "symlink-outside"],
    ]);
  });

  it("refuses files over the size cap and binaries unless allowed", () => {
    const big = change("data.json", { size: 2048, status: "added", oldMode: null });
    const bin = change("logo.png", { binary: true, additions: 0 });
    expect(checkChanges([big, bin], STRICT).map((x) => [x.path, x.kind, x.reason])).toEqual([
      ["data.json", "too-large", "2 KiB, over the 1 KiB limit"],
      ["logo.png", "binary", "changes a binary file"],
    ]);
    expect(checkChanges([big, bin], OPEN)).toEqual([]);
  });

  it("refuses nested repositories and paths that could leave the tree", () => {
    expect(checkChanges([change("vendor/lib", { newMode: "160000", size: null })], OPEN).map((x) => x.kind)).toEqual(["submodule"]);
    expect(checkChanges([change("../x"), change("/abs"), change("a/.git/config"), change("a//b")], OPEN).map((x) => x.kind)).toEqual([
      "unsafe-path",
      "unsafe-path",
      "unsafe-path",
      "unsafe-path",
    ]);
  });
});

describe("path helpers", () => {
  it("recognise workflows, unsafe paths and contained links", () => {
    expect(isWorkflowPath(".github/workflows/x.yml")).toBe(true);
    expect(isWorkflowPath("docs/.github/workflows/x.yml")).toBe(false);
    expect(isUnsafePath("src/a.ts")).toBe(false);
    expect(isUnsafePath("src\\..\\a")).toBe(true);
    expect(symlinkStaysInside("docs/link", "../README.md")).toBe(true);
    expect(symlinkStaysInside("docs/link", "../../README.md")).toBe(false);
    expect(symlinkStaysInside("link", "")).toBe(false);
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3 MiB");
    expect(formatBytes(10)).toBe("10 bytes");
  });
});

describe("secretViolations", () => {
  const diff = (added: string) =>
    parseUnifiedDiff(`diff --git a/src/a.js b/src/a.js\n--- a/src/a.js\n+++ b/src/a.js\n@@ -1 +1,2 @@\n x\n+${added}\n`);

  it("refuses added lines holding the app's secrets or credential-shaped strings", () => {
    expect(secretViolations(diff("const key = 'my-app-secret-value';"), ["my-app-secret-value"]).map((v) => v.kind)).toEqual(["secret"]);
    expect(secretViolations(diff(`token = "ghs_${"a".repeat(36)}"`), [])).toHaveLength(1);
    expect(secretViolations(diff("const x = 1;"), ["my-app-secret-value"])).toEqual([]);
  });
});
