import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { CheckRun } from "../../../src/github/checks.js";
import { canTrigger, clearPermissionCache } from "../../../src/github/permissions.js";
import { postReview } from "../../../src/github/reviews.js";
import { FakeGitHub } from "../../helpers/fake-github.js";

const log = pino({ level: "silent" });
const octokit = () =>
  new ProbotOctokit({ auth: { token: "t" }, retry: { enabled: false }, throttle: { enabled: false } }) as InstanceType<typeof ProbotOctokit>;
const coords = { owner: "octo", repo: "demo" };

describe("postReview", () => {
  let gh: FakeGitHub;
  afterEach(() => gh.dispose());

  it("folds inline comments into the body when GitHub answers 422, posting exactly one review", async () => {
    gh = new FakeGitHub("octo", "demo");
    let attempts = 0;
    gh.on("POST", gh.repoPath("/pulls/3/reviews"), (_m, body) => {
      attempts++;
      const comments = (body as { comments?: unknown[] }).comments ?? [];
      return comments.length > 0
        ? [422, { message: "Unprocessable Entity", errors: ["Pull request review thread line must be part of the diff"] }]
        : [200, { id: 5, html_url: "https://github.com/octo/demo/pull/3#pullrequestreview-5" }];
    });
    const posted = await postReview(
      octokit(),
      coords,
      {
        pullNumber: 3,
        commitId: "c".repeat(40),
        body: "Summary",
        comments: [{ path: "a.ts", line: 99, side: "RIGHT", body: "finding" }],
        fallbackBody: () => "Summary\n\n- finding at a.ts:99",
      },
      log,
    );
    expect(attempts).toBe(2);
    expect(posted).toMatchObject({ id: 5, inlineRejected: true });
    const second = gh.bodies<{ body: string; event: string; comments?: unknown }>("POST", /reviews$/)[1]!;
    expect(second.event).toBe("COMMENT");
    expect(second.body).toContain("Summary");
    expect(second.body).toContain("- finding at a.ts:99");
    expect(second.comments).toBeUndefined();
  });

  it("does not swallow other errors", async () => {
    gh = new FakeGitHub("octo", "demo");
    gh.on("POST", gh.repoPath("/pulls/3/reviews"), () => [500, { message: "boom" }]);
    await expect(
      postReview(octokit(), coords, { pullNumber: 3, commitId: "c", body: "b", comments: [], fallbackBody: () => "" }, log),
    ).rejects.toMatchObject({ status: 500 });
  });
});

describe("CheckRun", () => {
  let gh: FakeGitHub;
  afterEach(() => gh.dispose());

  it("sends annotations 50 per request, the first batch with the completion", async () => {
    gh = new FakeGitHub("octo", "demo").defaults();
    const check = await CheckRun.start(octokit(), coords, { name: "n", headSha: "s", title: "t", summary: "s" });
    const annotations = Array.from({ length: 120 }, (_, i) => ({
      path: "a.ts",
      start_line: i + 1,
      end_line: i + 1,
      annotation_level: "warning" as const,
      title: `f${i}`,
      message: "m",
    }));
    await check.complete({ conclusion: "neutral", title: "done", summary: "x".repeat(70_000), annotations });
    const updates = gh.bodies<{ status?: string; output: { annotations: unknown[]; summary: string } }>("PATCH", /check-runs/);
    expect(updates.map((u) => u.output.annotations.length)).toEqual([50, 50, 20]);
    expect(updates[0]!.status).toBe("completed");
    expect(updates[0]!.output.summary.length).toBeLessThanOrEqual(65_535);
  });
});

describe("canTrigger", () => {
  let gh: FakeGitHub;
  afterEach(() => {
    gh.dispose();
    clearPermissionCache();
  });

  it.each([
    ["admin", true],
    ["maintain", true],
    ["write", true],
    ["triage", false],
    ["read", false],
  ])("role %s → %s", async (role, allowed) => {
    gh = new FakeGitHub("octo", "demo");
    gh.on("GET", gh.repoPath("/collaborators/([^/]+)/permission"), () => [
      200,
      { permission: role === "maintain" ? "write" : role === "triage" ? "read" : role, role_name: role },
    ]);
    expect(await canTrigger(octokit(), coords, "someone")).toBe(allowed);
  });

  it("treats a non-collaborator (404) as no access and caches the answer briefly", async () => {
    gh = new FakeGitHub("octo", "demo");
    gh.on("GET", gh.repoPath("/collaborators/([^/]+)/permission"), () => [404, { message: "Not Found" }]);
    const now = Date.now();
    expect(await canTrigger(octokit(), coords, "stranger", now)).toBe(false);
    expect(await canTrigger(octokit(), coords, "stranger", now + 1000)).toBe(false);
    expect(gh.calls).toHaveLength(1);
    expect(await canTrigger(octokit(), coords, "stranger", now + 120_000)).toBe(false);
    expect(gh.calls).toHaveLength(2);
  });
});
