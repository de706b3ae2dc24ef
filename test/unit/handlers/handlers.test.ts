/**
 * The handlers with a recording queue and a stub context: which Job each payload becomes (the
 * policy marks in particular), and that a malformed payload becomes a warning and nothing else.
 */
import { describe, expect, it } from "vitest";
import { clearPermissionCache } from "../../../src/github/permissions.js";
import { onIssueComment } from "../../../src/handlers/issue-comment.js";
import { onPullRequest } from "../../../src/handlers/pull-request.js";
import { onReviewComment } from "../../../src/handlers/review-comment.js";
import type { JobQueue } from "../../../src/jobs/queue.js";
import type { Job } from "../../../src/types.js";
import { issueCommentPayload, pullRequestPayload } from "../../helpers/webhooks.js";

const repo = { owner: "octo", name: "demo", cloneUrl: "https://github.com/octo/demo.git" };
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

function harness(config: string | null = null, writers: readonly string[] = ["maintainer"]) {
  clearPermissionCache();
  const jobs: Job[] = [];
  const warnings: unknown[] = [];
  const apiCalls: string[] = [];
  const comments: string[] = [];
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
        getCollaboratorPermissionLevel: async ({ username }: { username: string }) => {
          apiCalls.push(`permission ${username}`);
          const role = writers.includes(username) ? "write" : "read";
          return { data: { permission: role, role_name: role } };
        },
        getContent: async () => {
          apiCalls.push("getContent");
          if (config === null) throw Object.assign(new Error("Not Found"), { status: 404 });
          return { data: { type: "file", content: Buffer.from(config).toString("base64") } };
        },
      },
      issues: {
        createComment: async ({ body }: { body: string }) => {
          apiCalls.push("createComment");
          comments.push(body);
          return { data: { html_url: "u" } };
        },
      },
    },
  };
  const log = { warn: (o: unknown) => warnings.push(o), info: () => undefined, error: () => undefined };
  const context = (name: string, payload: unknown) => ({ name, id: `delivery-${Math.random()}`, payload, octokit, log }) as never;
  return { jobs, warnings, apiCalls, comments, queue, context };
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

  it("keys the duplicate window by the head the last pull_request event carried", async () => {
    const h = harness();
    const push = (headSha: string) => onPullRequest(h.queue)(h.context("pull_request", pullRequestPayload("synchronize", repo, { number: 7, headSha, baseSha: SHA_B })));
    const audit = () => onIssueComment(h.queue, ["codex"])(h.context("issue_comment", issueCommentPayload(repo, { number: 7, body: "@codex audit" })));
    await push(SHA_A);
    await audit();
    await audit();
    expect(h.jobs.map((j) => j.mode)).toEqual(["review", "audit"]);
    expect(h.comments).toEqual([expect.stringMatching(/^@maintainer you asked for the same command on this commit moments ago/)]);
    // A push moves the head: the same command from the same person runs at once.
    await push("c".repeat(40));
    await audit();
    expect(h.jobs.map((j) => j.mode)).toEqual(["review", "audit", "review", "audit"]);
    // One permission lookup for the three commands (cached), none for the pushes.
    expect(h.apiCalls.filter((c) => c.startsWith("permission"))).toEqual(["permission maintainer"]);
  });

  it("refuses a reader before the limiter: one answer, no job, and the maintainer's command still runs", async () => {
    const h = harness();
    const audit = (user: string) => onIssueComment(h.queue, ["codex"])(h.context("issue_comment", issueCommentPayload(repo, { number: 7, body: "@codex audit", user })));
    for (let i = 0; i < 3; i++) await audit("reader");
    await audit("maintainer");
    expect(h.jobs.map((j) => j.trigger)).toEqual([expect.objectContaining({ kind: "command", sender: "maintainer" })]);
    expect(h.comments).toEqual(["@reader sorry, only people with write access to this repository can run codex-pr-bot commands."]);
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

  it("a reply in a review thread: `@codex fix` fixes, a question or `@codex ask` is answered there, other words are not taken", async () => {
    const h = harness();
    let id = 10;
    const reply = (body: string, inReplyTo: number | null = 2) => ({
      pull_request: { number: 7, head: { sha: SHA_A } },
      comment: { id: id++, body, user: { login: "maintainer", type: "User" }, html_url: "u", in_reply_to_id: inReplyTo },
      repository: { owner: { login: "octo" }, name: "demo", default_branch: "main", clone_url: "c", html_url: "h" },
      installation: { id: 1 },
      sender: { login: "maintainer", type: "User" },
    });
    const handle = onReviewComment(h.queue, ["codex"]);
    await handle(h.context("pull_request_review_comment", reply("@codex why does this return Infinity?")));
    await handle(h.context("pull_request_review_comment", reply("@codex ask is the zero check needed here?")));
    await handle(h.context("pull_request_review_comment", reply("@codex fix")));
    await handle(h.context("pull_request_review_comment", reply("@codex review")));
    await handle(h.context("pull_request_review_comment", reply("@codex")));
    await handle(h.context("pull_request_review_comment", reply("@codex why not?", null)));
    expect(h.jobs.map((j) => [j.mode, j.instruction, j.trigger.kind === "command" ? j.trigger.reviewThread : null])).toEqual([
      ["ask", "why does this return Infinity?", { parentId: 2 }],
      ["ask", "is the zero check needed here?", { parentId: 2 }],
      ["fix", null, { parentId: 2 }],
    ]);
  });
});
