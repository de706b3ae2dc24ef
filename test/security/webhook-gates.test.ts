/**
 * The webhook gates, over real HTTP with signed deliveries: malformed payloads, the command rate
 * limit, the bot allow-list and the fork / first-time contributor policy. Each case asserts what the
 * app sent to (fake) GitHub, so a gate that lets something through shows up as an API call.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { message } from "../helpers/mock-responses.js";
import { deliver, issueCommentPayload, pullRequestPayload, repositoryPayload } from "../helpers/webhooks.js";
import type { RunningApp } from "../helpers/app-server.js";
import { reviewJson, scenario, type Scenario } from "../integration/helpers.js";

describe("webhook gates", () => {
  let sc: Scenario;

  beforeEach(() => {
    sc = scenario("webhook-gates");
  });
  afterEach(async () => {
    await sc.close();
  });

  const comment = (body: string, extra: { user?: string; userType?: "User" | "Bot"; commentId?: number } = {}) =>
    issueCommentPayload(sc.repo, { number: 7, body, ...extra });
  const pull = (extra: { fork?: boolean; author?: string } = {}, association?: string) => {
    const p = pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha, ...extra });
    return association === undefined ? p : { ...p, pull_request: { ...p.pull_request, author_association: association } };
  };
  const helpReplies = () => sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).filter((b) => /@codex review/.test(b.body));

  describe("malformed payloads", () => {
    it("are answered 2xx with a log line and no API call, and a valid delivery after them still works", async () => {
      sc.gh.defaults();
      const app = await sc.start([]);
      const valid = pull();
      const { head: _head, ...pullWithoutHead } = valid.pull_request;
      const good = comment("@codex help");
      const reviewReply = {
        action: "created",
        comment: { id: 5, body: "@codex fix", user: { login: "maintainer", type: "User" }, html_url: "x", in_reply_to_id: 4 },
        repository: repositoryPayload(sc.repo),
        installation: { id: 77 },
        sender: { login: "maintainer", type: "User" },
      };
      const malformed: [string, unknown][] = [
        ["pull_request", { ...valid, pull_request: pullWithoutHead }],
        ["pull_request", { ...valid, pull_request: { ...valid.pull_request, head: { ...valid.pull_request.head, sha: 42 } } }],
        ["pull_request", { ...valid, pull_request: null }],
        ["pull_request", { action: "opened" }],
        ["pull_request", { ...valid, repository: { name: "demo" } }],
        ["issue_comment", { ...good, comment: { ...good.comment, body: 42 } }],
        ["issue_comment", { ...good, comment: { ...good.comment, body: ["@codex review"] } }],
        ["issue_comment", { ...good, issue: "7" }],
        ["issue_comment", { ...good, sender: null }],
        // No pull_request at all, and a comment whose body is not a string.
        ["pull_request_review_comment", reviewReply],
        ["pull_request_review_comment", { ...reviewReply, pull_request: { number: 7 }, comment: { ...reviewReply.comment, body: { text: "@codex fix" } } }],
      ];
      for (const [event, payload] of malformed) {
        const res = await deliver(app.url, event, payload);
        expect(res.status, `${event} ${JSON.stringify(payload).slice(0, 80)}`).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(300);
      }
      await app.queue.idle();
      expect(sc.gh.calls).toEqual([]);

      // The app is still healthy: a valid command right after is answered.
      expect((await deliver(app.url, "issue_comment", good)).status).toBe(200);
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(helpReplies()).toHaveLength(1);
    });
  });

  describe("command rate limit", () => {
    it("three rapid `@codex audit` comments run one audit and get one notice", async () => {
      sc.gh.defaults();
      const app = await sc.start([message(reviewJson(null))]);
      for (const id of [9101, 9102, 9103]) {
        expect((await deliver(app.url, "issue_comment", comment("@codex audit", { commentId: id }))).status).toBe(200);
      }
      await app.queue.idle();

      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.bodies("POST", /check-runs$/)).toHaveLength(1);
      expect(sc.gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
      expect(sc.mock!.requests).toHaveLength(1);
      const notices = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/);
      expect(notices).toHaveLength(1);
      expect(notices[0]!.body).toMatch(/^@maintainer you asked for the same command on this commit moments ago/);
      // Only the accepted command got its 👀.
      expect(sc.gh.find("POST", /reactions$/).map((c) => c.path)).toEqual([expect.stringContaining("/comments/9101/")]);
    });
  });

  describe("refused people cost nothing", () => {
    /** Write access for the named accounts, read for everyone else. */
    const permissions = (writers: string[]) =>
      sc.gh.on("GET", sc.gh.repoPath("/collaborators/([^/]+)/permission"), (m) => {
        const role = writers.includes(m[1]!) ? "write" : "read";
        return [200, { permission: role, role_name: role, user: { login: m[1] } }];
      });
    /** What the webhook gates said on the PR (refusals and rate-limit notices), not the jobs' own replies. */
    const gateReplies = () =>
      sc.gh
        .bodies<{ body: string }>("POST", /\/issues\/7\/comments$/)
        .map((b) => b.body)
        .filter((b) => /only people with write access|moments ago|limit of \d+ commands/.test(b));
    /** Who asked for each run the app recorded (a refused command recorded no run at all). */
    const senders = (app: RunningApp) => app.runs.list().map((r) => (r.trigger?.kind === "command" ? r.trigger.sender : r.trigger?.kind));

    it("a reader's `@codex audit` does not hold back a maintainer's identical one two seconds later", async () => {
      sc.gh.defaults();
      permissions(["maintainer"]);
      const app = await sc.start(() => message(reviewJson(null)));
      expect((await deliver(app.url, "issue_comment", comment("@codex audit", { user: "reader", commentId: 9301 }))).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect((await deliver(app.url, "issue_comment", comment("@codex audit", { commentId: 9302 }))).status).toBe(200);
      await app.queue.idle();

      expect(sc.gh.unexpected).toEqual([]);
      // The maintainer's audit started at once: the only job, its 👀 and its check run; no "try again" notice.
      expect(senders(app)).toEqual(["maintainer"]);
      expect(sc.gh.find("POST", /reactions$/).map((c) => c.path)).toEqual([expect.stringContaining("/comments/9302/")]);
      expect(sc.gh.bodies("POST", /check-runs$/)).toEqual([expect.objectContaining({ name: "codex-pr-bot / audit", head_sha: sc.headSha })]);
      expect(gateReplies()).toEqual([expect.stringMatching(/^@reader sorry, only people with write access/)]);

      // The duplicate window is per person: the maintainer repeating it is still held back, once.
      for (const id of [9303, 9304]) await deliver(app.url, "issue_comment", comment("@codex audit", { commentId: id }));
      await app.queue.idle();
      expect(senders(app)).toEqual(["maintainer"]);
      expect(gateReplies()).toEqual([
        expect.stringMatching(/^@reader sorry, only people with write access/),
        expect.stringMatching(/^@maintainer you asked for the same command on this commit moments ago/),
      ]);
    });

    it("20 refused comments from one account get one reply, no reaction, no job, and one permission lookup", async () => {
      sc.gh.defaults();
      permissions(["maintainer"]);
      const app = await sc.start(() => message(reviewJson(null)));
      const commands = ["@codex audit", "@codex review", "@codex fix", "@codex help", "@codex frobnicate"];
      for (let i = 0; i < 20; i++) {
        const res = await deliver(app.url, "issue_comment", comment(commands[i % commands.length]!, { user: "reader", commentId: 9400 + i }));
        expect(res.status).toBe(200);
      }
      await app.queue.idle();

      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.bodies("POST", /\/issues\/7\/comments$/)).toEqual([
        { body: "@reader sorry, only people with write access to this repository can run codex-pr-bot commands." },
      ]);
      expect(sc.gh.find("POST", /reactions$/)).toEqual([]);
      expect(sc.gh.find("POST", /check-runs$/)).toEqual([]);
      expect(sc.gh.find("GET", /\/collaborators\/reader\/permission$/)).toHaveLength(1);
      expect(app.runs.list()).toEqual([]);
      expect(sc.mock!.requests).toHaveLength(0);

      // 20 refusals used up none of the maintainer's budget (10 an hour) nor the audit's window.
      await deliver(app.url, "issue_comment", comment("@codex audit", { commentId: 9500 }));
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(senders(app)).toEqual(["maintainer"]);
      expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(1);
      expect(gateReplies()).toHaveLength(1);
    });

    it("in a review thread, a reader's `@codex fix` flood gets one reply in the thread", async () => {
      sc.gh.defaults();
      permissions(["maintainer"]);
      sc.gh.on("POST", sc.gh.repoPath("/pulls/7/comments/(\\d+)/replies"), () => [201, { id: 1, html_url: "https://github.com/octo/demo/pull/7#discussion_r1" }]);
      const app = await sc.start([]);
      const reply = (id: number) => ({
        action: "created",
        pull_request: { number: 7, head: { sha: sc.headSha } },
        comment: { id, body: "@codex fix", user: { login: "reader", type: "User" }, html_url: `https://github.com/octo/demo/pull/7#discussion_r${id}`, in_reply_to_id: 4 },
        repository: repositoryPayload(sc.repo),
        installation: { id: 77 },
        sender: { login: "reader", type: "User" },
      });
      for (let i = 0; i < 5; i++) expect((await deliver(app.url, "pull_request_review_comment", reply(9600 + i))).status).toBe(200);
      await app.queue.idle();

      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.bodies<{ body: string }>("POST", /\/pulls\/7\/comments\/4\/replies$/).map((b) => b.body)).toEqual([
        expect.stringMatching(/^@reader sorry, only people with write access/),
      ]);
      expect(sc.gh.find("POST", /reactions$|\/issues\/7\/comments$|check-runs$/)).toEqual([]);
      expect(app.runs.list()).toEqual([]);
    });
  });

  describe("bots", () => {
    it("are ignored by default: no job, no reply (only the config is read)", async () => {
      sc.gh.defaults();
      const app = await sc.start([]);
      await deliver(app.url, "issue_comment", comment("@codex help", { user: "automation[bot]", userType: "Bot" }));
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.calls.filter((c) => !/access_tokens$|\/contents\//.test(c.path))).toEqual([]);
    });

    it("listed in commands.allow_bots may run commands; other bots still may not", async () => {
      sc.gh.defaults({ config: 'commands:\n  allow_bots: ["automation"]\n' });
      const app = await sc.start([]);
      await deliver(app.url, "issue_comment", comment("@codex help", { user: "intruder[bot]", userType: "Bot", commentId: 9201 }));
      await app.queue.idle();
      expect(helpReplies()).toHaveLength(0);

      await deliver(app.url, "issue_comment", comment("@codex help", { user: "automation[bot]", userType: "Bot", commentId: 9202 }));
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(helpReplies()).toHaveLength(1);
      expect(sc.gh.find("POST", /reactions$/).map((c) => c.path)).toEqual([expect.stringContaining("/comments/9202/")]);
    });
  });

  describe("forks and first-time contributors", () => {
    it("are reviewed by default (read-only)", async () => {
      sc.gh.defaults();
      const app = await sc.start([message(reviewJson(null))]);
      await deliver(app.url, "pull_request", pull({ fork: true, author: "newcomer" }, "FIRST_TIME_CONTRIBUTOR"));
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.bodies("POST", /check-runs$/)).toHaveLength(1);
      expect(sc.gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
      // Read-only: no branch, no pull request, no commit.
      expect(sc.gh.find("POST", /\/pulls$|\/git\//)).toHaveLength(0);
    });

    it("`auto_review.forks: skip` queues nothing for a fork, and still reviews a same-repo PR", async () => {
      sc.gh.defaults({ config: "auto_review:\n  forks: skip\n" });
      const app = await sc.start([message(reviewJson(null))]);
      expect((await deliver(app.url, "pull_request", pull({ fork: true }))).status).toBe(200);
      await app.queue.idle();
      expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(0);
      expect(sc.mock!.requests).toHaveLength(0);

      await deliver(app.url, "pull_request", pull({}, "MEMBER"));
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(1);
    });

    it("`auto_review.first_time_contributors: skip` skips FIRST_TIMER / FIRST_TIME_CONTRIBUTOR / NONE, but not a contributor", async () => {
      sc.gh.defaults({ config: "auto_review:\n  first_time_contributors: skip\n" });
      const app = await sc.start([message(reviewJson(null))]);
      for (const association of ["FIRST_TIMER", "FIRST_TIME_CONTRIBUTOR", "NONE"]) {
        await deliver(app.url, "pull_request", pull({ author: "newcomer" }, association));
      }
      await app.queue.idle();
      expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(0);

      await deliver(app.url, "pull_request", pull({ author: "regular" }, "CONTRIBUTOR"));
      await app.queue.idle();
      expect(sc.gh.unexpected).toEqual([]);
      expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(1);
    });
  });
});
