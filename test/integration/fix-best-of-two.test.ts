import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runningFixes } from "../../src/fix/registry.js";
import { defaultClaudeBin } from "../../src/settings.js";
import { apiError, httpError, requestText, startMockMessages, structured, text, toolUse, type MockMessages, type MockMessagesRequest, type Turn as ClaudeTurn } from "../helpers/mock-messages.js";
import { applyPatch, message, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload } from "../helpers/webhooks.js";
import { reviewJson, scenario, type Scenario } from "./helpers.js";

/**
 * Best of two over the real binaries: an automatic review (codex and claude) reports a P1 finding,
 * the automatic fix then asks both agents for a candidate. Codex's is the smaller change but fails
 * `fix.verify`; Claude's passes, so the fix PR is Claude's and Codex's is offered as a second branch.
 */

const CLAUDE_KEY = "sk-ant-test-0123456789abcdef";
/** Fails when the file returns NaN for a zero divisor, which is what codex's candidate does. */
const VERIFY = "if grep -q 'return NaN' src/math.js; then echo 'FAIL divide(1, 0): expected a RangeError, got NaN'; exit 1; fi; echo 'all tests passed'";
const CONFIG = `executors: [codex, claude]\nfix:\n  verify: ${JSON.stringify(VERIFY)}\n  auto:\n    enabled: true\n`;

/** Codex: one line, the smaller change, but the wrong behaviour. */
const CODEX_PATCH = "*** Begin Patch\n*** Update File: src/math.js\n@@\n-  return a / b;\n+  if (b === 0) return NaN;\n+  return a / b;\n*** End Patch\n";
const CLAUDE_GUARD = '  // A zero divisor is a caller bug: say so instead of returning Infinity.\n  if (b === 0) throw new RangeError("division by zero");\n  return a / b;';

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
}

/** Codex reviews (a structured answer) or fixes (apply_patch, then a summary). */
function codexScript(req: MockRequest): Turn {
  if (req.body.text?.format?.type === "json_schema") return message(reviewJson(null));
  return req.hasToolOutput ? message("Made divide() return NaN for a zero divisor.") : applyPatch(CODEX_PATCH);
}

/** Claude reviews (nothing of its own to add) or fixes: Read, then Edit, then a summary. */
function claudeScript(req: MockMessagesRequest): ClaudeTurn {
  if (req.tools.some((t) => /structured/i.test(t))) return claudeReview();
  // The worktree is the session's working directory, which the CLI states in its system prompt.
  const cwd = /working directory: (\S+)/i.exec(requestText(req.body))?.[1]?.replace(/\\n.*$/, "");
  if (!cwd) return text("no working directory in the prompt");
  const file = path.join(cwd, "src/math.js");
  switch (req.toolResults.length) {
    case 0:
      return toolUse("Read", { file_path: file });
    case 1:
      return toolUse("Edit", { file_path: file, old_string: "  return a / b;", new_string: CLAUDE_GUARD });
    default:
      return text("Made divide() throw a RangeError for a zero divisor.");
  }
}

function claudeReview(): ClaudeTurn {
  return structured({ findings: [], overall_correctness: "patch is correct", overall_explanation: "Looks fine.", overall_confidence_score: 0.5 });
}

describe("best-of-two fixes over real HTTP, git, codex and claude", () => {
  let sc: Scenario;
  let claudeMock: MockMessages | null = null;

  beforeEach(() => {
    runningFixes.clear();
    sc = scenario("fix-best-of-two");
  });
  afterEach(async () => {
    await sc.close();
    await claudeMock?.close();
  });

  /** An automatic review of PR #7 by both agents, then the automatic fix by both. */
  async function run(claude: (req: MockMessagesRequest) => ClaudeTurn, config = CONFIG) {
    sc.gh.defaults({ config });
    const pull = () => pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }).pull_request;
    sc.gh.on("GET", sc.gh.repoPath("/pulls"), () => [200, []]);
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => [200, pull()]);
    sc.gh.on("POST", sc.gh.repoPath("/pulls"), (_m, body) => [201, { number: 8, html_url: "https://github.com/octo/demo/pull/8", draft: (body as { draft?: boolean }).draft ?? false }]);

    claudeMock = await startMockMessages(claude);
    const app = await sc.start(codexScript, {
      claude: { bin: defaultClaudeBin(), apiKey: CLAUDE_KEY, oauthToken: null, baseUrl: claudeMock.url, model: "claude-sonnet-4-5", passEnv: [], maxRetries: 0 },
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const created = sc.gh.bodies<{ base: string; head: string; title: string; body: string; draft: boolean }>("POST", /\/pulls$/);
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    return { created, replies };
  }

  it("opens the candidate that passes verification, and offers the other as a second branch linked from the PR", async () => {
    const { created, replies } = await run(claudeScript);

    // Both agents were asked for a fix, with the review's finding as the task.
    const codexFix = sc.mock!.requests.filter((r) => r.body.text?.format?.type !== "json_schema");
    expect(JSON.stringify(codexFix[0]!.body.input)).toContain("Guard against division by zero");
    const claudeFix = claudeMock!.requests.filter((r) => r.tools.includes("Edit"));
    expect(requestText(claudeFix[0]!.body)).toContain("Guard against division by zero");
    expect(claudeFix.at(-1)!.toolErrors).toEqual([]);

    // The main branch holds claude's candidate, the alternative codex's; both on top of the PR head.
    const bare = sc.origin.bare;
    const branch = `codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}`;
    const alt = `${branch}-alt`;
    const show = (ref: string) => git(bare, "--git-dir", bare, "show", `${ref}:src/math.js`);
    expect(show(branch)).toContain('if (b === 0) throw new RangeError("division by zero");');
    expect(show(alt)).toContain("if (b === 0) return NaN;");
    for (const ref of [branch, alt]) expect(git(bare, "--git-dir", bare, "rev-parse", `${ref}^`)).toBe(sc.headSha);

    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ base: "feature", head: branch, draft: false, title: "Fix: Guard against division by zero (#7)" });
    const body = created[0]!.body;
    expect(body).toContain("written by Claude automatically");
    expect(body).toMatch(/`src\/math\.js` \| modified \| \+2 −0/);
    expect(body).toMatch(/✅ `.*` \*\*passed\*\*/);
    expect(body).toContain("### Best of two");
    expect(body).toContain("this pull request is **claude's**: its verification passed and codex's failed");
    expect(body).toContain(
      `**Alternative from codex**: branch [\`${alt}\`](https://github.com/octo/demo/tree/${alt}) ` +
        `([compare](https://github.com/octo/demo/compare/feature...${alt})), verification failed, 1 line changed (+1 −0).`,
    );
    expect(body).toContain("### Claude's summary\n\nMade divide() throw a RangeError for a zero divisor.");

    const opened = replies.find((r) => r.includes("I opened #8"));
    expect(opened).toContain("this is claude's change (its verification passed and codex's failed)");
    expect(opened).toContain(`**Alternative from codex**: branch [\`${alt}\`]`);
  });

  it("when one agent fails, publishes the other's candidate alone, with a note (here a draft: it fails verification)", async () => {
    // Only codex reviews here (routing), to keep the test short; both are asked for the fix.
    const { created } = await run(
      () => httpError(429, apiError("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")),
      `${CONFIG}routing:\n  review: [codex]\n`,
    );
    expect(claudeMock!.requests.length).toBeGreaterThan(0);

    const bare = sc.origin.bare;
    const branch = `codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}`;
    expect(git(bare, "--git-dir", bare, "show", `${branch}:src/math.js`)).toContain("if (b === 0) return NaN;");
    expect(git(bare, "--git-dir", bare, "for-each-ref", "--format=%(refname)", "refs/heads/codex-pr-bot/")).toBe(`refs/heads/${branch}`);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ head: branch, draft: true });
    const body = created[0]!.body;
    expect(body).toContain("written by Codex automatically");
    expect(body).toContain("FAIL divide(1, 0): expected a RangeError, got NaN");
    expect(body).toContain("only **codex's** could be used");
    expect(body).toMatch(/- \*\*claude\*\* did not finish \(Claude hit a rate or usage limit[^\n]*\); this fix is from codex alone\./);
    expect(body).not.toContain("Alternative from");
  });
});
