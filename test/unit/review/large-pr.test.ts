import { describe, expect, it } from "vitest";
import { CheckRun, type Annotation } from "../../../src/github/checks.js";
import type { Octokit } from "../../../src/github/client.js";
import { composeReview } from "../../../src/review/compose.js";
import { parseDiff } from "../../../src/review/diff.js";
import { buildAnnotations, formatCheckOutput } from "../../../src/review/format.js";
import type { Finding, Priority } from "../../../src/types.js";

/**
 * A very large pull request: 3,000 files and 100,000 changed lines, with a finding on every file,
 * long agent text and awkward characters. What the bot sends GitHub must stay inside its limits, or
 * the whole request fails: a review body and each comment <= 65,535 characters, a check run's
 * summary and text <= 65,535, at most 50 annotations per request (the rest follow in more requests).
 */

const GITHUB_TEXT_LIMIT = 65_535;
const FILES = 3_000;
const LINES = 100_000;

function largeDiff(): string {
  const out: string[] = [];
  for (let k = 0; k < FILES; k++) {
    // 3,000 files share 100,000 added lines: 1,000 files of 34 lines and 2,000 of 33.
    const n = k < LINES - 33 * FILES ? 34 : 33;
    const path = `packages/p${k % 40}/src/deeply/nested/module-${String(k).padStart(4, "0")}.ts`;
    out.push(`diff --git a/${path} b/${path}`, "new file mode 100644", "index 0000000..1111111", "--- /dev/null", `+++ b/${path}`);
    out.push(`@@ -0,0 +1,${n} @@`);
    for (let i = 1; i <= n; i++) out.push(`+export const v${i} = "${"é|`*".repeat(8)}";`);
  }
  return `${out.join("\n")}\n`;
}

function finding(path: string, line: number, i: number): Finding {
  return {
    title: `Finding ${i}: ${"a long title with | pipes and `ticks` ".repeat(6)}`,
    body: `${"Explanation with **markdown**, <b>html</b>, @someone and a | pipe. ".repeat(60)}\n\n\`\`\`ts\ncode()\n\`\`\``,
    priority: (i % 4) as Priority,
    confidence: 0.9,
    path,
    startLine: line,
    endLine: line + 1,
    anchor: "export const",
    suggestion: null,
  };
}

describe("a pull request of 3,000 files and 100,000 changed lines", () => {
  const diff = largeDiff();
  const parsed = parseDiff(diff);
  const paths = parsed.files.map((f) => f.path);
  // One finding per file on a changed line, and as many again on lines outside the diff.
  const findings = [
    ...paths.map((p, i) => finding(p, 2, i)),
    ...paths.map((p, i) => finding(p, 5_000 + i, FILES + i)),
  ];
  const outcome = { findings, verdict: "patch is incorrect" as const, explanation: "x".repeat(20_000), confidence: 0.8 };

  it("parses every file and line", () => {
    expect(parsed.files).toHaveLength(FILES);
    expect(parsed.unparsed).toEqual([]);
    expect(diff.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++")).length).toBe(LINES);
  });

  it("composes a review whose body, fallback body and comments are within GitHub's limits", () => {
    const review = composeReview({
      outcome,
      mode: "review",
      files: parsed.files,
      unparsed: [],
      alreadyPosted: new Set(),
      maxInline: 50,
      belowThreshold: 0,
      headSha: "a".repeat(40),
      repoHtmlUrl: "https://github.com/o/r",
      knownSecrets: [],
      bodyNote: "\n\n> note",
      notes: "\n\n> another note",
    });
    expect(review.comments).toHaveLength(50);
    expect(review.placement.outside.length).toBe(2 * FILES - 50);
    expect(review.body.length).toBeLessThanOrEqual(GITHUB_TEXT_LIMIT);
    // It says how many it could not list rather than ending mid-sentence.
    expect(review.body).toMatch(/more/);
    expect(review.fallbackBody().length).toBeLessThanOrEqual(GITHUB_TEXT_LIMIT);
    for (const c of review.comments) expect(c.body.length).toBeLessThanOrEqual(GITHUB_TEXT_LIMIT);
  });

  it("completes the check run within the output limits, its annotations 50 per request and none lost", async () => {
    const output = formatCheckOutput({
      outcome,
      mode: "review",
      durationMs: 600_000,
      model: "gpt-5",
      usage: { inputTokens: 2_000_000, cachedInputTokens: 1_000_000, outputTokens: 50_000, reasoningOutputTokens: 20_000 },
      inlineCount: 50,
      outsideCount: 2 * FILES - 50,
      duplicatesSkipped: 0,
      filesReviewed: 300,
      filesSkipped: paths.slice(300),
    });
    const annotations = buildAnnotations(findings);
    expect(annotations).toHaveLength(2 * FILES);

    const requests: { annotations: Annotation[]; summary: string; title: string; text?: string }[] = [];
    const octokit = {
      rest: {
        checks: {
          create: async () => ({ data: { id: 1, html_url: "https://github.com/o/r/runs/1" } }),
          update: async (params: { output: { title: string; summary: string; text?: string; annotations?: Annotation[] } }) => {
            requests.push({ ...params.output, annotations: params.output.annotations ?? [] });
            return { data: {} };
          },
        },
      },
    } as unknown as Octokit;
    const run = await CheckRun.start(octokit, { owner: "o", repo: "r" }, { name: "codex", headSha: "a".repeat(40), title: "Reviewing", summary: "…" });
    await run.complete({ conclusion: "failure", title: output.title, summary: output.summary, annotations });

    expect(requests).toHaveLength(Math.ceil((2 * FILES) / 50));
    for (const r of requests) {
      expect(r.annotations.length).toBeLessThanOrEqual(50);
      expect(r.summary.length).toBeLessThanOrEqual(GITHUB_TEXT_LIMIT);
      expect((r.text ?? "").length).toBeLessThanOrEqual(GITHUB_TEXT_LIMIT);
      expect(r.title.length).toBeLessThanOrEqual(255);
    }
    expect(requests.flatMap((r) => r.annotations)).toEqual(annotations);
    for (const a of annotations) {
      expect(a.title.length).toBeLessThanOrEqual(255);
      expect(Buffer.byteLength(a.message)).toBeLessThanOrEqual(64 * 1024);
    }
  });
});
