import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/settings.js";
import { afterToolResult, startMockMessages, structured, toolUse, type MockMessages } from "../helpers/mock-messages.js";
import { deliver, issueCommentPayload } from "../helpers/webhooks.js";
import { claudeReviewJson, scenario, type Scenario } from "./helpers.js";

/**
 * No silent nothing: an operator who set Claude up and left BOT_HANDLES alone gets `@claude` answered,
 * as docs/configuration.md promises ("a `@claude …` command runs Claude alone"). The handles come from
 * the real loadSettings; the real claude CLI runs against the scripted Messages server.
 */

const CLAUDE_KEY = "sk-ant-test-0123456789abcdef";

describe("@claude with Claude configured and the default BOT_HANDLES", () => {
  let sc: Scenario;
  let claudeMock: MockMessages | null = null;

  beforeEach(() => {
    sc = scenario("claude-handle");
    sc.gh.defaults();
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => [200, sc.pullObject()]);
  });
  afterEach(async () => {
    await sc.close();
    await claudeMock?.close();
    claudeMock = null;
  });

  const comment = (body: string) => issueCommentPayload(sc.repo, { number: 7, body });

  /** The operator's environment: a Claude key and gateway, no BOT_HANDLES. */
  function operatorSettings(mockUrl: string) {
    const env = { ANTHROPIC_API_KEY: CLAUDE_KEY, ANTHROPIC_BASE_URL: mockUrl, CLAUDE_MODEL: "claude-sonnet-4-5", DATA_DIR: path.join(sc.origin.work, "..", "operator-data") };
    return loadSettings(env, sc.origin.work);
  }

  it("`@claude review` runs Claude alone and posts its review", async () => {
    claudeMock = await startMockMessages(afterToolResult(toolUse("Bash", { command: "git log --oneline -1" }), structured(claudeReviewJson({ own: true }))));
    const operator = operatorSettings(claudeMock.url);
    expect(operator.handles).toEqual(["codex", "claude"]);
    const app = await sc.start([], { handles: operator.handles, claude: operator.claude });

    await deliver(app.url, "issue_comment", comment("@claude review"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.bodies("POST", /reactions$/)).toEqual([{ content: "eyes" }]);
    const reviews = sc.gh.bodies<{ body: string; comments: { path: string; line: number; body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.comments.map((c) => c.body).join("\n")).toContain("Division by zero is not guarded");
    // Claude really ran (its tool result reached its model); codex was not asked.
    expect(claudeMock.requests.some((r) => r.toolResults.length > 0)).toBe(true);
    expect(sc.mock!.requests).toHaveLength(0);
    const final = sc.gh.bodies<{ conclusion?: string; output: { summary: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)!;
    expect(final.output.summary).toMatch(/\| claude \|.*✅ finished/m);
  });

  it("`@codex help` names the live handles", async () => {
    claudeMock = await startMockMessages([]);
    const operator = operatorSettings(claudeMock.url);
    const app = await sc.start([], { handles: operator.handles, claude: operator.claude });
    await deliver(app.url, "issue_comment", comment("@codex help"));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const reply = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/)[0]!;
    expect(reply.body).toContain("Handles answered here: `@codex`, `@claude`.");
  });
});
