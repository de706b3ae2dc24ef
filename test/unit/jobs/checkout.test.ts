import { describe, expect, it, vi } from "vitest";
import { repoConfigSchema } from "../../../src/config/schema.js";
import { checkoutPull } from "../../../src/jobs/checkout.js";
import type { JobContext } from "../../../src/jobs/context.js";
import type { CheckoutRequest, Lease } from "../../../src/workspace/workspaces.js";

function fake(): { ctx: JobContext; requests: CheckoutRequest[] } {
  const requests: CheckoutRequest[] = [];
  const lease = { dir: "/w", diff: async () => "", release: vi.fn(async () => undefined) } as unknown as Lease;
  const ctx = {
    job: {
      repo: { owner: "octo", name: "demo", cloneUrl: "https://github.com/octo/demo.git" },
      prNumber: 7,
    },
    pull: { headSha: "b".repeat(40), baseSha: "a".repeat(40), baseRef: "main" },
    deps: {
      settings: { maxFiles: 100, maxDiffBytes: 1_000_000 },
      workspaces: {
        checkout: async (req: CheckoutRequest) => {
          requests.push(req);
          return lease;
        },
      },
    },
    token: async () => "t",
    signal: new AbortController().signal,
    config: repoConfigSchema.parse({}),
  } as unknown as JobContext;
  return { ctx, requests };
}

describe("checkoutPull", () => {
  it("asks for a normal, waiting lease by default", async () => {
    const { ctx, requests } = fake();
    await checkoutPull(ctx);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ repoKey: "github.com/octo/demo", refs: ["refs/heads/main", "refs/pull/7/head"] });
    expect(requests[0]!.extra).toBeUndefined();
  });

  it("marks a job's second worktree as extra, so it never waits for the pool", async () => {
    const { ctx, requests } = fake();
    await checkoutPull(ctx, { extra: true });
    expect(requests[0]!.extra).toBe(true);
  });
});
