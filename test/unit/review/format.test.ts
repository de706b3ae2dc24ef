import { describe, expect, it } from "vitest";
import { extractFingerprints, fingerprint } from "../../../src/review/fingerprint.js";
import {
  buildAnnotations,
  chunk,
  formatCheckOutput,
  formatDuration,
  formatInlineComment,
  formatProgress,
  formatReviewBody,
  nothingToReviewSummary,
  unparsedFileLabel,
  PRIORITY_LABEL,
  priorityBadge,
  type CheckOutputInput,
  type ReviewBodyInput,
} from "../../../src/review/format.js";
import type { Finding, InlinePlacement, OutsidePlacement, Priority, ReviewOutcome } from "../../../src/types.js";

const ZWSP = "\u200B";
const FP = "0123456789abcdef";
const SHA = "a".repeat(40);
const REPO = "https://github.com/octo/repo";

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    title: "Handle the empty list",
    body: "`items[0]` is read before the length check.",
    priority: 1,
    confidence: 0.8,
    path: "src/list.ts",
    startLine: 10,
    endLine: 10,
    anchor: "return items[0];",
    suggestion: null,
    ...overrides,
  };
}

function placement(overrides: Partial<InlinePlacement> = {}): InlinePlacement {
  const f = overrides.finding ?? finding();
  return { finding: f, path: f.path, line: f.endLine, startLine: null, suggestionApplies: false, adjusted: false, ...overrides };
}

function outcome(findings: Finding[], overrides: Partial<ReviewOutcome> = {}): ReviewOutcome {
  return { findings, verdict: "patch is incorrect", explanation: "One real bug.", confidence: 0.75, ...overrides };
}

function bodyInput(overrides: Partial<ReviewBodyInput> = {}): ReviewBodyInput {
  return {
    outcome: outcome([finding()]),
    mode: "review",
    inlineCount: 1,
    outside: [],
    duplicatesSkipped: 0,
    belowThreshold: 0,
    headSha: SHA,
    repoHtmlUrl: REPO,
    knownSecrets: [],
    ...overrides,
  };
}

function outsideOf(f: Finding, reason: OutsidePlacement["reason"] = "lines-not-in-diff") {
  return { placement: { finding: f, reason }, fingerprint: fingerprint(f) };
}

describe("priority badges", () => {
  it("match Codex cloud's shields.io badges", () => {
    expect(PRIORITY_LABEL).toEqual({ 0: "P0", 1: "P1", 2: "P2", 3: "P3" });
    expect(priorityBadge(1)).toBe("![P1 Badge](https://img.shields.io/badge/P1-orange?style=flat)");
    expect(priorityBadge(2)).toBe("![P2 Badge](https://img.shields.io/badge/P2-yellow?style=flat)");
    expect(priorityBadge(0)).toBe("![P0 Badge](https://img.shields.io/badge/P0-red?style=flat)");
    expect(priorityBadge(3)).toBe("![P3 Badge](https://img.shields.io/badge/P3-lightgrey?style=flat)");
  });
});

describe("formatInlineComment", () => {
  it("starts with badge and bold title, then the body, and ends with the fingerprint marker", () => {
    const out = formatInlineComment(placement(), { fingerprint: FP, knownSecrets: [] });
    const lines = out.split("\n");
    expect(lines[0]).toBe(
      "**<sub><sub>![P1 Badge](https://img.shields.io/badge/P1-orange?style=flat)</sub></sub>  Handle the empty list**",
    );
    expect(lines[1]).toBe("");
    expect(lines[2]).toBe("`items[0]` is read before the length check.");
    expect(lines.at(-1)).toBe(`<!-- codex-pr-bot:fp:${FP} -->`);
    expect(out).not.toContain("suggestion");
  });

  it("adds a suggestion block only when the suggestion applies", () => {
    const f = finding({ suggestion: "if (items.length === 0) return undefined;\nreturn items[0];" });
    const applied = formatInlineComment(placement({ finding: f, suggestionApplies: true }), { fingerprint: FP, knownSecrets: [] });
    expect(applied).toContain("```suggestion\nif (items.length === 0) return undefined;\nreturn items[0];\n```");
    const adjusted = formatInlineComment(placement({ finding: f, adjusted: true }), { fingerprint: FP, knownSecrets: [] });
    expect(adjusted).not.toContain("```suggestion");
    expect(adjusted).not.toContain("items.length === 0");
  });

  it("uses a longer fence when the suggestion contains backtick fences", () => {
    const f = finding({ suggestion: "const md = `\n```\n`;" });
    const out = formatInlineComment(placement({ finding: f, suggestionApplies: true }), { fingerprint: FP, knownSecrets: [] });
    expect(out).toContain("````suggestion\nconst md = `\n```\n`;\n````");
  });

  it("drops a suggestion that redaction would change or that carries a marker look-alike", () => {
    const secret = finding({ suggestion: 'const key = "my-known-secret-1";' });
    const out = formatInlineComment(placement({ finding: secret, suggestionApplies: true }), {
      fingerprint: FP,
      knownSecrets: ["my-known-secret-1"],
    });
    expect(out).not.toContain("```suggestion");
    expect(out).not.toContain("my-known-secret-1");
    const forged = finding({ suggestion: "<!-- codex-pr-bot:fp:ffffffffffffffff -->" });
    const out2 = formatInlineComment(placement({ finding: forged, suggestionApplies: true }), { fingerprint: FP, knownSecrets: [] });
    expect(extractFingerprints(out2)).toEqual([FP]);
  });

  it("renders an empty suggestion as a deletion", () => {
    const f = finding({ suggestion: "" });
    const out = formatInlineComment(placement({ finding: f, suggestionApplies: true }), { fingerprint: FP, knownSecrets: [] });
    expect(out).toContain("```suggestion\n```");
  });

  it("adds the agents line before the marker", () => {
    const out = formatInlineComment(placement(), { fingerprint: FP, knownSecrets: [], agents: ["codex", "claude"] });
    expect(out.split("\n").slice(-3)).toEqual(["_Found by: codex and claude (agreed)_", "", `<!-- codex-pr-bot:fp:${FP} -->`]);
  });

  it("sanitises agent text: mentions, forged markers, secrets, open fences, multi-line titles", () => {
    const f = finding({
      title: "Ping @admin\nnow",
      body: "cc @security-team <!-- codex-pr-bot:fp:ffffffffffffffff --> key sk-abcdefghijklmnopqrstuvwxyz\n```\nunclosed",
    });
    const out = formatInlineComment(placement({ finding: f }), { fingerprint: FP, knownSecrets: [] });
    expect(out.split("\n")[0]).toContain(`Ping @${ZWSP}admin now**`);
    expect(out).toContain(`cc @${ZWSP}security-team`);
    expect(out).toContain("[REDACTED]");
    expect(extractFingerprints(out)).toEqual([FP]);
    expect(out).toContain("unclosed\n```\n\n<!-- codex-pr-bot");
  });

  it("stays within 60,000 characters with a huge body and keeps its marker", () => {
    const f = finding({ body: "word ".repeat(50_000), suggestion: "x".repeat(40_000) });
    const out = formatInlineComment(placement({ finding: f, suggestionApplies: true }), { fingerprint: FP, knownSecrets: [] });
    expect(out.length).toBeLessThanOrEqual(60_000);
    expect(out).toContain("… (truncated)");
    // A 40k suggestion cannot be cut and would crowd out the explanation: it is dropped.
    expect(out).not.toContain("```suggestion");
    expect(out.endsWith(`<!-- codex-pr-bot:fp:${FP} -->`)).toBe(true);
  });
});

describe("formatReviewBody", () => {
  it("has a heading, the verdict with its explanation and counts by priority", () => {
    const out = formatReviewBody(
      bodyInput({ outcome: outcome([finding({ priority: 1 }), finding({ priority: 2 }), finding({ priority: 2 })]), inlineCount: 3 }),
    );
    expect(out.startsWith("## Codex review\n")).toBe(true);
    expect(out).toContain("**Verdict: Patch is incorrect** (confidence 75%)\n\nOne real bug.");
    expect(out).toContain("**3 findings** (1 P1, 2 P2): 3 as inline comments.");
    expect(out).toContain(`[\`${SHA.slice(0, 12)}\`](${REPO}/commit/${SHA})`);
    expect(out).not.toContain("outside the diff");
  });

  it("titles audits differently", () => {
    expect(formatReviewBody(bodyInput({ mode: "audit" }))).toMatch(/^## Codex security audit\n/);
  });

  it("says so briefly when there are no findings at all", () => {
    const out = formatReviewBody(bodyInput({ outcome: outcome([], { verdict: "patch is correct", explanation: "" }), inlineCount: 0 }));
    expect(out).toContain("**Verdict: Patch is correct**");
    expect(out).toContain("No issues found. 👍");
  });

  it("lists outside findings with badge, title, a blob link, the reason, details and a marker each", () => {
    const multi = finding({ title: "Broken loop", path: "src/ä dir/my file.ts", startLine: 40, endLine: 42, priority: 0 });
    const single = finding({ title: "Unused import", path: "lib/x.ts", startLine: 7, endLine: 7, priority: 3 });
    const deleted = finding({ title: "Still referenced", path: "old.ts", startLine: 1, endLine: 1, priority: 2 });
    const outside = [outsideOf(multi), outsideOf(single, "file-not-in-diff"), outsideOf(deleted, "file-deleted")];
    const out = formatReviewBody(bodyInput({ outside, inlineCount: 0, outcome: outcome([multi, single, deleted]) }));

    expect(out).toContain("### Findings outside the diff");
    expect(out).toContain("**3 findings** (1 P0, 1 P2, 1 P3): 0 as inline comments, 3 listed below (outside the diff).");
    expect(out).toContain(`**<sub><sub>${priorityBadge(0)}</sub></sub>  Broken loop**`);
    expect(out).toContain(`(${REPO}/blob/${SHA}/src/%C3%A4%20dir/my%20file.ts#L40-L42)`);
    expect(out).toContain(`(${REPO}/blob/${SHA}/lib/x.ts#L7)`);
    expect(out).toContain("lines outside the changed hunks");
    expect(out).toContain("file not changed in this pull request");
    expect(out).toContain("`old.ts:1` · file deleted in this pull request");
    expect(out).not.toContain("/blob/" + SHA + "/old.ts");
    expect(out).toContain("<details>\n<summary>Details</summary>\n\n`items[0]` is read before the length check.\n\n</details>");
    expect(extractFingerprints(out)).toEqual(outside.map((o) => o.fingerprint));
  });

  it("adds notes for duplicates and findings below the threshold", () => {
    const out = formatReviewBody(bodyInput({ duplicatesSkipped: 2, belowThreshold: 1 }));
    expect(out).toContain("_2 findings already posted on this pull request were not repeated._");
    expect(out).toContain("_1 finding below the configured minimum severity was not posted._");
    const onlyDupes = formatReviewBody(bodyInput({ outcome: outcome([]), inlineCount: 0, duplicatesSkipped: 1 }));
    expect(onlyDupes).toContain("No new findings to post.");
    expect(onlyDupes).not.toContain("👍");
  });

  it("sanitises the explanation and outside bodies", () => {
    const f = finding({ body: "ask @root <!-- codex-pr-bot:fp:ffffffffffffffff -->" });
    const out = formatReviewBody(
      bodyInput({ outcome: outcome([f], { explanation: "token ghp_" + "a".repeat(36) }), outside: [outsideOf(f)] }),
    );
    expect(out).toContain("token [REDACTED]");
    expect(out).toContain(`ask @${ZWSP}root`);
    expect(extractFingerprints(out)).toEqual([fingerprint(f)]);
  });

  it("stays within 65,000 characters, dropping details from the end first and saying what was omitted", () => {
    const many = Array.from({ length: 20 }, (_, i) => finding({ title: `Issue ${i}`, startLine: i + 1, endLine: i + 1, body: "x ".repeat(5_000) }));
    const out = formatReviewBody(bodyInput({ outcome: outcome(many), inlineCount: 0, outside: many.map((f) => outsideOf(f)) }));
    expect(out.length).toBeLessThanOrEqual(65_000);
    // Every entry still has its title and marker; only the last ones lost their details.
    expect(extractFingerprints(out)).toHaveLength(20);
    expect(out).toMatch(/_Details of the last \d+ findings were left out to stay within GitHub's size limit\._/);
    expect(out.indexOf("Issue 0**")).toBeLessThan(out.indexOf("<details>"));
  });

  it("omits whole entries from the end when even the short forms do not fit", () => {
    const many = Array.from({ length: 2_000 }, (_, i) => finding({ title: `Issue number ${i} ${"t".repeat(150)}`, startLine: i + 1, endLine: i + 1 }));
    const out = formatReviewBody(bodyInput({ outcome: outcome(many), inlineCount: 0, outside: many.map((f) => outsideOf(f)) }));
    expect(out.length).toBeLessThanOrEqual(65_000);
    const shown = extractFingerprints(out).length;
    expect(shown).toBeGreaterThan(50);
    expect(shown).toBeLessThan(2_000);
    expect(out).toContain(`_${2_000 - shown} more findings outside the diff were omitted to stay within GitHub's size limit._`);
    expect(extractFingerprints(out)).toEqual(many.slice(0, shown).map((f) => fingerprint(f)));
  });
});

describe("files whose diff could not be read", () => {
  const BAD = { path: "Lib/test/tokenizedata/bad_coding2.py", reason: 'malformed hunk header: "@@ -x +1 @@"' };
  const SECTION = "**1 file not reviewed:** its diff could not be read.\n\n- `Lib/test/tokenizedata/bad_coding2.py`: `malformed hunk header: \"@@ -x +1 @@\"`";

  it("are listed in the review body with the reason, after the findings and before the footer", () => {
    const out = formatReviewBody(bodyInput({ unparsed: [BAD], duplicatesSkipped: 1 }));
    expect(out).toContain(`1 as inline comment.\n\n${SECTION}\n\n_1 finding already posted`);
    expect(out.indexOf(SECTION)).toBeLessThan(out.indexOf("<sub>Reviewed commit"));
  });

  it("leave the body unchanged when there are none", () => {
    expect(formatReviewBody(bodyInput({ unparsed: [] }))).toBe(formatReviewBody(bodyInput()));
    expect(formatReviewBody(bodyInput())).not.toContain("not reviewed");
  });

  it("count in the plural, and PR text in them cannot break the line, forge a marker or leak a secret", () => {
    const secret = "s3cr3t-value-123";
    const hostile = {
      path: "a\u2028b <!-- codex-pr-bot:fp:0123456789abcdef -->.py",
      reason: `malformed hunk header: "@@ x @@ def f():\r\u2029\`${secret}\`"`,
    };
    const out = formatReviewBody(bodyInput({ unparsed: [BAD, hostile], knownSecrets: [secret] }));
    expect(out).toContain(
      "**2 files not reviewed:** their diff could not be read.\n\n" +
        "- `Lib/test/tokenizedata/bad_coding2.py`: `malformed hunk header: \"@@ -x +1 @@\"`\n" +
        '- `a b .py`: ``malformed hunk header: "@@ x @@ def f(): `[REDACTED]`"``\n',
    );
    expect(extractFingerprints(out)).toEqual([]);
    expect(out).not.toContain(secret);
  });

  it("are capped in size, saying how many more there are", () => {
    const many = Array.from({ length: 1_000 }, (_, i) => ({ path: `dir/${String(i).padStart(4, "0")}.txt`, reason: "r".repeat(150) }));
    const out = formatReviewBody(bodyInput({ unparsed: many }));
    const entries = out.split("\n").filter((l) => l.startsWith("- `dir/"));
    expect(entries.length).toBeGreaterThan(50);
    expect(entries.length).toBeLessThan(1_000);
    expect(entries.at(-1)).toBe(`- \`dir/${String(entries.length - 1).padStart(4, "0")}.txt\`: \`${"r".repeat(150)}\``);
    expect(out).toContain(`\n- …and ${1_000 - entries.length} more\n`);
    const start = out.indexOf("**1000 files not reviewed:**");
    expect(out.indexOf("\n\n<sub>Reviewed commit") - start).toBeLessThanOrEqual(10_000 + 40);
  });

  it("are labelled for the check run's skipped list with the reason, on one line and redacted", () => {
    expect(unparsedFileLabel(BAD, [])).toBe('Lib/test/tokenizedata/bad_coding2.py (its diff could not be read: malformed hunk header: "@@ -x +1 @@")');
    expect(unparsedFileLabel({ path: "x\ry.py", reason: "bad\u2028line tok-12345678" }, ["tok-12345678"])).toBe(
      "x y.py (its diff could not be read: bad line [REDACTED])",
    );
    const summary = formatCheckOutput({
      outcome: outcome([]),
      mode: "review",
      durationMs: 1_000,
      model: null,
      usage: null,
      inlineCount: 0,
      outsideCount: 0,
      duplicatesSkipped: 0,
      filesReviewed: 2,
      filesSkipped: [unparsedFileLabel(BAD, [])],
    }).summary;
    expect(summary).toContain('**Skipped files (1)**\n\n- `Lib/test/tokenizedata/bad_coding2.py (its diff could not be read: malformed hunk header: "@@ -x +1 @@")`');
  });

  it("are named in the check run when nothing else is left to review", () => {
    expect(nothingToReviewSummary([], [BAD], [])).toBe(SECTION);
    expect(nothingToReviewSummary(["dist/app.js"], [BAD], [])).toBe(`${SECTION}\n\nThe other changed files are excluded by the path filters.\n\n- \`dist/app.js\``);
    expect(nothingToReviewSummary(["dist/app.js"], [], [])).toBe("Every changed file is excluded by the path filters.\n\n- `dist/app.js`");
  });
});

describe("formatCheckOutput", () => {
  function checkInput(overrides: Partial<CheckOutputInput> = {}): CheckOutputInput {
    return {
      outcome: outcome([finding({ priority: 1 }), finding({ priority: 2 })]),
      mode: "review",
      durationMs: 65_000,
      model: "gpt-5.1-codex",
      usage: { inputTokens: 123_456, cachedInputTokens: 100_000, outputTokens: 2_345, reasoningOutputTokens: 1_200 },
      inlineCount: 1,
      outsideCount: 1,
      duplicatesSkipped: 0,
      filesReviewed: 7,
      filesSkipped: [],
      ...overrides,
    };
  }

  it("titles by count and priority", () => {
    expect(formatCheckOutput(checkInput()).title).toBe("2 findings (1 P1, 1 P2)");
    expect(formatCheckOutput(checkInput({ outcome: outcome([finding({ priority: 0 })]) })).title).toBe("1 finding (1 P0)");
    expect(formatCheckOutput(checkInput({ outcome: outcome([]) })).title).toBe("No findings");
    expect(formatCheckOutput(checkInput({ outcome: null })).title).toBe("Done");
  });

  it("uses the error as the title, on one line", () => {
    const out = formatCheckOutput(checkInput({ outcome: null, error: "Codex timed out\nafter 20m" }));
    expect(out.title).toBe("Codex timed out after 20m");
    expect(out.summary).toContain("**Error:** Codex timed out\nafter 20m");
  });

  it("has a severity table, duration, model, usage and counts", () => {
    const { summary } = formatCheckOutput(checkInput());
    for (const [p, n] of [[0, 0], [1, 1], [2, 1], [3, 0]] as [Priority, number][]) {
      expect(summary).toContain(`| ${priorityBadge(p)} | ${n} |`);
    }
    expect(summary).toContain("| **Total** | 2 |");
    expect(summary).toContain("| Duration | 1m 05s |");
    expect(summary).toContain("| Model | `gpt-5.1-codex` |");
    expect(summary).toContain("| Tokens | 123,456 input (100,000 cached) · 2,345 output (1,200 reasoning) |");
    expect(summary).toContain("| Files reviewed | 7 |");
    expect(summary).toContain("Inline comments: 1 · In the review body: 1 · Already posted (skipped): 0");
  });

  it("lists a few skipped files openly and collapses a long list", () => {
    const few = formatCheckOutput(checkInput({ filesSkipped: ["package-lock.json", "dist/a.js"] })).summary;
    expect(few).toContain("**Skipped files (2)**\n\n- `package-lock.json`\n- `dist/a.js`");
    const long = formatCheckOutput(checkInput({ filesSkipped: Array.from({ length: 30 }, (_, i) => `gen/${i}.ts`) })).summary;
    expect(long).toContain("<details>\n<summary>Skipped files (30)</summary>");
  });

  it("stays within 65,535 characters", () => {
    const files = Array.from({ length: 100_000 }, (_, i) => `very/long/path/to/generated/file/number/${i}.ts`);
    const { summary } = formatCheckOutput(checkInput({ filesSkipped: files, error: "e".repeat(100_000) }));
    expect(summary.length).toBeLessThanOrEqual(65_535);
    expect(summary).toContain("…and 99700 more");
  });
});

describe("buildAnnotations and chunk", () => {
  it("maps priorities to levels and keeps the line range", () => {
    const out = buildAnnotations([
      finding({ priority: 0, startLine: 3, endLine: 5 }),
      finding({ priority: 1 }),
      finding({ priority: 2, startLine: 9, endLine: 2 }),
      finding({ priority: 3, title: "Nit" }),
    ]);
    expect(out.map((a) => a.annotation_level)).toEqual(["failure", "failure", "warning", "notice"]);
    expect(out[0]).toEqual({
      path: "src/list.ts",
      start_line: 3,
      end_line: 5,
      annotation_level: "failure",
      title: "[P0] Handle the empty list",
      message: "`items[0]` is read before the length check.",
    });
    expect([out[2]?.start_line, out[2]?.end_line]).toEqual([2, 9]);
    expect(out[3]?.title).toBe("[P3] Nit");
  });

  it("caps the message at 64 KB in bytes and redacts secrets", () => {
    const [big] = buildAnnotations([finding({ body: "é".repeat(100_000) })]);
    expect(Buffer.byteLength(big?.message ?? "", "utf8")).toBeLessThanOrEqual(64 * 1024);
    expect(big?.message).not.toContain("\uFFFD");
    const [secret] = buildAnnotations([finding({ body: "uses hunter2-but-longer" })], ["hunter2-but-longer"]);
    expect(secret?.message).toBe("uses [REDACTED]");
  });

  it("chunks into groups of at most the given size", () => {
    const items = Array.from({ length: 120 }, (_, i) => i);
    expect(chunk(items, 50).map((c) => c.length)).toEqual([50, 50, 20]);
    expect(chunk(items, 50).flat()).toEqual(items);
    expect(chunk([], 50)).toEqual([]);
    expect(() => chunk(items, 0)).toThrow(RangeError);
  });
});

describe("formatProgress", () => {
  it("shows the plan as a checklist, the running command, counts and elapsed time", () => {
    const out = formatProgress(
      {
        plan: [
          { text: "Read the diff", completed: true },
          { text: "Run the tests", completed: false },
        ],
        currentCommand: "npm test -- --run",
        commandsCompleted: 4,
        lastNote: "Looking at @src/index.ts",
      },
      80_000,
      "review",
    );
    expect(out.title).toBe("Codex is reviewing… (1m 20s)");
    expect(out.summary).toContain("- [x] Read the diff\n- [ ] Run the tests");
    expect(out.summary).toContain("Running now: `npm test -- --run`");
    expect(out.summary).toContain("Commands completed: 4 · Elapsed: 1m 20s");
    expect(out.summary).toContain(`@${ZWSP}src/index.ts`);
  });

  it("truncates long commands to 200 characters in a code span their backticks cannot break", () => {
    const cmd = "echo `whoami` " + "x".repeat(500);
    const out = formatProgress({ plan: [], currentCommand: cmd, commandsCompleted: 0, lastNote: null }, 1_000, "audit");
    const span = /Running now: (``.*``)/.exec(out.summary)?.[1] ?? "";
    expect(span.startsWith("``echo `whoami` xxx")).toBe(true);
    expect(span.endsWith("x…``")).toBe(true);
    expect(span.length).toBe(200 + 4);
    expect(out.title).toBe("Codex is auditing… (1s)");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [45_000, "45s"],
    [65_000, "1m 05s"],
    [3_723_000, "1h 02m 03s"],
    [-5, "0s"],
    [Number.NaN, "0s"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
