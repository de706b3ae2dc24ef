import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultClaudeBin } from "../../src/settings.js";
import { afterToolResult, apiError, hang, httpError, startMockMessages, structured, toolUse, type MockMessages, type Script } from "../helpers/mock-messages.js";
import { execCommand, message } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload } from "../helpers/webhooks.js";
import { claudeReviewJson, reviewJson, scenario, type Scenario } from "./helpers.js";

const CLAUDE_KEY = "sk-ant-test-0123456789abcdef";


describe("codex and claude in parallel", () => {
  let sc: Scenario;
  let claudeMock: MockMessages;

  beforeEach(() => {
    sc = scenario("two-agents");
    sc.gh.defaults({ config: "executors: [codex, claude]\n" });
  });
  afterEach(async () => {
    await sc.close();
    await claudeMock?.close();
  });

  async function run(claudeScript: () => Script, settings: Parameters<Scenario["start"]>[1] = {}) {
    claudeMock = await startMockMessages(claudeScript());
    const app = await sc.start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("cat src/math.js")), {
      // A known model, so Codex's cost comes from the price table.
      codexModel: "gpt-5.5",
      claude: { bin: defaultClaudeBin(), apiKey: CLAUDE_KEY, oauthToken: null, baseUrl: claudeMock.url, model: "claude-sonnet-4-5", passEnv: [], maxRetries: 0 },
      ...settings,
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const reviews = sc.gh.bodies<{ body: string; comments: { path: string; line: number; body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    const final = sc.gh.bodies<{ conclusion?: string; output: { summary: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)!;
    return { review: reviews[0]!, final, app };
  }

  it("merges both reviews: the shared finding is marked agreed and ranked first, the rest kept with their agent", async () => {
    const { review, final, app } = await run(() => afterToolResult(toolUse("Bash", { command: "git log --oneline -1" }), structured(claudeReviewJson({ own: true }))));
    // Both agents really ran: codex's command output reached its model, claude's tool result reached its.
    expect(sc.mock!.requests[1]!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);
    expect(claudeMock.requests.some((r) => r.toolResults.length > 0)).toBe(true);

    const first = review.comments[0]!;
    expect(first).toMatchObject({ path: "src/math.js", line: 6 });
    expect(first.body).toContain("_Found by: codex and claude (agreed)_");
    const claudeOnly = review.comments.find((c) => c.body.includes("Export a named constant"));
    expect(claudeOnly?.body).toContain("_Found by: claude_");
    // Cost and tokens per agent in the check run.
    expect(final.output.summary).toContain("### Agents");
    expect(final.output.summary).toMatch(/\| codex \|.*✅ finished.*\$/m);
    expect(final.output.summary).toMatch(/\| claude \|.*✅ finished.*\$/m);
    const [summary] = app.runs.list();
    expect(summary!.costUsd).toBeGreaterThan(0);
    // Claude's key stays with the app.
    expect(JSON.stringify(claudeMock.requests.map((r) => r.body))).not.toContain(CLAUDE_KEY);
  });

  it("posts codex's review with a note when claude is rate limited", async () => {
    const { review, final } = await run(() => [httpError(429, apiError("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"))]);
    expect(review.comments[0]!.body).toContain("_Found by: codex_");
    expect(review.body).toMatch(/\*\*claude\*\* did not finish \(Claude hit a rate or usage limit/);
    expect(review.body).toContain("this review is from codex alone");
    expect(final.output.summary).toMatch(/\| claude \|.*❌ Claude hit a rate or usage limit/m);
  });

  it("retries a rate-limited claude alone later when fallback.retry is set, posting only what is new", async () => {
    sc.gh.defaults({ config: "executors: [codex, claude]\nfallback:\n  retry: true\n  retry_after_minutes: 0\n" });
    // Like GitHub: the reviews posted so far, so the retry's fingerprint dedupe sees the first review.
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7/reviews"), () => [
      200,
      sc.gh.bodies<{ body: string }>("POST", /\/pulls\/7\/reviews$/).map((r, i) => ({ id: i + 1, body: r.body, user: { login: "codex-pr-bot[bot]", type: "Bot" } })),
    ]);
    claudeMock = await startMockMessages((req, n) =>
      n === 1
        ? httpError(429, apiError("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"))
        : req.hasToolResult
          ? structured(claudeReviewJson({ own: true }))
          : toolUse("Bash", { command: "git log --oneline -1" }),
    );
    const app = await sc.start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("cat src/math.js")), {
      claude: { bin: defaultClaudeBin(), apiKey: CLAUDE_KEY, oauthToken: null, baseUrl: claudeMock.url, model: "claude-sonnet-4-5", passEnv: [], maxRetries: 0 },
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);

    const reviews = sc.gh.bodies<{ body: string; commit_id: string; comments: { path: string; line: number; body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(2);
    const [first, retry] = reviews as [(typeof reviews)[0], (typeof reviews)[0]];
    expect(first.body).toMatch(/\*\*claude\*\* did not finish \(Claude hit a rate or usage limit/);
    expect(first.body).toContain("**claude** will run again alone shortly (`fallback.retry`)");
    // The retry really ran claude with a tool, on the same commit, and posted only claude's own finding:
    // the division bug codex already reported is not repeated.
    expect(claudeMock.requests.some((r) => r.toolResults.some((t) => /add divide/.test(t)))).toBe(true);
    expect(retry.commit_id).toBe(sc.headSha);
    expect(retry.body).toContain("This is a later run of **claude**, which did not finish in the first review");
    expect(retry.body).toContain("It agrees with 1 finding of the first review, not repeated here.");
    expect(retry.comments.map((c) => c.body).join("\n")).toContain("Export a named constant");
    expect(retry.comments.map((c) => c.body).join("\n")).not.toContain("Division by zero is not guarded");

    const checks = sc.gh.bodies<{ name: string }>("POST", /\/check-runs$/).map((c) => c.name);
    expect(checks).toEqual(["codex-pr-bot / review", "codex-pr-bot / review (retry: claude)"]);
    const runs = app.runs.list();
    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.status === "succeeded")).toBe(true);
  });

  it("a retry that fails again ends neutral on its own check run; the first review stands", async () => {
    sc.gh.defaults({ config: "executors: [codex, claude]\nfallback:\n  retry: true\n  retry_after_minutes: 0\n" });
    claudeMock = await startMockMessages(() => httpError(429, apiError("rate_limit_error", "still rate limited")));
    const app = await sc.start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("cat src/math.js")), {
      claude: { bin: defaultClaudeBin(), apiKey: CLAUDE_KEY, oauthToken: null, baseUrl: claudeMock.url, model: null, passEnv: [], maxRetries: 0 },
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(claudeMock.requests).toHaveLength(2);
    expect(sc.gh.bodies("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    const final = sc.gh.bodies<{ conclusion?: string; output?: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/).filter((b) => b.conclusion);
    expect(final.map((f) => f.conclusion)).toEqual(["neutral", "neutral"]);
    expect(final[1]!.output!.title).toBe("Claude hit a rate or usage limit");
    expect(final[1]!.output!.summary).toContain("The first review of this commit stands; claude will not be retried again for it.");
    expect(app.runs.list().map((r) => r.status).sort()).toEqual(["failed", "succeeded"]);
  });

  it("does not retry when fallback.retry is off (the default)", async () => {
    await run(() => [httpError(429, apiError("rate_limit_error", "rate limited"))]);
    expect(sc.gh.bodies<{ name: string }>("POST", /\/check-runs$/)).toHaveLength(1);
    expect(claudeMock.requests).toHaveLength(1);
  });

  it("posts codex's review with a note when claude's provider fails (HTTP 500)", async () => {
    const { review, final } = await run(() => [httpError(500, apiError("api_error", "Internal server error"))]);
    expect(review.comments[0]!.body).toContain("_Found by: codex_");
    expect(review.body).toMatch(/\*\*claude\*\* did not finish \(Claude failed/);
    expect(final.conclusion).toBe("neutral");
  });

  it("posts codex's review with a note when claude hangs past the time limit (and is killed)", async () => {
    const { review, final } = await run(() => [hang()], { timeoutCapMs: 6000 });
    expect(review.comments[0]!.body).toContain("_Found by: codex_");
    expect(review.body).toMatch(/\*\*claude\*\* did not finish \(Claude timed out/);
    expect(final.output.summary).toMatch(/\| claude \|.*❌ Claude timed out/m);
  });
});
