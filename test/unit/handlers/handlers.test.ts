/**
 * The handlers with a recording queue and a stub context: which Job each payload becomes (the
 * policy marks in particular), and that a malformed payload becomes a warning and nothing else.
 */
import { describe, expect, it } from "vitest";
import { onIssueComment } from "../../../src/handlers/issue-comment.js";
import { onPullRequest } from "../../../src/handlers/pull-request.js";
import { onReviewComment } from "../../../src/handlers/review-comment.js";
import type { JobQueue } from "../../../src/jobs/queue.js";
import type { Job } from "../../../src/types.js";
import { issueCommentPayload, pullRequestPayload } from "../../helpers/webhooks.js";

const repo = { owner: "octo", name: "demo", cloneUrl: "https://github.com/octo/demo.git" };
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

function harness(config: string | null = null) {
  const jobs: Job[] = [];
  const warnings: unknown[] = [];
  const apiCalls: string[] = [];
  const queue: JobQueue = {
    enqueue: async (job) => {
      jobs.push(job);
      return { accepted: true };
    },
    start: () => undefined,
    stop: async () => undefined,
    idle: async () => undefined,
  };
  const octokit = {
    rest: {
      repos: {
        getContent: async () => {
          apiCalls.push("getContent");
          if (config === null) throw Object.assign(new Error("Not Found"), { status: 404 });
          return { data: { type: "file", content: Buffer.from(config).toString("base64") } };
        },
      },
      issues: {
        createComment: async () => {
          apiCalls.push("createComment");
          return { data: { html_url: "u" } };
        },
      },
    },
  };
  const log = { warn: (o: unknown) => warnings.push(o), info: () => undefined, error: () => undefined };
  const context = (name: string, payload: unknown) => ({ name, id: `delivery-${Math.random()}`, payload, octokit, log }) as never;
  return { jobs, warnings, apiCalls, queue, context };
}

describe("onPullRequest", () => {
  it("queues a same-repo PR by a member without reading the config or marking it", async () => {
    const h = harness();
    const payload = pullRequestPayload("opened", repo, { number: 7, headSha: SHA_A, baseSha: SHA_B });
    await onPullRequest(h.queue)(h.context("pull_request", { ...payload, pull_request: { ...payload.pull_request, author_association: "MEMBER" } }));
    expect(h.apiCalls).toEqual([]);
    expect(h.jobs).toHaveLength(1);
    expect(h.jobs[0]!.policy).toBeUndefined();
    expect(h.jobs[0]!.pull).toMatchObject({ headSha: SHA_A, baseSha: SHA_B, fromFork: false });
  });

  it("marks fork and first-time contributor PRs read-only (no automatic fix)", async () => {
    const h = harness();
    const fork = pullRequestPayload("opened", repo, { number: 7, headSha: SHA_A, baseSha: SHA_B, fork: true });
    const first = pullRequestPayload("opened", repo, { number: 8, headSha: SHA_A, baseSha: SHA_B });
    await onPullRequest(h.queue)(h.context("pull_request", fork));
    await onPullRequest(h.queue)(h.context("pull_request", { ...first, pull_request: { ...first.pull_request, author_association: "FIRST_TIMER" } }));
    expect(h.jobs.map((j) => j.policy)).toEqual([{ readOnly: true }, { readOnly: true }]);
    expect(h.apiCalls).toEqual(["getContent", "getContent"]);
  });

  it("turns a malformed payload into one warning naming the bad fields", async () => {
    const h = harness();
    const payload = pullRequestPayload("opened", repo, { number: 7, headSha: "not-a-sha", baseSha: SHA_B });
    await expect(onPullRequest(h.queue)(h.context("pull_request", payload))).resolves.toBeUndefined();
    expect(h.jobs).toEqual([]);
    expect(h.warnings).toEqual([expect.objectContaining({ problems: ["pull_request.head.sha: invalid_format"] })]);
  });
});

describe("comment handlers", () => {
  it("marks a command from an allow-listed bot", async () => {
    const h = harness("commands:\n  allow_bots: [helper]\n");
    await onIssueComment(h.queue, ["codex"])(h.context("issue_comment", issueCommentPayload(repo, { number: 7, body: "@codex review", user: "helper[bot]", userType: "Bot" })));
    expect(h.jobs).toHaveLength(1);
    expect(h.jobs[0]!.policy).toEqual({ allowedBot: true });
    expect(h.jobs[0]!.trigger).toMatchObject({ kind: "command", sender: "helper[bot]" });
  });

  it("makes no API call for a bot comment without a command", async () => {
    const h = harness();
    await onIssueComment(h.queue, ["codex"])(h.context("issue_comment", issueCommentPayload(repo, { number: 7, body: "Review posted", userType: "Bot" })));
    expect(h.apiCalls).toEqual([]);
    expect(h.jobs).toEqual([]);
  });

  it("ignores a review comment whose body is not a string, with a warning", async () => {
    const h = harness();
    const payload = {
      pull_request: { number: 7 },
      comment: { id: 1, body: null, user: { login: "m", type: "User" }, html_url: "u", in_reply_to_id: 2 },
      repository: { owner: { login: "octo" }, name: "demo", default_branch: "main", clone_url: "c", html_url: "h" },
      installation: { id: 1 },
      sender: { login: "m", type: "User" },
    };
    await onReviewComment(h.queue, ["codex"])(h.context("pull_request_review_comment", payload));
    expect(h.jobs).toEqual([]);
    expect(h.warnings).toEqual([expect.objectContaining({ problems: ["comment.body: invalid_type"] })]);
  });
});
