import { describe, expect, it } from "vitest";
import { FakeGitHub } from "../../helpers/fake-github.js";
import { contractViolation, findOperation, takeViolations } from "../../helpers/openapi-contract.js";

/** The contract check itself: it must accept what GitHub describes and reject what it would not. */
describe("GitHub's API description as the oracle", () => {
  it("finds the operation of a call, the most literal template first", () => {
    expect(findOperation("POST", "/repos/o/r/pulls/7/reviews")?.template).toBe("/repos/{owner}/{repo}/pulls/{pull_number}/reviews");
    expect(findOperation("GET", "/repos/o/r/contents/.github%2Fcodex-pr-bot.yml")?.template).toBe("/repos/{owner}/{repo}/contents/{path}");
    expect(findOperation("POST", "/app/installations/77/access_tokens")?.template).toBe("/app/installations/{installation_id}/access_tokens");
  });

  it("accepts a review as the bot posts it", () => {
    expect(
      contractViolation("POST", "/repos/o/r/pulls/7/reviews", {
        commit_id: "a".repeat(40),
        event: "COMMENT",
        body: "## Codex review",
        comments: [{ path: "src/a.ts", line: 4, side: "RIGHT", body: "x" }],
      }),
    ).toBeNull();
  });

  it("rejects a wrong enum, a wrong type, a missing required field and an operation that does not exist", () => {
    expect(contractViolation("POST", "/repos/o/r/pulls/7/reviews", { event: "COMMENTED", body: "x" })).toMatch(
      /^POST \/repos\/\{owner\}\/\{repo\}\/pulls\/\{pull_number\}\/reviews: the body does not match GitHub's schema: \/event must be equal to one of the allowed values \(APPROVE, REQUEST_CHANGES, COMMENT\)/,
    );
    expect(contractViolation("PATCH", "/repos/o/r/check-runs/5", { status: "done" })).toMatch(/\/status must be equal to one of the allowed values/);
    expect(contractViolation("POST", "/repos/o/r/check-runs", { name: "x" })).toMatch(/must have required property 'head_sha'/);
    expect(contractViolation("POST", "/repos/o/r/issues/7/comments", { body: 7 })).toMatch(/\/body must be string/);
    expect(contractViolation("POST", "/repos/o/r/pulls/7/review", { body: "x" })).toBe("POST /repos/o/r/pulls/7/review: GitHub's REST API has no such operation");
    expect(contractViolation("DELETE", "/repos/o/r/check-runs/5", undefined)).toBe("DELETE /repos/o/r/check-runs/5: GitHub's REST API has no such operation");
  });

  it("reads an Enterprise Server path (/api/v3) as the same operation", () => {
    expect(contractViolation("GET", "/api/v3/repos/o/r/pulls/7?per_page=100", undefined)).toBeNull();
  });

  it("the stand-in GitHub records a violation for every call, which test/setup.ts turns into a failure", async () => {
    const gh = new FakeGitHub("o", "r").defaults();
    try {
      const post = (path: string, body: unknown) =>
        fetch(`https://api.github.com${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
      await post("/repos/o/r/pulls/7/reviews", { event: "COMMENT", body: "fine" });
      expect(takeViolations()).toEqual([]);
      await post("/repos/o/r/pulls/7/reviews", { event: "COMMENTED", body: "x" });
      // Taken here so that this test, which sent it on purpose, passes.
      expect(takeViolations()).toEqual([expect.stringMatching(/\/event must be equal to one of the allowed values/)]);
    } finally {
      gh.dispose();
    }
  });
});
