import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Cancelled, ExecutorError } from "../../../src/errors.js";
import { buildCodexArgs, CodexExecutor, formatDuration, type CodexSettings } from "../../../src/executors/codex.js";
import type { AgentRunRequest } from "../../../src/executors/types.js";
import { unjailed } from "../../helpers/jail.js";
import { makeTempDir } from "../../helpers/tmp.js";

// makeTempDir registers its cleanup with afterAll, which only works at collection time: one base
// directory per file, and per-test directories inside it.
const base = makeTempDir("codex-fake");
const scratch = (prefix: string): string => mkdtempSync(path.join(base, `${prefix}-`));

/**
 * CodexExecutor against a fake CLI (test/helpers/fake-cli/fake-codex.mjs) for what the real binary
 * cannot be made to do on demand: exit 1 with a message, hang with children, skip turn.completed,
 * and report exactly which argv and environment it was given.
 */

const FAKE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../helpers/fake-cli/fake-codex.mjs");

function setup(settings: Partial<CodexSettings> = {}) {
  const homesRoot = scratch("fake-homes");
  const worktree = scratch("fake-worktree");
  const executor = new CodexExecutor({
    bin: FAKE,
    homesRoot,
    homeTemplate: null,
    apiKey: null,
    passEnv: [],
    defaultModel: null,
    // The fake writes beside itself and reports host pids: process handling is tested here, the
    // jail's own in test/security/jail.test.ts.
    jail: unjailed(),
    ...settings,
  });
  const request = (overrides: Partial<AgentRunRequest> = {}): AgentRunRequest => ({
    worktree,
    mode: "ask",
    prompt: "scenario: echo",
    model: null,
    reasoningEffort: null,
    timeoutMs: 20_000,
    ...overrides,
  });
  return { homesRoot, worktree, executor, request };
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

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

interface Echo {
  argv: string[];
  env: Record<string, string>;
  prompt: string;
}

describe("buildCodexArgs", () => {
  it("builds the read-only review argv with schema, output file, model, effort and overrides", () => {
    expect(
      buildCodexArgs({ mode: "review", worktree: "/w", home: "/h", model: "gpt-5.5", reasoningEffort: "high", configOverrides: ['a="b"'] }),
    ).toEqual([
      "exec", "--json", "--skip-git-repo-check", "--color", "never", "--cd", "/w", "--sandbox", "read-only",
      "--output-schema", "/h/schema.json", "-o", "/h/last-message.txt", "-m", "gpt-5.5",
      "-c", 'model_reasoning_effort="high"',
      "-c", "shell_environment_policy.ignore_default_excludes=false",
      "-c", 'shell_environment_policy.exclude=["CODEX_API_KEY"]',
      "-c", 'a="b"', "-",
    ]);
  });

  it("lets fix and tests write, and sends no schema outside review and audit", () => {
    const fix = buildCodexArgs({ mode: "fix", worktree: "/w", home: "/h", model: null, reasoningEffort: null, configOverrides: [] });
    expect(fix.slice(7, 9)).toEqual(["--sandbox", "workspace-write"]);
    expect(fix).not.toContain("--output-schema");
    expect(fix).not.toContain("-m");
    expect(buildCodexArgs({ mode: "ask", worktree: "/w", home: "/h", model: null, reasoningEffort: null, configOverrides: [] })).not.toContain(
      "--output-schema",
    );
    expect(buildCodexArgs({ mode: "audit", worktree: "/w", home: "/h", model: null, reasoningEffort: null, configOverrides: [] })).toContain(
      "--output-schema",
    );
  });
});

describe("formatDuration", () => {
  it.each([
    [20 * 60_000, "20 min"],
    [90_000, "90 s"],
    [1500, "1.5 s"],
    [250, "250 ms"],
  ])("%d → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe("CodexExecutor with a fake CLI", () => {
  it("passes the prompt on stdin, the argv, and only the allowlisted environment", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      GITHUB_TOKEN: "ghs_x",
      APP_ID: "1",
      PRIVATE_KEY: "pk",
      WEBHOOK_SECRET: "ws",
      AZURE_OPENAI_API_KEY: "az-key-value",
      LANG: "C.UTF-8",
    });
    try {
      const { homesRoot, worktree, executor, request } = setup({
        apiKey: "sk-live-abcdef",
        passEnv: ["AZURE_OPENAI_API_KEY"],
        defaultModel: "gpt-5.5",
        configOverrides: ['model_provider="azure"'],
      });
      const result = await executor.run(request({ prompt: "scenario: echo\nPlease answer." }));
      const echo = JSON.parse(result.finalMessage) as Echo;
      expect(echo.prompt).toBe("scenario: echo\nPlease answer.");
      const home = echo.env.CODEX_HOME!;
      expect(path.dirname(home)).toBe(homesRoot);
      expect(echo.argv).toEqual(buildCodexArgs({ mode: "ask", worktree, home, model: "gpt-5.5", reasoningEffort: null, configOverrides: ['model_provider="azure"'] }));
      const names = Object.keys(echo.env).filter((n) => n !== "PWD" && n !== "SHLVL" && n !== "_");
      expect(names.sort()).toEqual(["AZURE_OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME", "HOME", "LANG", "PATH"].sort());
      // Secret values are redacted from what the agent says (here it quotes its own environment).
      expect(echo.env).toMatchObject({ CODEX_API_KEY: "[redacted]", HOME: home, AZURE_OPENAI_API_KEY: "[redacted]" });
      expect(result.model).toBe("gpt-5.5");
      expect(result.usage).toEqual({ inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningOutputTokens: 0 });
      expect(existsSync(home)).toBe(false);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it("reports a non-zero exit with the stderr message, the API key redacted", async () => {
    const { homesRoot, executor, request } = setup({ apiKey: "sk-live-abcdef" });
    const err = await failure(executor.run(request({ prompt: "scenario: exit-1" })));
    expect(err.kind).toBe("exit");
    expect(err.message).toBe("codex exited with code 1: Error: provider rejected key [redacted]: account disabled");
    expect(err.detail).toContain("starting up");
    expect(err.message + err.detail).not.toContain("sk-live-abcdef");
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("stops a hanging CLI at the time limit and kills its whole process group", async () => {
    const { homesRoot, worktree, executor, request } = setup();
    const started = Date.now();
    const err = await failure(executor.run(request({ prompt: "scenario: hang", timeoutMs: 1500 })));
    expect(err.kind).toBe("timeout");
    expect(err.message).toBe("codex did not finish within 1.5 s and was stopped");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const pids = JSON.parse(readFileSync(path.join(worktree, "pids.json"), "utf8")) as { cli: number; grandchild: number };
    expect(isAlive(pids.cli)).toBe(false);
    expect(isAlive(pids.grandchild)).toBe(false);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("fails when the CLI exits 0 without completing its turn", async () => {
    const { executor, request } = setup();
    const err = await failure(executor.run(request({ prompt: "scenario: no-turn" })));
    expect(err.kind).toBe("exit");
    expect(err.message).toMatch(/without finishing its turn/);
  });

  it("tolerates junk lines and unknown events, keeping them as warnings", async () => {
    const { executor, request } = setup();
    const progress: unknown[] = [];
    const result = await executor.run(
      request({
        prompt: "scenario: noisy",
        onProgress: (p) => {
          progress.push(p);
          throw new Error("check run update failed");
        },
      }),
    );
    expect(result.finalMessage).toBe("ok");
    expect(result.warnings).toContain("ignored a line that is not JSON: this is not json");
    expect(result.warnings.some((w) => w.includes("progress callback failed"))).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
  });

  it("fails with kind spawn when the binary does not exist", async () => {
    const { homesRoot, executor, request } = setup({ bin: "/nonexistent/codex" });
    const err = await failure(executor.run(request()));
    expect(err.kind).toBe("spawn");
    expect(err.message).toBe("could not start /nonexistent/codex: ENOENT");
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("fails with invalid-output when an ask run ends without an answer", async () => {
    const { executor, request } = setup();
    const err = await failure(executor.run(request({ prompt: "scenario: silent" })));
    expect(err.kind).toBe("invalid-output");
    expect(err.message).toMatch(/without an answer/);
  });

  it("fails with invalid-output when a review run's answer is JSON of another shape", async () => {
    const { executor, request } = setup();
    const err = await failure(executor.run(request({ mode: "review" })));
    expect(err.kind).toBe("invalid-output");
    expect(err.message).toMatch(/did not match the review format/);
  });

  it("is Cancelled without starting when the signal is already aborted", async () => {
    const { homesRoot, executor, request } = setup();
    await expect(executor.run(request({ signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(Cancelled);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("is Cancelled when aborted mid-run, and the process group is gone", async () => {
    const { homesRoot, worktree, executor, request } = setup();
    const controller = new AbortController();
    const promise = executor.run(request({ prompt: "scenario: hang", signal: controller.signal }));
    const pidsFile = path.join(worktree, "pids.json");
    const until = Date.now() + 5000;
    while (!existsSync(pidsFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await expect(promise).rejects.toBeInstanceOf(Cancelled);
    const pids = JSON.parse(readFileSync(pidsFile, "utf8")) as { cli: number; grandchild: number };
    expect(isAlive(pids.cli)).toBe(false);
    expect(isAlive(pids.grandchild)).toBe(false);
    expect(readdirSync(homesRoot)).toEqual([]);
  });

  it("refuses a worktree inside the system temp dir", async () => {
    const { executor, request } = setup();
    const err = await failure(executor.run(request({ worktree: path.join(os.tmpdir(), "repo") })));
    expect(err.message).toMatch(/system temp dir/);
  });
});
