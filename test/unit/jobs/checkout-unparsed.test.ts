import { describe, expect, it, vi } from "vitest";
import { repoConfigSchema } from "../../../src/config/schema.js";
import { checkoutPull } from "../../../src/jobs/checkout.js";
import type { JobContext } from "../../../src/jobs/context.js";
import type { Lease } from "../../../src/workspace/workspaces.js";

/** A job context whose worktree lease hands out `diff` as the PR diff. */
function ctxWithDiff(diff: string, paths: Record<string, unknown> = {}): JobContext {
  const lease = { dir: "/w", diff: async () => diff, release: vi.fn(async () => undefined) } as unknown as Lease;
  return {
    job: { repo: { owner: "octo", name: "demo", cloneUrl: "https://github.com/octo/demo.git" }, prNumber: 7 },
    pull: { headSha: "b".repeat(40), baseSha: "a".repeat(40), baseRef: "main" },
    deps: { settings: { maxFiles: 100, maxDiffBytes: 1_000_000 }, workspaces: { checkout: async () => lease } },
    token: async () => "t",
    signal: new AbortController().signal,
    config: repoConfigSchema.parse({ paths }),
  } as unknown as JobContext;
}

const good = (name: string): string => `diff --git a/${name} b/${name}\n--- a/${name}\n+++ b/${name}\n@@ -1 +1 @@\n-a\n+b\n`;
const bad = (name: string): string => `diff --git a/${name} b/${name}\n--- a/${name}\n+++ b/${name}\n@@ -1 +1 @@\n?\n`;

describe("checkoutPull with a file whose diff cannot be parsed", () => {
  it("keeps the other files for review and reports the bad one with its reason", async () => {
    const out = await checkoutPull(ctxWithDiff(good("src/a.ts") + bad("src/odd.py") + good("src/b.ts")));
    expect(out.files.map((f) => f.path)).toEqual(["src/a.ts", "src/b.ts"]);
    expect(out.unparsed).toEqual([{ path: "src/odd.py", reason: 'line 11 does not fit its hunk: "?"' }]);
    expect(out.skipped).toEqual([]);
  });

  it("counts a bad file the path filters exclude as skipped by them, not as unreadable", async () => {
    const out = await checkoutPull(ctxWithDiff(good("src/a.ts") + bad("vendor/odd.py"), { ignore: ["vendor/"] }));
    expect(out.files.map((f) => f.path)).toEqual(["src/a.ts"]);
    expect(out.unparsed).toEqual([]);
    expect(out.skipped).toEqual(["vendor/odd.py"]);
  });
});
