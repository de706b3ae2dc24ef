import { describe, expect, it } from "vitest";
import { WorkspaceError } from "../../../src/errors.js";
import { checkCloneUrl, checkRef, checkSha, safeKey } from "../../../src/workspace/naming.js";

describe("safeKey", () => {
  it("is one readable path segment that keeps distinct keys distinct", () => {
    const keys = ["github.com/octo/repo", "github.com/octo_repo", "github.com/Octo/repo", "../../etc/passwd", "a b/c"];
    const names = keys.map(safeKey);
    expect(new Set(names).size).toBe(keys.length);
    for (const name of names) {
      expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
      expect(name).not.toContain("..");
    }
    expect(safeKey("github.com/octo/repo")).toMatch(/^github\.com_octo_repo-[0-9a-f]{12}$/);
    expect(safeKey("github.com/octo/repo")).toBe(safeKey("github.com/octo/repo"));
  });

  it("stays short for very long keys", () => {
    expect(safeKey("x".repeat(500)).length).toBeLessThanOrEqual(73);
  });
});

describe("argument checks", () => {
  it("accepts full SHAs only, normalised to lower case", () => {
    expect(checkSha("ABCDEF0123456789ABCDEF0123456789ABCDEF01", "head")).toBe("abcdef0123456789abcdef0123456789abcdef01");
    for (const bad of ["abc123", "--upload-pack=evil", "main", `${"a".repeat(40)}^`]) {
      expect(() => checkSha(bad, "head")).toThrow(WorkspaceError);
    }
  });

  it("accepts plain refs and nothing git could read as an option or a pattern", () => {
    expect(checkRef("refs/pull/7/head")).toBe("refs/pull/7/head");
    expect(checkRef("refs/heads/feature/x.y_z-1")).toBe("refs/heads/feature/x.y_z-1");
    for (const bad of ["--upload-pack=x", "main", "refs/heads/../x", "refs/heads/-x", "refs/heads/*", "refs/a:refs/b", "refs/heads/x.lock", "refs/heads/.x"]) {
      expect(() => checkRef(bad), bad).toThrow(WorkspaceError);
    }
  });

  it("rejects clone URLs that start like an option or carry control characters", () => {
    expect(checkCloneUrl("https://ghe.example.com/octo/repo.git")).toBe("https://ghe.example.com/octo/repo.git");
    for (const bad of ["", "-uevil", "https://x/\r\nHost: evil", "https://x/\u0000"]) {
      expect(() => checkCloneUrl(bad)).toThrow(WorkspaceError);
    }
  });
});
