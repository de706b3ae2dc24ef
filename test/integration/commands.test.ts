import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execCommand, message } from "../helpers/mock-responses.js";
import { deliver, issueCommentPayload } from "../helpers/webhooks.js";
import { reviewJson, scenario, type Scenario } from "./helpers.js";

describe("comment commands", () => {
  let sc: Scenario;

  beforeEach(() => {
    sc = scenario("commands");
  });
  afterEach(async () => {
    await sc.close();
  });

  const comment = (body: string, extra: Parameters<typeof issueCommentPayload>[1] extends infer T ? Partial<T> : never = {}) =>
    issueCommentPayload(sc.repo, { number: 7, body, ...extra });

  it("refuses politely when the commenter has no write access, and runs nothing", async () => {
    sc.gh.defaults({ permission: "read" });
    const app = await sc.start([message(reviewJson(null))]);
    await deliver(app.url, "issue_comment", comment("@codex review", { user: "drive-by" }));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body).toMatch(/only people with write access/);
    expect(sc.gh.find("POST", /reactions$/)).toHaveLength(0);
    expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(0);
    expect(sc.mock!.requests).toHaveLength(0);
  });

  it("ignores bots (itself included), plain issues, edits and comments without a command", async () => {
    sc.gh.defaults();
    const app = await sc.start([message(reviewJson(null))]);
    await deliver(app.url, "issue_comment", comment("@codex review", { user: "codex-pr-bot[bot]", userType: "Bot" }));
    await deliver(app.url, "issue_comment", comment("@codex review", { onPull: false }));
    await deliver(app.url, "issue_comment", comment("@codex review", { action: "edited" }));
    await deliver(app.url, "issue_comment", comment("Thanks! cc @codexfan"));
    await deliver(app.url, "issue_comment", comment("> @codex review\n\nquoting an old command"));
    await app.queue.idle();
    // Only reading the config (to see whether a bot is allow-listed) may happen: no job, no reply.
    expect(sc.gh.calls.filter((c) => !/access_tokens$|\/contents\//.test(c.path))).toEqual([]);
    expect(app.runs.list()).toEqual([]);
  });

  it("answers an unknown command with the help text, without a 👀", async () => {
    sc.gh.defaults();
    const app = await sc.start([]);
    await deliver(app.url, "issue_comment", comment("@codex frobnicate the widgets"));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.find("POST", /reactions$/)).toHaveLength(0);
    const reply = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/)[0]!;
    expect(reply.body).toContain("frobnicate");
    expect(reply.body).toMatch(/@codex review/);
    expect(reply.body).toMatch(/@codex audit/);
    expect(reply.body).toMatch(/@codex ask/);
  });

  it("`@codex help` reacts and lists the commands and the effective configuration", async () => {
    sc.gh.defaults({ config: "review:\n  min_severity: P1\n" });
    const app = await sc.start([]);
    await deliver(app.url, "issue_comment", comment("@codex help"));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.bodies<{ content: string }>("POST", /reactions$/)).toEqual([{ content: "eyes" }]);
    const reply = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/)[0]!;
    expect(reply.body).toMatch(/min_severity: P1/);
  });

  it("`@codex audit` reacts, runs a security audit and posts one review under the audit check", async () => {
    sc.gh.defaults();
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => [200, sc.pullObject()]);
    const app = await sc.start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("git log --oneline -3")));
    await deliver(app.url, "issue_comment", comment("@codex audit"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.bodies("POST", /reactions$/)).toEqual([{ content: "eyes" }]);
    expect(sc.gh.bodies("POST", /check-runs$/)[0]).toMatchObject({ name: "codex-pr-bot / audit", head_sha: sc.headSha });
    const prompt = JSON.stringify(sc.mock!.requests[0]!.body.input);
    expect(prompt).toMatch(/injection/i);
    expect(sc.mock!.requests[1]!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);
    const reviews = sc.gh.bodies<{ event: string; comments: unknown[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.event).toBe("COMMENT");
  });

  it("`@codex ask` answers in a reply that quotes the question, with no review or check run", async () => {
    sc.gh.defaults();
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => [200, sc.pullObject()]);
    const app = await sc.start((req) =>
      req.hasToolOutput ? message("`divide` returns `a / b` (src/math.js:6); it does not check for zero.") : execCommand("cat src/math.js"),
    );
    await deliver(app.url, "issue_comment", comment("@codex ask what does divide() do with b = 0?"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.mock!.requests[0]!.body.text?.format).toBeUndefined();
    expect(JSON.stringify(sc.mock!.requests[0]!.body.input)).toContain("what does divide() do with b = 0?");
    const reply = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/)[0]!;
    expect(reply.body).toContain("> what does divide() do with b = 0?");
    expect(reply.body).toContain("it does not check for zero");
    expect(sc.gh.find("POST", /check-runs$/)).toHaveLength(0);
    expect(sc.gh.find("POST", /reviews$/)).toHaveLength(0);
  });
});
