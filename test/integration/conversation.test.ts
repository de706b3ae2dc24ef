import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BOT_LOGIN } from "../helpers/fake-github.js";
import { inputText, message, type MockRequest } from "../helpers/mock-responses.js";
import { deliver, issueCommentPayload, pullRequestPayload, repositoryPayload } from "../helpers/webhooks.js";
import { HEAD_FILE, reviewJson, scenario, type Scenario } from "./helpers.js";

/**
 * Issue 17: reviews that follow the pull request's conversation. The real codex CLI against the
 * scripted model; GitHub is the stand-in, whose review threads live in GraphQL (every document checked
 * against GitHub's schema) and are opened by the bot's own inline comments.
 */
describe("the review lifecycle on a pull request", () => {
  let sc: Scenario;

  beforeEach(() => {
    sc = scenario("conversation");
    sc.gh.defaults();
  });
  afterEach(async () => {
    await sc.close();
  });

  const NO_FINDINGS = reviewJson(null, { findings: [], overall_correctness: "patch is correct" });
  const prompt = (req: MockRequest): string => inputText(req.body);

  async function push(files: Record<string, string>, how: "commit" | "amend" = "commit"): Promise<string> {
    if (how === "amend") {
      for (const [file, content] of Object.entries(files)) sc.origin.commit("wip", { [file]: content });
      sc.origin.git("reset", "-q", "--soft", "HEAD~2");
      sc.origin.git("commit", "-q", "-m", "add divide (rewritten)");
    } else {
      sc.origin.commit("follow-up", files);
    }
    sc.origin.publishPull(7, "feature");
    sc.headSha = sc.origin.sha("HEAD");
    return sc.headSha;
  }

  async function opened(): Promise<void> {
    await deliver(sc.app!.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await sc.app!.queue.idle();
  }

  async function synchronize(): Promise<void> {
    await deliver(sc.app!.url, "pull_request", pullRequestPayload("synchronize", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await sc.app!.queue.idle();
  }

  const finalCheck = () => sc.gh.bodies<{ conclusion: string; output: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)!;

  it("a push is reviewed from the last reviewed head, with the whole PR as context; a force-push is reviewed in full", async () => {
    const answers = [reviewJson(null), NO_FINDINGS, NO_FINDINGS];
    await sc.start((_req, n) => message(answers[n - 1] ?? NO_FINDINGS));
    const first = sc.headSha;
    await opened();
    expect(prompt(sc.mock!.requests[0]!)).toContain(`git diff ${sc.baseSha}...${first}`);
    const firstBody = sc.gh.bodies<{ body: string }>("POST", /\/pulls\/7\/reviews$/)[0]!.body;
    expect(firstBody).toContain(`Reviewed the whole pull request: \`${sc.baseSha.slice(0, 7)}...${first.slice(0, 7)}\``);
    expect(firstBody).toContain(`<!-- codex-pr-bot:reviewed:${first} -->`);

    const second = await push({ "src/math.js": `${HEAD_FILE}export const half = (x) => x / 2;\n` });
    await synchronize();
    expect(sc.gh.unexpected).toEqual([]);
    const incremental = prompt(sc.mock!.requests[1]!);
    expect(incremental).toContain(`This pull request was reviewed before, at ${first}`);
    expect(incremental).toContain(`git diff ${first}..${second}`);
    // The whole pull request is there as context, not as the review's subject.
    expect(incremental).toContain(`git diff ${sc.baseSha}...${second}`);
    expect(incremental).toMatch(/Files changed since the last review[^:]*:\\n- modified `src\/math.js`\\n\\n/);
    // The open finding is handed over to re-check.
    expect(incremental).toMatch(/F1: `src\/math.js` line 6: Guard against division by zero/);
    expect(finalCheck().output.summary).toContain(`Reviewed the changes since the last review: \`${first.slice(0, 7)}..${second.slice(0, 7)}\` (1 file)`);

    const rewritten = await push({ "src/math.js": `${HEAD_FILE}export const third = (x) => x / 3;\n` }, "amend");
    await synchronize();
    const full = prompt(sc.mock!.requests[2]!);
    expect(full).toContain(`git diff ${sc.baseSha}...${rewritten}`);
    expect(full).not.toContain("was reviewed before");
    expect(finalCheck().output.summary).toContain(`is no longer in the branch (force-push or rebase)`);
    expect(sc.gh.unexpected).toEqual([]);
  });

  it("a finding the push fixed: its thread is resolved with one 'Fixed in' reply, and stays so on the next push", async () => {
    const FIXED_FILE = HEAD_FILE.replace("  return a / b;", '  if (b === 0) throw new RangeError("division by zero");\n  return a / b;');
    const answers = [reviewJson(null), reviewJson(null, { findings: [], fixed_findings: ["F1"] }), NO_FINDINGS];
    await sc.start((_req, n) => message(answers[n - 1] ?? NO_FINDINGS));
    await opened();
    expect(sc.gh.threads).toHaveLength(1);
    const thread = sc.gh.threads[0]!;
    const root = thread.comments[0]!.databaseId;

    const fixedAt = await push({ "src/math.js": FIXED_FILE });
    await synchronize();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.graphql("ResolveReviewThread")).toEqual([{ threadId: thread.id }]);
    expect(thread.isResolved).toBe(true);
    const replies = sc.gh.bodies<{ body: string }>("POST", new RegExp(`/pulls/7/comments/${root}/replies$`));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body).toMatch(new RegExp(`^Fixed in ${fixedAt.slice(0, 7)}\\.`));
    expect(finalCheck().output.summary).toMatch(/Fixed since the last review[^\n]*\n- `src\/math.js:6` Guard against division by zero/);
    // An automatic run with nothing new posts no review.
    expect(sc.gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);

    await push({ "README.md": "# demo\n\nUsage.\n" });
    await synchronize();
    // Resolved as fixed: not handed to the agent again, not resolved or answered twice.
    expect(prompt(sc.mock!.requests[2]!)).not.toContain("# Earlier findings still open");
    expect(sc.gh.graphql("ResolveReviewThread")).toHaveLength(1);
    expect(sc.gh.find("POST", /\/replies$/)).toHaveLength(1);
    expect(sc.gh.unexpected).toEqual([]);
  });

  it("a thread a person resolved: the finding is not posted again, and `@codex fix` leaves it alone", async () => {
    await sc.start(() => message(reviewJson(null)));
    await opened();
    const thread = sc.gh.threads[0]!;
    thread.isResolved = true;
    thread.resolvedBy = { login: "maintainer" };
    const root = thread.comments[0]!;
    // GitHub lists the comment for `@codex fix` to find (the reviews list stays empty: no dedupe by body).
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7/comments"), () => [
      200,
      [{ id: root.databaseId, body: root.body, path: "src/math.js", line: 6, html_url: "https://github.com/octo/demo/pull/7#discussion_r1", user: { login: BOT_LOGIN, type: "Bot" } }],
    ]);

    await deliver(sc.app!.url, "issue_comment", issueCommentPayload(sc.repo, { number: 7, body: "@codex review", commentId: 9001 }));
    await sc.app!.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const reviews = sc.gh.bodies<{ body: string; comments: { body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(2);
    // The command's review: the same answer from the model, but the resolved finding is not raised again.
    expect(reviews[1]!.comments).toEqual([]);
    expect(reviews[1]!.body).toContain("a person resolved or dismissed it earlier");
    expect(sc.gh.threads).toHaveLength(1);

    const agentRuns = sc.mock!.requests.length;
    await deliver(sc.app!.url, "issue_comment", issueCommentPayload(sc.repo, { number: 7, body: "@codex fix", commentId: 9002 }));
    await sc.app!.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.mock!.requests).toHaveLength(agentRuns);
    expect(sc.gh.find("POST", /\/pulls$/)).toHaveLength(0);
    const answer = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).at(-1)!;
    expect(answer.body).toMatch(/@codex fix/);
  });

  it("a question in a review thread is answered in that thread, with the thread as context", async () => {
    let phase: "review" | "ask" = "review";
    await sc.start(() => (phase === "review" ? message(reviewJson(null)) : message("`b` is not checked: `divide(1, 0)` is `Infinity` (src/math.js:6).")));
    await opened();
    const thread = sc.gh.threads[0]!;
    const root = thread.comments[0]!.databaseId;
    const user = { login: "maintainer", type: "User" };
    thread.comments.push({ databaseId: 700, body: "Is this reachable from the API?", author: { __typename: "User", login: "maintainer" } });
    thread.comments.push({ databaseId: 701, body: "@codex why does this return Infinity?", author: { __typename: "User", login: "maintainer" } });
    sc.gh.on("POST", sc.gh.repoPath("/pulls/comments/(\\d+)/reactions"), () => [201, { id: 1, content: "eyes" }]);

    phase = "ask";
    const pr = pullRequestPayload("synchronize", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha });
    await deliver(sc.app!.url, "pull_request_review_comment", {
      action: "created",
      comment: { id: 701, in_reply_to_id: root, body: "@codex why does this return Infinity?", user, path: "src/math.js", line: 6, html_url: "https://github.com/octo/demo/pull/7#discussion_r701" },
      pull_request: pr.pull_request,
      repository: repositoryPayload(sc.repo),
      installation: { id: 77 },
      sender: user,
    });
    await sc.app!.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.bodies("POST", /\/pulls\/comments\/701\/reactions$/)).toEqual([{ content: "eyes" }]);
    const asked = prompt(sc.mock!.requests.at(-1)!);
    expect(asked).toContain("why does this return Infinity?");
    expect(asked).toMatch(/review thread on `src\/math.js` line 6/);
    expect(asked).toContain("Is this reachable from the API?");
    expect(asked).toContain("Guard against division by zero");
    const replies = sc.gh.bodies<{ body: string }>("POST", new RegExp(`/pulls/7/comments/${root}/replies$`));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body).toContain("`divide(1, 0)` is `Infinity`");
    // Not on the conversation tab, and no review.
    expect(sc.gh.find("POST", /\/issues\/7\/comments$/)).toHaveLength(0);
    expect(sc.gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
  });
});
