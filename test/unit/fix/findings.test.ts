import { describe, expect, it } from "vitest";
import { MAX_TARGETS, openTargets, targetFromComment, targetFromFinding, targetsFromReviewBody } from "../../../src/fix/findings.js";
import { fingerprint } from "../../../src/review/fingerprint.js";
import { formatInlineComment, formatReviewBody } from "../../../src/review/format.js";
import type { Finding } from "../../../src/types.js";

const HEAD = "b".repeat(40);
const BOT = { type: "Bot" };

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    title: "Guard against division by zero",
    body: "`divide(1, 0)` returns `Infinity`.",
    priority: 1,
    confidence: 0.9,
    path: "src/math.js",
    startLine: 6,
    endLine: 6,
    anchor: "  return a / b;",
    suggestion: '  if (b === 0) throw new RangeError("x");\n  return a / b;',
    ...overrides,
  };
}

/** What the review flow posts for `f` inline, as the API lists it. */
function inlineComment(f: Finding, extra: Record<string, unknown> = {}) {
  const body = formatInlineComment(
    { finding: f, path: f.path, line: f.endLine, startLine: f.startLine === f.endLine ? null : f.startLine, suggestionApplies: true, adjusted: false },
    { fingerprint: fingerprint(f), knownSecrets: [] },
  );
  return { body, path: f.path, line: f.endLine, start_line: f.startLine === f.endLine ? null : f.startLine, html_url: "https://x/c1", user: BOT, ...extra };
}

describe("targetFromComment (round trip with the review formatter)", () => {
  it("reads the title, priority, location, explanation and fingerprint back", () => {
    const f = finding();
    const t = targetFromComment(inlineComment(f));
    expect(t).toEqual({
      title: "Guard against division by zero",
      priority: 1,
      path: "src/math.js",
      startLine: 6,
      endLine: 6,
      body: expect.stringContaining("`divide(1, 0)` returns `Infinity`."),
      url: "https://x/c1",
      fingerprint: fingerprint(f),
    });
    // The suggestion stays (it helps the fixer); the marker does not.
    expect(t!.body).toContain("```suggestion");
    expect(t!.body).not.toContain("codex-pr-bot:fp");
  });

  it("ignores humans and comments without a marker", () => {
    expect(targetFromComment({ ...inlineComment(finding()), user: { type: "User" } })).toBeNull();
    expect(targetFromComment({ body: "LGTM", path: "a", line: 1, html_url: "u", user: BOT })).toBeNull();
  });
});

describe("targetsFromReviewBody", () => {
  it("reads the findings listed outside the diff", () => {
    const outside = finding({ title: "Config default looks wrong", priority: 2, path: "README.md", startLine: 1, endLine: 3, body: "Old default.", anchor: "# demo" });
    const body = formatReviewBody({
      outcome: { findings: [outside], verdict: "patch is incorrect", explanation: "x", confidence: 0.5 },
      mode: "review",
      inlineCount: 0,
      outside: [{ placement: { finding: outside, reason: "file-not-in-diff" }, fingerprint: fingerprint(outside) }],
      duplicatesSkipped: 0,
      belowThreshold: 0,
      headSha: HEAD,
      repoHtmlUrl: "https://github.com/octo/demo",
      knownSecrets: [],
    });
    expect(targetsFromReviewBody(body, "https://x/review")).toEqual([
      {
        title: "Config default looks wrong",
        priority: 2,
        path: "README.md",
        startLine: 1,
        endLine: 3,
        body: "Old default.",
        url: "https://x/review",
        fingerprint: fingerprint(outside),
      },
    ]);
    expect(targetsFromReviewBody("## Codex review\n\nNo issues found.", "u")).toEqual([]);
  });
});

describe("openTargets", () => {
  it("keeps current root comments by bots, once each, most severe first", () => {
    const p1 = finding();
    const p0 = finding({ title: "SQL injection", priority: 0, anchor: "query(x)", path: "src/db.js" });
    const comments = [
      inlineComment(p1),
      inlineComment(p1, { html_url: "https://x/dup" }), // the same finding posted twice
      inlineComment(p0),
      inlineComment(finding({ title: "Outdated one", anchor: "old" }), { line: null }),
      inlineComment(finding({ title: "A reply", anchor: "r" }), { in_reply_to_id: 1 }),
    ];
    const targets = openTargets(comments, [{ body: null, html_url: "r", user: BOT }]);
    expect(targets.map((t) => t.title)).toEqual(["SQL injection", "Guard against division by zero"]);
    expect(targets[1]!.url).toBe("https://x/c1");
  });

  it("caps how many findings one fix takes on", () => {
    const comments = Array.from({ length: MAX_TARGETS + 5 }, (_, i) => inlineComment(finding({ title: `Finding ${i}`, anchor: `a${i}` })));
    expect(openTargets(comments, [])).toHaveLength(MAX_TARGETS);
  });
});

describe("targetFromFinding", () => {
  it("carries the suggestion into the explanation", () => {
    const t = targetFromFinding(finding({ startLine: 7, endLine: 5 }));
    expect(t).toMatchObject({ startLine: 5, endLine: 7, url: null, priority: 1 });
    expect(t.body).toContain("Suggested replacement for those lines:\n\n```\n  if (b === 0)");
    expect(targetFromFinding(finding({ suggestion: null })).body).toBe("`divide(1, 0)` returns `Infinity`.");
  });
});
