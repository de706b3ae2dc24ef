import { describe, expect, it } from "vitest";
import { Cancelled, ExecutorError } from "../../../src/errors.js";
import type { AgentRunResult } from "../../../src/executors/types.js";
import { combineReviews as combine } from "../../../src/engine/agents.js";
import { agentNames, checkAgents, localWording } from "../../../src/local/pick-agents.js";
import { findingsFromReport } from "../../../src/local/findings.js";
import { loadLocalSettings } from "../../../src/local/settings.js";
import type { Finding, ReviewOutcome } from "../../../src/types.js";

/** The pure parts of the local front doors: agent choice, combining two reviews, reading a report back. */

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    title: "Unbounded strcpy overflows buf",
    body: "strcpy copies argv into an 8-byte buffer.",
    priority: 1,
    confidence: 0.9,
    path: "main.c",
    startLine: 4,
    endLine: 4,
    anchor: "  strcpy(buf, v[1]);",
    suggestion: null,
    ...overrides,
  };
}

function ran(executor: "codex" | "claude", findings: Finding[]): PromiseFulfilledResult<AgentRunResult> {
  const review: ReviewOutcome = { findings, verdict: findings.length > 0 ? "patch is incorrect" : "patch is correct", explanation: `${executor} says so`, confidence: 0.8 };
  return {
    status: "fulfilled",
    value: {
      executor,
      finalMessage: "",
      review,
      droppedFindings: [],
      usage: { inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningOutputTokens: 0 },
      commands: [{ command: "git diff", exitCode: 0, status: "completed" }],
      model: executor === "codex" ? "gpt-5.5" : "claude-sonnet-4-5",
      durationMs: 10,
      warnings: [],
    },
  };
}

const failed = (reason: unknown): PromiseRejectedResult => ({ status: "rejected", reason });

/** The engine's combine, worded as the local doors word it. */
const combineReviews = (names: ("codex" | "claude")[], settled: PromiseSettledResult<AgentRunResult>[]) => combine(names, settled, { wording: localWording });

describe("combineReviews", () => {
  it("merges two reviews: the shared problem once, agreed and first; the rest keep their agent", () => {
    const shared = finding();
    const own = finding({ title: "Missing check that argv[1] exists", body: "v[1] is NULL without arguments.", priority: 0, anchor: "  strcpy(buf, v[1]);" });
    const combined = combineReviews(["codex", "claude"], [ran("codex", [shared]), ran("claude", [finding({ title: "strcpy into buf can overflow the buffer" }), own])]);
    expect(combined.outcome.findings.map((f) => combined.foundBy.get(f))).toEqual([["codex", "claude"], ["claude"]]);
    expect(combined.notes).toEqual([]);
    expect(combined.usage.inputTokens).toBe(20);
    expect(combined.model).toBe("gpt-5.5, claude-sonnet-4-5");
    expect(combined.agents.map((a) => a.status)).toEqual(["succeeded", "succeeded"]);
  });

  it("keeps one agent's review with a note when the other failed", () => {
    const combined = combineReviews(["codex", "claude"], [ran("codex", [finding()]), failed(new ExecutorError("the model provider reported: overloaded", "rate-limit"))]);
    expect(combined.outcome.findings).toHaveLength(1);
    expect(combined.foundBy.get(combined.outcome.findings[0]!)).toEqual(["codex"]);
    expect(combined.notes).toEqual(["claude did not finish (Claude hit a rate or usage limit: the model provider reported: overloaded); this review is from codex alone."]);
    expect(combined.agents[1]).toMatchObject({ name: "claude", status: "failed", usage: null });
  });

  it("rethrows when every agent failed, and a cancellation wins over a result", () => {
    const codexDown = new ExecutorError("codex exited with code 1", "exit");
    expect(() => combineReviews(["codex", "claude"], [failed(codexDown), failed(new Error("other"))])).toThrow(codexDown);
    expect(() => combineReviews(["codex", "claude"], [ran("codex", []), failed(new Cancelled("stop"))])).toThrow(Cancelled);
  });
});

describe("agent choice", () => {
  it("maps --executor to agents and requires a credential for each agent before it starts", () => {
    expect(agentNames("both")).toEqual(["codex", "claude"]);
    expect(agentNames("claude")).toEqual(["claude"]);
    // No key and no codex login under HOME: codex would wait for the network until its timeout.
    expect(() => checkAgents(["codex"], loadLocalSettings({ HOME: "/nonexistent-home" }, "/w"))).toThrow(
      /codex has no credentials: set CODEX_API_KEY \(or OPENAI_API_KEY\).*codex login/,
    );
    const without = loadLocalSettings({ HOME: "/home/u", CODEX_API_KEY: "sk-test-123456" }, "/w");
    expect(without.claude).toBeNull();
    expect(() => checkAgents(["codex"], without)).not.toThrow();
    expect(() => checkAgents(["codex", "claude"], without)).toThrow(/claude is not set up: set ANTHROPIC_API_KEY, or CLAUDE_CODE_OAUTH_TOKEN/);
    const withToken = loadLocalSettings({ HOME: "/home/u", CLAUDE_CODE_OAUTH_TOKEN: "tok-123456", CLAUDE_MODEL: "claude-x", CLAUDE_MAX_RETRIES: "0" }, "/w");
    expect(withToken.claude).toMatchObject({ oauthToken: "tok-123456", apiKey: null, model: "claude-x", maxRetries: 0 });
    expect(() => checkAgents(["claude"], withToken)).not.toThrow();
    expect(() => loadLocalSettings({ HOME: "/h", ANTHROPIC_API_KEY: "k", CLAUDE_MAX_RETRIES: "two" }, "/w")).toThrow(/CLAUDE_MAX_RETRIES/);
  });
});

describe("findingsFromReport", () => {
  it("reads the findings of a review JSON report as fix targets", () => {
    const report = {
      version: 1,
      findings: [{ title: "Unbounded strcpy", priority: 1, path: "main.c", startLine: 4, endLine: 5, body: "Overflow.", suggestion: "  strncpy(buf, v[1], 7);", inDiff: true }],
    };
    expect(findingsFromReport(JSON.stringify(report), "r.json")).toEqual([
      { title: "Unbounded strcpy", priority: 1, path: "main.c", startLine: 4, endLine: 5, body: "Overflow.\n\nSuggested replacement for those lines:\n\n```\n  strncpy(buf, v[1], 7);\n```" },
    ]);
  });

  it("says what is wrong with a file that is not a report", () => {
    expect(() => findingsFromReport("{", "r.json")).toThrow(/r\.json is not JSON/);
    expect(() => findingsFromReport(JSON.stringify({ version: 2, findings: [] }), "r.json")).toThrow(/only version 1 reports/);
    expect(() => findingsFromReport(JSON.stringify({ version: 1, findings: [{ priority: 1 }] }), "r.json")).toThrow(/not a codex-pr-bot review report[\s\S]*title/);
  });
});
