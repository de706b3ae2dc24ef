import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cancelled, ExecutorError } from "../../../src/errors.js";
import { CodexExecutor, type CodexSettings } from "../../../src/executors/codex.js";
import { reviewJsonSchema } from "../../../src/executors/findings.js";
import type { AgentRunRequest } from "../../../src/executors/types.js";
import type { Progress } from "../../../src/types.js";
import { buildEnv, run } from "../../../src/util/exec.js";
import {
  afterToolOutput,
  codexMockConfig,
  execCommand,
  hang,
  httpError,
  inputText,
  message,
  responseFailed,
  startMockResponses,
  type MockResponses,
  type Script,
} from "../../helpers/mock-responses.js";
import { makeTempDir } from "../../helpers/tmp.js";

// makeTempDir registers its cleanup with afterAll, which only works at collection time: one base
// directory per file, and per-test directories inside it.
const base = makeTempDir("codex");
const scratch = (prefix: string): string => mkdtempSync(path.join(base, `${prefix}-`));

/**
 * The real, pinned codex binary against the scripted local Responses API: argv, env, sandbox,
 * JSONL parsing and every failure mode the provider can cause.
 */

const CODEX_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../node_modules/.bin/codex");

let worktree: string;

async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await run("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], {
    cwd,
    env: buildEnv(["PATH"], { HOME: cwd, GIT_CONFIG_NOSYSTEM: "1" }),
  });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  worktree = path.join(scratch("codex-repo"), "repo");
  mkdirSync(worktree);
  await git(worktree, "init", "-q", "-b", "main");
  writeFileSync(path.join(worktree, "main.c"), "#include <string.h>\nint main(int c, char **v) {\n  return 0;\n}\n");
  await git(worktree, "add", ".");
  await git(worktree, "commit", "-qm", "base");
  writeFileSync(
    path.join(worktree, "main.c"),
    "#include <string.h>\nint main(int c, char **v) {\n  char buf[8];\n  strcpy(buf, v[1]);\n  return 0;\n}\n",
  );
  await git(worktree, "commit", "-qam", "copy argv");
});

const mocks: MockResponses[] = [];
afterEach(async () => {
  await Promise.all(mocks.splice(0).map((m) => m.close()));
});

async function setup(script: Script, settings: Partial<CodexSettings> = {}) {
  const mock = await startMockResponses(script);
  mocks.push(mock);
  const homesRoot = scratch("codex-homes");
  const executor = new CodexExecutor({
    bin: CODEX_BIN,
    homesRoot,
    homeTemplate: null,
    apiKey: null,
    passEnv: [],
    defaultModel: "gpt-5.5",
    configOverrides: codexMockConfig(mock.url),
    ...settings,
  });
  return { mock, homesRoot, executor };
}

function request(overrides: Partial<AgentRunRequest> = {}): AgentRunRequest {
  return { worktree, mode: "review", prompt: "Review this change. MARKER-1234", model: null, reasoningEffort: null, timeoutMs: 30_000, ...overrides };
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

/** Processes (not zombies) whose environment mentions `needle`: codex and everything it started. */
function processesWithEnv(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").includes(needle)) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

function reviewJson(): string {
  return JSON.stringify({
    findings: [
      {
        title: "[P1] Unbounded strcpy overflows buf",
        body: "`strcpy(buf, v[1])` copies attacker-controlled input into an 8-byte buffer.",
        priority: 1,
        confidence_score: 0.9,
        code_location: { file_path: path.join(worktree, "main.c"), line_range: { start: 4, end: 3 } },
        anchor_code: "  char buf[8];\n  strcpy(buf, v[1]);",
        suggestion: null,
      },
      {
        title: "[P3] Outside",
        body: "Not in this repository.",
        priority: 3,
        confidence_score: 0.2,
        code_location: { file_path: "/etc/hosts", line_range: { start: 1, end: 1 } },
        anchor_code: "",
        suggestion: null,
      },
    ],
    overall_correctness: "patch is incorrect",
    overall_explanation: "Stack overflow on long argv.",
    overall_confidence_score: 0.85,
  });
}

describe("CodexExecutor with the real codex binary", () => {
  it("runs a review: commands really execute in the sandbox, findings come back relative", async () => {
    const { mock, homesRoot, executor } = await setup((req) =>
      req.hasToolOutput
        ? message(reviewJson(), { reasoning: "**Reading the diff**", usage: { inputTokens: 1500, cachedInputTokens: 1000, outputTokens: 300, reasoningTokens: 120 } })
        : { ...execCommand("git diff --stat HEAD~1"), usage: { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 50, reasoningTokens: 10 } },
    );
    const progress: Progress[] = [];
    const result = await executor.run(request({ model: "gpt-5.5", reasoningEffort: "high", onProgress: (p) => progress.push(p) }));

    expect(result.executor).toBe("codex");
    expect(result.model).toBe("gpt-5.5");
    expect(result.review).toEqual({
      verdict: "patch is incorrect",
      explanation: "Stack overflow on long argv.",
      confidence: 0.85,
      findings: [
        {
          title: "Unbounded strcpy overflows buf",
          body: "`strcpy(buf, v[1])` copies attacker-controlled input into an 8-byte buffer.",
          priority: 1,
          confidence: 0.9,
          path: "main.c",
          startLine: 3,
          endLine: 4,
          anchor: "  char buf[8];\n  strcpy(buf, v[1]);",
          suggestion: null,
        },
      ],
    });
    expect(result.droppedFindings).toEqual([{ title: "Outside", reason: "the file path /etc/hosts is outside the repository" }]);
    expect(result.usage).toEqual({ inputTokens: 2500, cachedInputTokens: 1200, outputTokens: 350, reasoningOutputTokens: 130 });
    expect(JSON.parse(result.finalMessage)).toEqual(JSON.parse(reviewJson()));

    // The sandbox really ran the command (it silently cannot when CODEX_HOME is under /tmp).
    expect(result.commands).toEqual([{ command: expect.stringContaining("git diff --stat HEAD~1"), exitCode: 0, status: "completed" }]);
    expect(mock.requests[1]!.toolOutputs[0]).toMatch(/main\.c \| 2 \+\+/);

    expect(progress.some((p) => p.currentCommand?.includes("git diff"))).toBe(true);
    expect(progress.at(-1)).toMatchObject({ currentCommand: null, commandsCompleted: 1, lastNote: "Reading the diff" });

    // What codex sent: our prompt, model, effort and the strict schema as text.format.
    expect(mock.requests).toHaveLength(2);
    const body = mock.requests[0]!.body;
    expect(inputText(body)).toContain("MARKER-1234");
    expect(body.model).toBe("gpt-5.5");
    expect(body.reasoning).toMatchObject({ effort: "high" });
    expect(body.text?.format).toEqual({ type: "json_schema", strict: true, name: "codex_output_schema", schema: reviewJsonSchema() });
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("answers a question in ask mode: plain text, no schema", async () => {
    const { mock, homesRoot, executor } = await setup([message("The function returns 0 on success.")]);
    const result = await executor.run(request({ mode: "ask", prompt: "What does main return?" }));
    expect(result.finalMessage).toBe("The function returns 0 on success.");
    expect(result.review).toBeNull();
    expect(result.usage).toEqual({ inputTokens: 100, cachedInputTokens: 40, outputTokens: 20, reasoningOutputTokens: 5 });
    expect(mock.requests[0]!.body.text?.format).toBeUndefined();
    expect(inputText(mock.requests[0]!.body)).toContain("What does main return?");
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("uses the operator's config.toml from the home template", async () => {
    const template = scratch("codex-template");
    const mock = await startMockResponses(afterToolOutput(execCommand("cat main.c"), message("It copies argv.")));
    mocks.push(mock);
    writeFileSync(
      path.join(template, "config.toml"),
      [
        'model = "gpt-5.5"',
        'model_provider = "mock"',
        "[model_providers.mock]",
        'name = "Mock"',
        `base_url = "${mock.url}"`,
        'wire_api = "responses"',
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "supports_websockets = false",
      ].join("\n") + "\n",
    );
    const homesRoot = scratch("codex-homes");
    const executor = new CodexExecutor({ bin: CODEX_BIN, homesRoot, homeTemplate: template, apiKey: null, passEnv: [], defaultModel: null });
    const result = await executor.run(request({ mode: "ask" }));
    expect(result.finalMessage).toBe("It copies argv.");
    expect(result.model).toBeNull();
    expect(result.commands).toEqual([{ command: expect.stringContaining("cat main.c"), exitCode: 0, status: "completed" }]);
    expect(mock.requests[0]!.body.model).toBe("gpt-5.5");
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("gives the agent no secrets from the app's environment", async () => {
    const secrets = {
      GITHUB_TOKEN: "ghs_secret_token_value",
      GITHUB_REPOSITORY: "acme/widgets",
      APP_ID: "424242",
      PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----abc",
      PRIVATE_KEY_PATH: "/etc/app/key.pem",
      WEBHOOK_SECRET: "whsec_value",
      OPERATOR_ALLOWED_VAR: "allowed-value",
    };
    const saved = { ...process.env };
    Object.assign(process.env, secrets);
    try {
      const { mock, homesRoot, executor } = await setup(
        (req) => (req.hasToolOutput ? message("done") : execCommand("env")),
        { passEnv: ["OPERATOR_ALLOWED_VAR"], apiKey: "sk-test-apikey-123456" },
      );
      const result = await executor.run(request({ mode: "ask" }));
      expect(result.commands[0]).toMatchObject({ exitCode: 0, status: "completed" });
      const envOutput = mock.requests[1]!.toolOutputs[0]!;
      expect(envOutput).toContain(`CODEX_HOME=${homesRoot}/`);
      expect(envOutput).toContain("OPERATOR_ALLOWED_VAR=allowed-value");
      for (const [name, value] of Object.entries(secrets)) {
        if (name === "OPERATOR_ALLOWED_VAR") continue;
        expect(envOutput).not.toContain(`${name}=`);
        expect(envOutput).not.toContain(value);
      }
      // The API key reaches codex (it needs it) but not the commands the agent runs.
      expect(envOutput).not.toContain("CODEX_API_KEY");
      expect(envOutput).not.toContain("sk-test-apikey-123456");
      expect(JSON.stringify(mock.requests.map((r) => [r.headers, r.body]))).not.toMatch(/ghs_secret|whsec_value|BEGIN RSA/);
    } finally {
      for (const name of Object.keys(secrets)) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });

  it("fails with turn-failed and the provider's message on HTTP 400", async () => {
    const { homesRoot, executor } = await setup([httpError(400, { error: { message: "mock bad request", type: "invalid_request_error" } })]);
    const err = await failure(executor.run(request()));
    expect(err.kind).toBe("turn-failed");
    expect(err.message).toBe("the model provider reported: mock bad request");
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("fails with turn-failed on response.failed", async () => {
    const { homesRoot, executor } = await setup([responseFailed("the model crashed")]);
    const err = await failure(executor.run(request()));
    expect(err.kind).toBe("turn-failed");
    expect(err.message).toMatch(/^the model provider reported: .*the model crashed/);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("fails with rate-limit on HTTP 429", async () => {
    const { homesRoot, executor } = await setup([
      httpError(429, { error: { message: "Rate limit reached for gpt-5.5", type: "rate_limit_exceeded", code: "rate_limit_exceeded" } }),
    ]);
    const err = await failure(executor.run(request()));
    expect(err.kind).toBe("rate-limit");
    expect(err.message).toMatch(/^the model provider is rate limiting requests: .*429/);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("fails with invalid-output when the review is not JSON", async () => {
    const { homesRoot, executor } = await setup([message("Looks fine to me!")]);
    const err = await failure(executor.run(request()));
    expect(err.kind).toBe("invalid-output");
    expect(err.message).toBe("the agent's final message was not JSON: Looks fine to me!");
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("fails with invalid-output when the review JSON breaks the schema", async () => {
    const bad = JSON.parse(reviewJson()) as { overall_correctness: string; findings: { priority: number }[] };
    bad.overall_correctness = "mostly fine";
    bad.findings[0]!.priority = 9;
    const { homesRoot, executor } = await setup([message(JSON.stringify(bad))]);
    const err = await failure(executor.run(request({ mode: "audit" })));
    expect(err.kind).toBe("invalid-output");
    expect(err.message).toMatch(/did not match the review format/);
    expect(err.message).toMatch(/overall_correctness/);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("stops a run that exceeds its time limit and leaves no process behind", async () => {
    const { mock, homesRoot, executor } = await setup(() => hang());
    const started = Date.now();
    const promise = failure(executor.run(request({ timeoutMs: 1500 })));
    while (mock.requests.length === 0 && Date.now() - started < 1400) await new Promise((r) => setTimeout(r, 20));
    expect(processesWithEnv(`CODEX_HOME=${homesRoot}`).length).toBeGreaterThan(0); // the check below can see codex
    const err = await promise;
    expect(err.kind).toBe("timeout");
    expect(err.message).toBe("codex did not finish within 1.5 s and was stopped");
    expect(Date.now() - started).toBeLessThan(6000);
    expect(mock.requests.length).toBeGreaterThan(0);
    expect(processesWithEnv(`CODEX_HOME=${homesRoot}`)).toEqual([]);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("turns an abort into Cancelled and leaves no process behind", async () => {
    const { mock, homesRoot, executor } = await setup(() => hang());
    const controller = new AbortController();
    const promise = executor.run(request({ signal: controller.signal }));
    const until = Date.now() + 10_000;
    while (mock.requests.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(mock.requests.length).toBe(1);
    expect(processesWithEnv(`CODEX_HOME=${homesRoot}`).length).toBeGreaterThan(0); // the check below can see codex
    controller.abort();
    await expect(promise).rejects.toBeInstanceOf(Cancelled);
    expect(processesWithEnv(`CODEX_HOME=${homesRoot}`)).toEqual([]);
    expect(readdirSync(homesRoot)).toEqual([]);
  });
});
