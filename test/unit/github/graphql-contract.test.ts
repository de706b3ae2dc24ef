import { describe, expect, it } from "vitest";
import type { Octokit } from "../../../src/github/client.js";
import { listReviewThreads, resolveReviewThread, RESOLVE_THREAD_MUTATION, REVIEW_THREADS_QUERY } from "../../../src/github/review-threads.js";
import { FakeGitHub } from "../../helpers/fake-github.js";
import { graphqlViolation } from "../../helpers/graphql-contract.js";
import { takeViolations } from "../../helpers/openapi-contract.js";
import { ProbotOctokit } from "probot";

/** The GraphQL contract check itself: GitHub's schema accepts the app's documents and rejects a wrong field. */
describe("GitHub's GraphQL schema as the oracle", () => {
  it("accepts the documents the app sends, with their variables", () => {
    expect(graphqlViolation(REVIEW_THREADS_QUERY, { owner: "o", repo: "r", number: 7, cursor: null })).toBeNull();
    expect(graphqlViolation(RESOLVE_THREAD_MUTATION, { threadId: "PRRT_kwDO1" })).toBeNull();
  });

  it("rejects a field GitHub does not have, a wrong argument, a bad variable and a broken document", () => {
    const wrongField = REVIEW_THREADS_QUERY.replace("isOutdated", "isStale");
    expect(graphqlViolation(wrongField, { owner: "o", repo: "r", number: 7 })).toMatch(
      /^POST \/graphql ReviewThreads: Cannot query field "isStale" on type "PullRequestReviewThread"/,
    );
    expect(graphqlViolation(RESOLVE_THREAD_MUTATION.replace("threadId: $threadId", "id: $threadId"), { threadId: "x" })).toMatch(
      /Field "id" is not defined by type "ResolveReviewThreadInput"/,
    );
    expect(graphqlViolation(REVIEW_THREADS_QUERY, { owner: "o", repo: "r", number: "seven" })).toMatch(/\$number.*Int cannot represent/);
    expect(graphqlViolation(RESOLVE_THREAD_MUTATION, {})).toMatch(/\$threadId" of required type "ID!" was not provided/);
    expect(graphqlViolation("query { repository(owner: ", {})).toMatch(/does not parse/);
  });

  it("the stand-in GitHub answers the app's operations and records a violation for a wrong document", async () => {
    const gh = new FakeGitHub("o", "r");
    const octokit = new ProbotOctokit({ auth: { token: "t" }, retry: { enabled: false }, throttle: { enabled: false } }) as unknown as Octokit;
    try {
      gh.addThread({ id: 11, path: "src/a.ts", line: 3, body: "finding" });
      const threads = await listReviewThreads(octokit, { owner: "o", repo: "r" }, 7);
      expect(threads).toEqual([
        {
          id: "PRRT_kwDO11",
          isResolved: false,
          isOutdated: false,
          path: "src/a.ts",
          line: 3,
          startLine: null,
          resolvedBy: null,
          comments: [{ id: 11, body: "finding", author: "codex-pr-bot[bot]", isBot: true }],
        },
      ]);
      await resolveReviewThread(octokit, "PRRT_kwDO11");
      expect(gh.threads[0]!.isResolved).toBe(true);
      expect(takeViolations()).toEqual([]);

      await octokit.graphql(REVIEW_THREADS_QUERY.replace("isOutdated", "isStale"), { owner: "o", repo: "r", number: 7 }).catch(() => undefined);
      // Taken here so that this test, which sent it on purpose, passes.
      expect(takeViolations()).toEqual([expect.stringMatching(/Cannot query field "isStale"/)]);
    } finally {
      gh.dispose();
    }
  });
});
