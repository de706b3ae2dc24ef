import { describe, expect, it } from "vitest";
import { ExecutorError, WorkspaceError } from "../../../src/errors.js";
import { describeFailure, spentOf } from "../../../src/jobs/outcome.js";

const spent = {
  usage: { inputTokens: 150_000, cachedInputTokens: 90_000, outputTokens: 2_310, reasoningOutputTokens: 800 },
  costUsd: 0.1234,
  model: "gpt-5.5",
};

describe("describeFailure for an agent that stopped at its budget", () => {
  it("names the budget in the title and says what was used in the summary", () => {
    const err = new ExecutorError("Codex used 152,310 tokens (…), over this repository's ceiling of 150,000 (codex.max_tokens)", "budget", "", spent);
    const report = describeFailure(err, [], "job-1");
    expect(report.conclusion).toBe("failure");
    expect(report.title).toBe("Codex stopped at its budget");
    expect(report.summary).toBe(
      "Codex used 152,310 tokens (…), over this repository's ceiling of 150,000 (codex.max_tokens)\n\n" +
        "Used before the run stopped: 152,310 tokens (150,000 input, 90,000 of them cached; 2,310 output), $0.123.",
    );
    expect(describeFailure(new ExecutorError("claude stopped at its cost budget", "budget"), [], "job-1", "Claude").title).toBe(
      "Claude stopped at its budget",
    );
  });

  it("adds the usage line to any failure that carries one, without a cost when there is none", () => {
    const err = new ExecutorError("codex did not finish within 20 min and was stopped", "timeout", "", { ...spent, costUsd: null });
    const report = describeFailure(err, [], "job-1");
    expect(report.conclusion).toBe("timed_out");
    expect(report.summary).toContain("Used before the run stopped: 152,310 tokens (150,000 input, 90,000 of them cached; 2,310 output).");
    expect(describeFailure(new ExecutorError("x", "exit"), [], "job-1").summary).toBe("x");
  });
});

describe("spentOf", () => {
  it("gives the run record a failed agent's usage and cost", () => {
    expect(spentOf(new ExecutorError("x", "budget", "", spent))).toEqual({ usage: spent.usage, costUsd: 0.1234 });
    expect(spentOf(new ExecutorError("x", "budget", "", { ...spent, costUsd: null }))).toEqual({ usage: spent.usage });
  });

  it("gives nothing for failures without figures", () => {
    expect(spentOf(new ExecutorError("x", "spawn"))).toEqual({});
    expect(spentOf(new WorkspaceError("x"))).toEqual({});
    expect(spentOf("boom")).toEqual({});
  });
});

describe("ExecutorError.withSpent", () => {
  it("adds figures to an error that has none and keeps everything else", () => {
    const bare = new ExecutorError("the model provider reported: boom", "turn-failed", "detail");
    const withFigures = bare.withSpent(spent);
    expect(withFigures).toBeInstanceOf(ExecutorError);
    expect([withFigures.message, withFigures.kind, withFigures.detail, withFigures.spent]).toEqual([bare.message, "turn-failed", "detail", spent]);
    expect(bare.withSpent(null)).toBe(bare);
    // Figures an executor already attached are not replaced.
    expect(withFigures.withSpent({ ...spent, costUsd: 9 })).toBe(withFigures);
  });
});
