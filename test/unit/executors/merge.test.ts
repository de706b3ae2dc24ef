import { describe, expect, it } from "vitest";
import { mergeReviews, sameProblem, tokens } from "../../../src/executors/merge.js";
import type { Finding, ReviewOutcome } from "../../../src/types.js";

const finding = (overrides: Partial<Finding>): Finding => ({
  title: "Unbounded strcpy overflows buf",
  body: "`strcpy(buf, v[1])` copies attacker-controlled input into an 8-byte buffer.",
  priority: 1,
  confidence: 0.8,
  path: "main.c",
  startLine: 3,
  endLine: 4,
  anchor: "  char buf[8];\n  strcpy(buf, v[1]);",
  suggestion: null,
  ...overrides,
});
const outcome = (findings: Finding[], overrides: Partial<ReviewOutcome> = {}): ReviewOutcome => ({
  findings,
  verdict: "patch is incorrect",
  explanation: "Stack overflow.",
  confidence: 0.8,
  ...overrides,
});

describe("sameProblem", () => {
  const overflow = finding({});
  it("matches the same issue worded differently by two models", () => {
    const claude = finding({
      title: "Buffer overflow: strcpy copies argv into an 8-byte buf",
      body: "If argv[1] is longer than 7 characters this overflows the stack buffer `buf`.",
      startLine: 4,
      endLine: 4,
      anchor: "  strcpy(buf, v[1]);",
    });
    expect(sameProblem(overflow, claude)).toBe(true);
  });
  it("matches an identical fingerprint whatever the lines", () => {
    expect(sameProblem(overflow, finding({ startLine: 6, endLine: 6 }))).toBe(true);
  });
  it("keeps apart different files, distant lines and different problems on the same line", () => {
    expect(sameProblem(overflow, finding({ path: "other.c" }))).toBe(false);
    expect(sameProblem(overflow, finding({ startLine: 40, endLine: 41, anchor: "x" }))).toBe(false);
    const nullDeref = finding({
      title: "v[1] is read without checking argc",
      body: "When the program runs with no argument, v[1] is NULL and strcpy dereferences it.",
      anchor: "  strcpy(buf, v[1]);",
      startLine: 4,
      endLine: 4,
    });
    expect(sameProblem(overflow, nullDeref)).toBe(false);
  });
  it("counts ranges within the slack as the same place", () => {
    const near = finding({ title: "strcpy overflows the buffer buf", startLine: 7, endLine: 7, anchor: "" });
    expect(sameProblem(overflow, near)).toBe(true);
    expect(sameProblem(overflow, near, { lineSlack: 1 })).toBe(false);
  });
});

describe("tokens", () => {
  it("normalises case, punctuation, stop words and simple suffixes", () => {
    expect([...tokens("The buffer OVERFLOWS when copying strings!")]).toEqual(["buffer", "overflow", "copy", "string"]);
  });
});

describe("mergeReviews", () => {
  it("de-duplicates a finding both agents report, marks it agreed and ranks it first", () => {
    const codexOverflow = finding({ priority: 1, confidence: 0.7 });
    const codexStyle = finding({ title: "Use size_t for the length", body: "Minor.", priority: 0, confidence: 0.9, path: "util.c", startLine: 10, endLine: 10, anchor: "int n;" });
    const claudeOverflow = finding({
      title: "Buffer overflow: strcpy copies argv into an 8-byte buf",
      body: "If argv[1] is longer than 7 characters this overflows the stack buffer.",
      priority: 2,
      confidence: 0.95,
      startLine: 4,
      endLine: 4,
      anchor: "  strcpy(buf, v[1]);",
      suggestion: "  strncpy(buf, v[1], sizeof buf - 1);",
    });
    const claudeOnly = finding({ title: "Missing newline at end of file", body: "Style.", priority: 3, confidence: 0.3, startLine: 6, endLine: 6, anchor: "}" });

    const { outcome: merged, agents } = mergeReviews([
      { executor: "codex", review: outcome([codexOverflow, codexStyle], { explanation: "Overflow in main.", confidence: 0.7 }) },
      { executor: "claude", review: outcome([claudeOverflow, claudeOnly], { verdict: "patch is correct", explanation: "Looks mostly fine.", confidence: 0.9 }) },
    ]);

    expect(merged.findings).toHaveLength(3);
    const [agreed, second, third] = merged.findings;
    // The agreed finding comes first even though codexStyle has a more urgent priority.
    expect(agreed).toEqual({ ...codexOverflow, priority: 1, confidence: 0.95, suggestion: null });
    expect(agents.get(agreed!)).toEqual(["codex", "claude"]);
    expect(second).toBe(codexStyle);
    expect(agents.get(second!)).toEqual(["codex"]);
    expect(third).toBe(claudeOnly);
    expect(agents.get(third!)).toEqual(["claude"]);
    // Either agent saying "incorrect" wins; both explanations are kept, labelled.
    expect(merged.verdict).toBe("patch is incorrect");
    expect(merged.explanation).toBe("codex: Overflow in main.\n\nclaude: Looks mostly fine.");
    expect(merged.confidence).toBe(0.7);
  });

  it("takes a suggestion from another agent only when it covers the same lines", () => {
    const a = finding({ suggestion: null });
    const b = finding({ priority: 2, suggestion: "  strncpy(buf, v[1], 7);" });
    const c = finding({ priority: 2, startLine: 4, endLine: 4, suggestion: "  strncpy(buf, v[1], 7);" });
    expect(mergeReviews([{ executor: "codex", review: outcome([a]) }, { executor: "claude", review: outcome([b]) }]).outcome.findings[0]!.suggestion).toBe(
      "  strncpy(buf, v[1], 7);",
    );
    expect(mergeReviews([{ executor: "codex", review: outcome([a]) }, { executor: "claude", review: outcome([c]) }]).outcome.findings[0]!.suggestion).toBeNull();
  });

  it("does not count one agent reporting a problem twice as agreement", () => {
    const { outcome: merged, agents } = mergeReviews([
      { executor: "codex", review: outcome([finding({}), finding({ startLine: 4, endLine: 4 })]) },
      { executor: "claude", review: outcome([finding({ title: "Unrelated: leaks fd", body: "close() is never called on fd.", path: "io.c", anchor: "" })]) },
    ]);
    expect(merged.findings).toHaveLength(2);
    expect(agents.get(merged.findings[0]!)).toEqual(["codex"]);
  });

  it("ranks a single review by priority, keeps its verdict, and handles none", () => {
    const only = outcome([finding({ priority: 2 }), finding({ title: "Other", body: "b", path: "x.c", priority: 0 })], { verdict: "patch is correct", explanation: "Fine.", confidence: 0.6 });
    const { outcome: merged, agents } = mergeReviews([{ executor: "claude", review: only }]);
    expect(merged).toEqual({ ...only, findings: [only.findings[1], only.findings[0]] });
    expect([...agents.values()]).toEqual([["claude"], ["claude"]]);
    expect(mergeReviews([]).outcome).toEqual({ findings: [], verdict: "patch is correct", explanation: "", confidence: 0 });
  });

  it("keeps the verdict 'correct' only when every agent says so", () => {
    const { outcome: merged } = mergeReviews([
      { executor: "codex", review: outcome([], { verdict: "patch is correct", confidence: 0.6, explanation: "ok" }) },
      { executor: "claude", review: outcome([], { verdict: "patch is correct", confidence: 0.8, explanation: "" }) },
    ]);
    expect(merged).toEqual({ findings: [], verdict: "patch is correct", explanation: "codex: ok", confidence: 0.8 });
  });
});
