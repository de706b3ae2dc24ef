import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExecutorError } from "../../src/errors.js";
import { runningFixes } from "../../src/fix/registry.js";
import { CodexExecutor } from "../../src/executors/codex.js";
import type { AgentRunRequest } from "../../src/executors/types.js";
import type { TokenCeiling } from "../../src/executors/token-ceiling.js";
import { defaultClaudeBin, defaultCodexBin } from "../../src/settings.js";
import { createOrigin } from "../helpers/git-origin.js";
import { afterToolResult, startMockMessages, structured, toolUse, type MockMessages } from "../helpers/mock-messages.js";
import {
  codexMockConfig,
  message,
  responseFailed,
  startMockResponses,
  type MockResponses,
  type MockUsage,
  type Script,
  type Turn,
} from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../helpers/webhooks.js";
import { claudeReviewJson, reviewJson, scenario, type Scenario } from "./helpers.js";

/**
 * Issue 4, the Codex token ceiling and the spend of failed agents, with the real pinned codex (and
 * claude) binaries against the scripted local model servers.
 *
 * How the ceiling works with codex 0.169.0: usage reaches the session rollout after each model
 * response (once that response's tool calls ran), and codex sends its next request at that moment.
 * So the ceiling trips while the second request is answered and the agent runs its second command;
 * it never gets to the third request.
 */

const base = makeTempDir("token-ceiling");
const scratch = (prefix: string): string => mkdtempSync(path.join(base, `${prefix}-`));

/** A command the agent asks to run, with the usage its response reports. */
const exec = (cmd: string, usage: Partial<MockUsage> = {}): Turn => ({ kind: "exec", cmd, usage });
const BIG: Partial<MockUsage> = { inputTokens: 200_000, cachedInputTokens: 1_000, outputTokens: 100, reasoningTokens: 40 };

interface CompletedCommand {
  command: string;
  exitCode: number | null;
}

describe("CodexExecutor with a token ceiling (real codex)", () => {
  const mocks: MockResponses[] = [];
  afterEach(async () => {
    await Promise.all(mocks.splice(0).map((m) => m.close()));
  });

  async function setup(script: Script) {
    const mock = await startMockResponses(script);
    mocks.push(mock);
    const root = scratch("exec");
    const origin = createOrigin(root, { "main.c": "int main(void) { return 0; }\n" });
    const homesRoot = path.join(root, "homes");
    const executor = new CodexExecutor({
      bin: defaultCodexBin(),
      homesRoot,
      homeTemplate: null,
      apiKey: null,
      passEnv: [],
      defaultModel: "gpt-5.5",
      configOverrides: codexMockConfig(mock.url),
    });
    const completed: CompletedCommand[] = [];
    const request = (tokenCeiling: TokenCeiling | null, overrides: Partial<AgentRunRequest> = {}): AgentRunRequest => ({
      worktree: origin.work,
      mode: "ask",
      prompt: "Look at main.c and say what it does.",
      model: null,
      reasoningEffort: null,
      timeoutMs: 60_000,
      tokenCeiling,
      onEvent: (line) => {
        const event = JSON.parse(line) as { type: string; item?: { type: string; command: string; exit_code: number | null } };
        if (event.type === "item.completed" && event.item?.type === "command_execution") {
          completed.push({ command: event.item.command, exitCode: event.item.exit_code });
        }
      },
      ...overrides,
    });
    return { mock, executor, homesRoot, request, completed };
  }

  async function failure(promise: Promise<unknown>): Promise<ExecutorError> {
    const err = await promise.then(
      () => {
        throw new Error("expected the run to fail");
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ExecutorError);
    return err as ExecutorError;
  }

  it("stops a run whose tokens pass the repository's ceiling, before it asks the model again, and reports what it used", async () => {
    const { mock, executor, homesRoot, request, completed } = await setup([
      exec("sleep 1; echo first-step-done", BIG),
      exec("sleep 20; echo second-step-done"),
      message("never reached"),
    ]);
    const started = Date.now();
    const err = await failure(executor.run(request({ maxTokens: 50_000, source: "repository" })));
    const elapsed = Date.now() - started;

    expect(err.kind).toBe("budget");
    expect(err.message).toBe(
      "Codex used 200,100 tokens (200,000 input, 100 output), over this repository's ceiling of 50,000 (codex.max_tokens), and was stopped before it finished",
    );
    expect(err.spent).toEqual({
      usage: { inputTokens: 200_000, cachedInputTokens: 1_000, outputTokens: 100, reasoningOutputTokens: 40 },
      costUsd: null,
      model: "gpt-5.5",
    });
    // The agent really worked: its first command ran and succeeded...
    expect(completed).toContainEqual({ command: expect.stringContaining("echo first-step-done"), exitCode: 0 });
    // ...and it was stopped long before the second command (20 s) or the run could finish.
    expect(completed.some((c) => c.command.includes("second-step-done"))).toBe(false);
    expect(elapsed).toBeLessThan(15_000);
    // The usage line reaches the rollout about when codex sends its next request: the run stops just
    // before or just after that second request, and never gets to the third, not even later.
    await new Promise((r) => setTimeout(r, 1000));
    expect(mock.requests.length).toBeGreaterThanOrEqual(1);
    expect(mock.requests.length).toBeLessThanOrEqual(2);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("names the operator's ceiling when that is the one that applies", async () => {
    const { executor, request } = await setup([exec("echo step", BIG), exec("sleep 20"), message("never reached")]);
    const err = await failure(executor.run(request({ maxTokens: 100_000, source: "operator" })));
    expect(err.kind).toBe("budget");
    expect(err.message).toContain("over the installation's ceiling of 100,000 (CODEX_MAX_TOKENS, set by the operator)");
  });

  it("lets a run under its ceiling finish, with the usage codex reported", async () => {
    const small: Partial<MockUsage> = { inputTokens: 1_000, cachedInputTokens: 100, outputTokens: 50, reasoningTokens: 10 };
    const { mock, executor, request, completed } = await setup([exec("echo under-ceiling", small), message("It returns 0.", { usage: small })]);
    const result = await executor.run(request({ maxTokens: 50_000, source: "repository" }));
    expect(result.finalMessage).toBe("It returns 0.");
    expect(result.usage).toEqual({ inputTokens: 2_000, cachedInputTokens: 200, outputTokens: 100, reasoningOutputTokens: 20 });
    expect(completed).toContainEqual({ command: expect.stringContaining("echo under-ceiling"), exitCode: 0 });
    expect(mock.requests).toHaveLength(2);
  });

  it("without a ceiling, a run that fails half-way still reports the tokens it used (from the rollout)", async () => {
    const { executor, request, completed } = await setup([
      exec("echo before-the-failure", { inputTokens: 3_000, cachedInputTokens: 500, outputTokens: 70, reasoningTokens: 0 }),
      responseFailed("The server had an error while processing your request."),
    ]);
    const err = await failure(executor.run(request(null)));
    expect(err.kind).toBe("turn-failed");
    expect(completed).toContainEqual({ command: expect.stringContaining("echo before-the-failure"), exitCode: 0 });
    expect(err.spent?.usage).toEqual({ inputTokens: 3_000, cachedInputTokens: 500, outputTokens: 70, reasoningOutputTokens: 0 });
  });
});


describe("a review by codex and claude when one of them stops early", () => {
  let sc: Scenario;
  let claudeMock: MockMessages | null = null;

  beforeEach(() => {
    sc = scenario("token-ceiling-app");
  });
  afterEach(async () => {
    await sc.close();
    await claudeMock?.close();
    claudeMock = null;
  });

  async function review(config: string, codexScript: Script, claudeScript: Parameters<typeof startMockMessages>[0]) {
    sc.gh.defaults({ config });
    claudeMock = await startMockMessages(claudeScript);
    const app = await sc.start(codexScript, {
      codexModel: "gpt-5.5", // in the default price table, so codex's cost is known
      claude: { bin: defaultClaudeBin(), apiKey: "sk-ant-test-0123456789abcdef", oauthToken: null, baseUrl: claudeMock.url, model: "claude-sonnet-4-5", passEnv: [], maxRetries: 0 },
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const reviews = sc.gh.bodies<{ body: string; comments: { body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    const final = sc.gh.bodies<{ conclusion?: string; title?: string; output: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)!;
    const [run] = app.runs.list();
    return { reviews, final, run: run! };
  }

  it("posts claude's review with a note when codex passes its token ceiling, and counts codex's tokens", async () => {
    const { reviews, final, run } = await review(
      "executors: [codex, claude]\ncodex:\n  max_tokens: 50000\n",
      [exec("sleep 1; cat src/math.js", BIG), exec("sleep 20; cat README.md"), message(reviewJson(null))],
      [structured(claudeReviewJson())],
    );
    // Codex really worked before it was stopped: its first command completed with exit code 0.
    expect(sc.mock!.requests.length).toBeLessThanOrEqual(2);
    const events = sc.app!.runs.get(run.id)!.events.map((line) => JSON.parse(line) as { type: string; item?: { type: string; command?: string; exit_code?: number } });
    expect(events).toContainEqual(
      expect.objectContaining({ type: "item.completed", item: expect.objectContaining({ type: "command_execution", command: expect.stringContaining("cat src/math.js"), exit_code: 0 }) }),
    );

    expect(reviews).toHaveLength(1);
    const [posted] = reviews;
    expect(posted!.comments[0]!.body).toContain("_Found by: claude_");
    expect(posted!.body).toContain(
      "**codex** did not finish (Codex stopped at its budget: Codex used 200,100 tokens (200,000 input, 100 output), over this repository's ceiling of 50,000 (codex.max_tokens), and was stopped before it finished); this review is from claude alone.",
    );
    // The agents table shows the failed codex with the tokens it used and their price (gpt-5.5:
    // 199,000 uncached × $1.25 + 1,000 cached × $0.125 + 100 out × $10, per 1M = $0.249875).
    expect(final.output.summary).toContain("### Agents");
    expect(final.output.summary).toMatch(/\| codex \| `gpt-5\.5` \| ❌ Codex stopped at its budget: Codex used 200,100 tokens[^|]*\| 200000 in \(1000 cached\) \/ 100 out \| \$0\.25 \|/);
    expect(final.output.summary).toMatch(/\| claude \|.*✅ finished.*\$/m);
    // The run record counts both agents: codex's 200,000 input tokens plus claude's.
    expect(run.status).toBe("succeeded");
    expect(run.usage!.inputTokens).toBeGreaterThan(200_000);
    expect(run.costUsd).toBeGreaterThan(0.249875);
  });

  it("shows the tokens and cost of a claude that stopped at its turn limit next to codex's review", async () => {
    const { reviews, final, run } = await review(
      "executors: [codex, claude]\nclaude:\n  max_turns: 1\n",
      (req) => (req.hasToolOutput ? message(reviewJson(null)) : exec("cat src/math.js")),
      afterToolResult(toolUse("Bash", { command: "git log --oneline -1" }, { usage: { inputTokens: 2_000, outputTokens: 40 } }), structured(claudeReviewJson())),
    );
    expect(claudeMock!.requests).toHaveLength(1);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.body).toMatch(/\*\*claude\*\* did not finish \(Claude failed: claude stopped at its turn limit/);
    const claudeRow = final.output.summary.split("\n").find((l) => l.startsWith("| claude |"));
    expect(claudeRow).toMatch(/❌ Claude failed/);
    // Its tokens (at least the 2,000 input and 40 output of its one response) and its own cost estimate.
    expect(claudeRow).toMatch(/\| (\d+) in \(\d+ cached\) \/ (\d+) out \| \$[0-9.]+ \|$/);
    const [, input, output] = /\| (\d+) in \(\d+ cached\) \/ (\d+) out/.exec(claudeRow!)!;
    expect(Number(input)).toBeGreaterThanOrEqual(2_000);
    expect(Number(output)).toBeGreaterThanOrEqual(40);
    expect(claudeRow).not.toMatch(/\| – \| – \|$/);
    expect(run.usage!.outputTokens).toBeGreaterThanOrEqual(40 + 20); // claude's 40 plus codex's (20 per mock response)
  });

  it("fails the check run with the ceiling's message when codex alone stops at it, and keeps its tokens in the run record", async () => {
    const { reviews, final, run } = await review(
      "codex:\n  max_tokens: 50000\n",
      [exec("sleep 1; cat src/math.js", BIG), exec("sleep 20; cat README.md"), message(reviewJson(null))],
      [structured(claudeReviewJson())],
    );
    expect(reviews).toHaveLength(0);
    expect(claudeMock!.requests).toHaveLength(0);
    expect(final.conclusion).toBe("failure");
    expect(final.output.title).toBe("Codex stopped at its budget");
    expect(final.output.summary).toContain("over this repository's ceiling of 50,000 (codex.max_tokens)");
    expect(final.output.summary).toContain("Used before the run stopped: 200,100 tokens (200,000 input, 1,000 of them cached; 100 output), $0.25.");
    expect(run.status).toBe("failed");
    expect(run.error).toBe("Codex stopped at its budget");
    expect(run.usage).toEqual({ inputTokens: 200_000, cachedInputTokens: 1_000, outputTokens: 100, reasoningOutputTokens: 40 });
    expect(run.costUsd).toBeCloseTo(0.249_875, 6);
    // Nothing of the stopped run is left on disk.
    const homes = path.join(sc.dataDir, "codex-homes");
    expect(existsSync(homes) ? readdirSync(homes) : []).toEqual([]);
  });
});

describe("a `@codex fix` whose agent passes its token ceiling", () => {
  let sc: Scenario;

  beforeEach(() => {
    runningFixes.clear();
    sc = scenario("token-ceiling-fix");
  });
  afterEach(async () => {
    await sc.close();
  });

  it("replies with the ceiling's message and the tokens used, opens nothing, and records the tokens on the run", async () => {
    sc.gh.defaults({ config: "codex:\n  max_tokens: 50000\n" });
    const app = await sc.start([exec("sleep 1; cat src/math.js", BIG), exec("sleep 20; cat README.md"), message("never reached")], { codexModel: "gpt-5.5" });
    await deliver(app.url, "issue_comment", issueCommentPayload(sc.repo, { number: 7, body: "@codex fix make divide() reject a zero divisor" }));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    // Stopped just before or just after its second request (see the top of this file), never later.
    expect(sc.mock!.requests.length).toBeGreaterThanOrEqual(1);
    expect(sc.mock!.requests.length).toBeLessThanOrEqual(2);
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain("**Codex stopped at its budget**");
    expect(replies[0]).toContain("Codex used 200,100 tokens (200,000 input, 100 output), over this repository's ceiling of 50,000 (codex.max_tokens)");
    expect(replies[0]).toContain("Used before the run stopped: 200,100 tokens (200,000 input, 1,000 of them cached; 100 output).");
    expect(sc.gh.bodies("POST", /\/pulls$/)).toEqual([]);
    const [run] = app.runs.list();
    expect(run!.status).toBe("failed");
    expect(run!.usage).toEqual({ inputTokens: 200_000, cachedInputTokens: 1_000, outputTokens: 100, reasoningOutputTokens: 40 });
    // The agent really worked before it was stopped: its first command completed with exit code 0.
    const events = app.runs.get(run!.id)!.events.map((line) => JSON.parse(line) as { type: string; item?: { type: string; command?: string; exit_code?: number } });
    expect(events).toContainEqual(
      expect.objectContaining({ type: "item.completed", item: expect.objectContaining({ type: "command_execution", command: expect.stringContaining("cat src/math.js"), exit_code: 0 }) }),
    );
  });
});
