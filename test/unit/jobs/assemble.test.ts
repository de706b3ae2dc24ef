import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ClaudeExecutor, type ClaudeSettings } from "../../../src/executors/claude.js";
import { buildPipelineDeps } from "../../../src/jobs/assemble.js";
import { localClaudeSettings } from "../../../src/local/settings.js";
import { loadSettings } from "../../../src/settings.js";

/** CLAUDE_FIX_COMMANDS: the operator's Bash allowlist for Claude's fix/tests runs, from the environment to the executor. */

const ENV = { DATA_DIR: "/srv/bot-data", ANTHROPIC_API_KEY: "sk-ant-test", CLAUDE_FIX_COMMANDS: " npm test ; npx vitest run --reporter=dot,json * ;; " };

function bashAllowOf(executor: unknown): readonly string[] | undefined {
  expect(executor).toBeInstanceOf(ClaudeExecutor);
  return (executor as { settings: ClaudeSettings }).settings.bashAllow;
}

describe("CLAUDE_FIX_COMMANDS", () => {
  it("splits on semicolons (patterns may hold commas) and reaches the app's Claude executor", () => {
    const settings = loadSettings(ENV, "/srv");
    expect(settings.claude?.fixCommands).toEqual(["npm test", "npx vitest run --reporter=dot,json *"]);
    const deps = buildPipelineDeps({ settings, runs: null, log: pino({ level: "silent" }), installationOctokit: async () => ({}) as never });
    expect(bashAllowOf(deps.claude!({ maxTurns: 10, maxBudgetUsd: null }))).toEqual(["npm test", "npx vitest run --reporter=dot,json *"]);
  });

  it("is empty by default: Claude's fixes run read-only git only", () => {
    const settings = loadSettings({ DATA_DIR: "/srv/bot-data", ANTHROPIC_API_KEY: "sk-ant-test" }, "/srv");
    expect(settings.claude?.fixCommands).toEqual([]);
    const deps = buildPipelineDeps({ settings, runs: null, log: pino({ level: "silent" }), installationOctokit: async () => ({}) as never });
    expect(bashAllowOf(deps.claude!({ maxTurns: 10, maxBudgetUsd: null }))).toEqual([]);
  });

  it("is read the same way by the local command line", () => {
    expect(localClaudeSettings(ENV)?.fixCommands).toEqual(["npm test", "npx vitest run --reporter=dot,json *"]);
    expect(localClaudeSettings({ ANTHROPIC_API_KEY: "k" })?.fixCommands).toEqual([]);
  });
});
