import { describe, expect, it } from "vitest";
import { ExecutorError } from "../../../src/errors.js";
import { normalisePath, parseReviewOutput, reviewJsonSchema } from "../../../src/executors/findings.js";

const WORKTREE = "/srv/app/.data/worktrees/job-1";

function finding(overrides: Record<string, unknown> = {}, location: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: "[P1] Null check missing",
    body: "`user` may be undefined here.",
    priority: 1,
    confidence_score: 0.8,
    code_location: { file_path: "src/a.ts", line_range: { start: 3, end: 4 }, ...location },
    anchor_code: "return user.name;",
    suggestion: "return user?.name;",
    ...overrides,
  };
}

function review(findings: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    findings,
    overall_correctness: "patch is incorrect",
    overall_explanation: "One crash.",
    overall_confidence_score: 0.7,
    ...extra,
  });
}

function invalid(text: string): ExecutorError {
  try {
    parseReviewOutput(text, WORKTREE);
  } catch (err) {
    expect(err).toBeInstanceOf(ExecutorError);
    expect((err as ExecutorError).kind).toBe("invalid-output");
    return err as ExecutorError;
  }
  throw new Error("expected parseReviewOutput to throw");
}

describe("reviewJsonSchema", () => {
  it("satisfies OpenAI strict mode: closed objects, everything required, nullable instead of optional", () => {
    const schema = reviewJsonSchema();
    const objects: Record<string, unknown>[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (typeof node !== "object" || node === null) return;
      const record = node as Record<string, unknown>;
      if (record.type === "object") objects.push(record);
      for (const [key, value] of Object.entries(record)) {
        expect(["default", "$schema", "maxLength", "minLength", "pattern", "format"]).not.toContain(key);
        walk(value);
      }
    };
    walk(schema);
    expect(objects).toHaveLength(4); // root, finding, code_location, line_range
    for (const object of objects) {
      expect(object.additionalProperties).toBe(false);
      expect([...(object.required as string[])].sort()).toEqual(Object.keys(object.properties as object).sort());
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking a JSON document
    const properties = schema.properties as Record<string, any>;
    const item = properties.findings.items;
    expect(item.properties.suggestion.type).toEqual(["string", "null"]);
    expect(item.properties.priority).toMatchObject({ type: "integer", minimum: 0, maximum: 3 });
    expect(item.properties.code_location.properties.line_range.properties.start).toEqual({
      type: "integer",
      minimum: 1,
      description: expect.any(String),
    });
    expect(properties.overall_correctness.enum).toEqual(["patch is correct", "patch is incorrect"]);
    expect(properties.fixed_findings).toMatchObject({ type: "array", items: { type: "string" } });
  });

  it("leaves fixed_findings optional for an agent that validates its own answer, and only that key", () => {
    const strict = reviewJsonSchema();
    const validated = reviewJsonSchema({ validated: true });
    expect(strict.required).toContain("fixed_findings");
    expect(validated.required).toEqual((strict.required as string[]).filter((k) => k !== "fixed_findings"));
    expect(validated.properties).toEqual(strict.properties);
  });
});

describe("fixed_findings", () => {
  it("is optional on the way back: a review without it fixes nothing", () => {
    expect(parseReviewOutput(review([]), WORKTREE).review.fixed).toBeUndefined();
  });

  it("carries the ids the agent reported, trimmed, without repeats or blanks", () => {
    const { review: outcome } = parseReviewOutput(review([], { fixed_findings: [" F1", "F1", "", "F3"] }), WORKTREE);
    expect(outcome.fixed).toEqual(["F1", "F3"]);
  });

  it("refuses a wrong type like any other field", () => {
    expect(invalid(review([], { fixed_findings: "F1" })).message).toMatch(/fixed_findings/);
  });
});

describe("parseReviewOutput", () => {
  it("converts findings to domain shape", () => {
    const { review: outcome, dropped } = parseReviewOutput(review([finding()]), WORKTREE);
    expect(dropped).toEqual([]);
    expect(outcome).toEqual({
      verdict: "patch is incorrect",
      explanation: "One crash.",
      confidence: 0.7,
      findings: [
        {
          title: "Null check missing",
          body: "`user` may be undefined here.",
          priority: 1,
          confidence: 0.8,
          path: "src/a.ts",
          startLine: 3,
          endLine: 4,
          anchor: "return user.name;",
          suggestion: "return user?.name;",
        },
      ],
    });
  });

  it("accepts an empty review", () => {
    const { review: outcome } = parseReviewOutput(review([], { overall_correctness: "patch is correct" }), WORKTREE);
    expect(outcome.findings).toEqual([]);
    expect(outcome.verdict).toBe("patch is correct");
  });

  it("tolerates a ```json fence and surrounding whitespace", () => {
    const text = "\n```json\n" + review([finding()]) + "\n```\n";
    expect(parseReviewOutput(text, WORKTREE).review.findings).toHaveLength(1);
  });

  it("swaps a reversed line range and keeps null suggestions", () => {
    const { review: outcome } = parseReviewOutput(review([finding({ suggestion: null }, { line_range: { start: 9, end: 5 } })]), WORKTREE);
    expect(outcome.findings[0]).toMatchObject({ startLine: 5, endLine: 9, suggestion: null });
  });

  it("strips only a leading priority tag and shortens overlong titles", () => {
    const long = "x".repeat(300);
    const { review: outcome } = parseReviewOutput(
      review([finding({ title: "[P0]   Keep [P1] inside" }), finding({ title: long }), finding({ title: "[P2] ", body: "First line\nmore" })]),
      WORKTREE,
    );
    expect(outcome.findings.map((f) => f.title)).toEqual(["Keep [P1] inside", `${"x".repeat(119)}…`, "First line"]);
  });

  it("makes absolute paths inside the worktree relative and drops the ones that escape", () => {
    const { review: outcome, dropped } = parseReviewOutput(
      review([
        finding({ title: "abs" }, { file_path: `${WORKTREE}/src/deep/../b.ts` }),
        finding({ title: "outside" }, { file_path: "/etc/passwd" }),
        finding({ title: "sibling" }, { file_path: `${WORKTREE}-evil/x.ts` }),
        finding({ title: "dotdot" }, { file_path: "../other/x.ts" }),
        finding({ title: "empty" }, { file_path: "  " }),
      ]),
      WORKTREE,
    );
    expect(outcome.findings.map((f) => [f.title, f.path])).toEqual([["abs", "src/b.ts"]]);
    expect(dropped.map((d) => d.title)).toEqual(["outside", "sibling", "dotdot", "empty"]);
    expect(dropped[0]!.reason).toMatch(/outside the repository/);
    expect(dropped[3]!.reason).toMatch(/no file path/);
  });

  it("rejects a message that is not JSON, quoting its start", () => {
    const err = invalid(`I looked at the code and ${"it is fine ".repeat(40)}`);
    expect(err.message).toMatch(/^the agent's final message was not JSON: I looked at the code/);
    expect(err.message.length).toBeLessThan(260);
  });

  it("rejects an empty message", () => {
    expect(invalid("   ").message).toBe("the agent's final message was empty");
  });

  it("rejects JSON that does not match the schema, naming the problem", () => {
    const err = invalid(review([finding({ priority: 7 })], { overall_correctness: "looks good" }));
    expect(err.message).toMatch(/did not match the review format/);
    expect(err.message).toMatch(/overall_correctness/);
    expect(err.message).toMatch(/findings\[0\]\.priority|priority/);
  });

  it("rejects line numbers below 1", () => {
    invalid(review([finding({}, { line_range: { start: 0, end: 2 } })]));
  });
});

describe("normalisePath", () => {
  it.each([
    ["src/a.ts", "src/a.ts"],
    ["./src//a.ts", "src/a.ts"],
    ["src\\win\\a.ts", "src/win/a.ts"],
    [`${WORKTREE}/README.md`, "README.md"],
    [`${WORKTREE}/`, null],
    [WORKTREE, null],
    ["a/../../b", null],
    [".git/config", null],
    [".", null],
  ])("%s → %s", (input, expected) => {
    const result = normalisePath(input, WORKTREE);
    if (expected === null) expect(result).toHaveProperty("reason");
    else expect(result).toEqual({ path: expected });
  });
});
