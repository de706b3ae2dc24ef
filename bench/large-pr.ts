import type { Annotation } from "../src/github/checks.js";
import { CheckRun } from "../src/github/checks.js";
import type { Octokit } from "../src/github/client.js";
import { composeReview } from "../src/review/compose.js";
import { parseDiff } from "../src/review/diff.js";
import { buildAnnotations, formatCheckOutput } from "../src/review/format.js";
import type { Finding, Priority } from "../src/types.js";
import { envInt, isEntry, round, runBench, summarize, type Row } from "./lib/common.js";

/**
 * Figure 5: a very large pull request (FILES files, LINES changed lines, a finding on every file and
 * as many outside the diff). What the bot does with it after the agent: parse the diff, place the
 * findings, compose the review, the check-run output and its annotations. Measured: the time each
 * takes (against parsing alone, the floor any reviewer of this diff pays) and whether every text is
 * within GitHub's 65,535 characters and every request within 50 annotations. Not measured here: the
 * time from delivery to the agent's start on a warm mirror (bench/checkout.ts covers checkouts).
 */

const FILES = envInt("BENCH_LARGE_PR_FILES", 3_000, 3_000);
const LINES = envInt("BENCH_LARGE_PR_LINES", 100_000, 100_000);
const REPEAT = envInt("BENCH_LARGE_PR_REPEAT", 5, 2);
const LIMIT = 65_535;

function largeDiff(): string {
  const out: string[] = [];
  const base = Math.floor(LINES / FILES);
  const extra = LINES - base * FILES;
  for (let k = 0; k < FILES; k++) {
    const n = base + (k < extra ? 1 : 0);
    const path = `packages/p${k % 40}/src/module-${String(k).padStart(4, "0")}.ts`;
    out.push(`diff --git a/${path} b/${path}`, "new file mode 100644", "index 0000000..1111111", "--- /dev/null", `+++ b/${path}`, `@@ -0,0 +1,${n} @@`);
    for (let i = 1; i <= n; i++) out.push(`+export const v${i} = "${"é|`*".repeat(8)}";`);
  }
  return `${out.join("\n")}\n`;
}

function finding(path: string, line: number, i: number): Finding {
  return {
    title: `Finding ${i}: a long title with | pipes and \`ticks\``,
    body: "Explanation with **markdown**, <b>html</b>, @someone and a | pipe. ".repeat(30),
    priority: (i % 4) as Priority,
    confidence: 0.9,
    path,
    startLine: line,
    endLine: line + 1,
    anchor: "export const",
    suggestion: null,
  };
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = fn();
  return { ms: performance.now() - t, value };
}

export async function main(): Promise<void> {
  await runBench("large-pr", "5. Very large pull requests", async () => {
    const diff = largeDiff();
    const parseMs: number[] = [];
    const composeMs: number[] = [];
    const checkMs: number[] = [];
    let body = "";
    let fallback = "";
    let summary = "";
    let requests: { annotations: number; summary: number }[] = [];
    let annotationsTotal = 0;
    for (let r = 0; r < REPEAT; r++) {
      const parsed = time(() => parseDiff(diff));
      parseMs.push(parsed.ms);
      const files = parsed.value.files;
      const findings = [...files.map((f, i) => finding(f.path, 2, i)), ...files.map((f, i) => finding(f.path, 5_000 + i, FILES + i))];
      const outcome = { findings, verdict: "patch is incorrect" as const, explanation: "x".repeat(20_000), confidence: 0.8 };
      const composed = time(() =>
        composeReview({
          outcome,
          mode: "review",
          files,
          unparsed: parsed.value.unparsed,
          alreadyPosted: new Set(),
          maxInline: 50,
          belowThreshold: 0,
          headSha: "a".repeat(40),
          repoHtmlUrl: "https://github.com/o/r",
          knownSecrets: [],
        }),
      );
      composeMs.push(composed.ms);
      body = composed.value.body;
      fallback = composed.value.fallbackBody();
      const sent: { annotations: number; summary: number }[] = [];
      const octokit = {
        rest: {
          checks: {
            create: async () => ({ data: { id: 1, html_url: "" } }),
            update: async (p: { output: { summary: string; annotations?: Annotation[] } }) => {
              sent.push({ annotations: p.output.annotations?.length ?? 0, summary: p.output.summary.length });
              return { data: {} };
            },
          },
        },
      } as unknown as Octokit;
      const t = performance.now();
      const output = formatCheckOutput({
        outcome,
        mode: "review",
        durationMs: 1,
        model: null,
        usage: null,
        inlineCount: composed.value.comments.length,
        outsideCount: composed.value.placement.outside.length,
        duplicatesSkipped: 0,
        filesReviewed: files.length,
        filesSkipped: [],
      });
      const annotations = buildAnnotations(findings);
      const run = await CheckRun.start(octokit, { owner: "o", repo: "r" }, { name: "codex", headSha: "a".repeat(40), title: "t", summary: "s" });
      await run.complete({ conclusion: "failure", title: output.title, summary: output.summary, annotations });
      checkMs.push(performance.now() - t);
      summary = output.summary;
      requests = sent;
      annotationsTotal = annotations.length;
    }
    const parse = summarize(parseMs);
    const compose = summarize(composeMs);
    const check = summarize(checkMs);
    const maxPerRequest = Math.max(...requests.map((r) => r.annotations));
    const maxSummary = Math.max(summary.length, ...requests.map((r) => r.summary));
    const delivered = requests.reduce((a, r) => a + r.annotations, 0);
    const table: Row[] = [
      { step: `parse the diff (${FILES} files, ${LINES} lines): floor`, "p50 ms": round(parse.median, 0), "max ms": round(parse.max, 0) },
      { step: "place findings + compose the review", "p50 ms": round(compose.median, 0), "max ms": round(compose.max, 0), chars: body.length, limit: LIMIT },
      { step: "fallback body (inline comments refused)", chars: fallback.length, limit: LIMIT },
      { step: "check-run output + annotations", "p50 ms": round(check.median, 0), "max ms": round(check.max, 0), chars: maxSummary, limit: LIMIT },
      { step: "annotation requests", requests: requests.length, "max per request": maxPerRequest, delivered: `${delivered}/${annotationsTotal}` },
    ];
    const longest = Math.max(body.length, fallback.length, maxSummary);
    return {
      sizes: { files: FILES, lines: LINES, findings: 2 * FILES, repeat: REPEAT },
      table,
      targets: [
        {
          target: "review body and check-run output <= 65,535 characters",
          measured: `longest ${longest} characters (body ${body.length}, fallback ${fallback.length}, check ${maxSummary})`,
          met: longest <= LIMIT,
          value: longest,
          floor: LIMIT,
          unit: "chars",
          note: "floor here is GitHub's limit",
        },
        {
          target: "annotations 50 per request, none lost",
          measured: `${requests.length} requests, at most ${maxPerRequest} each, ${delivered}/${annotationsTotal} delivered`,
          met: maxPerRequest <= 50 && delivered === annotationsTotal,
          value: maxPerRequest,
          floor: 50,
          unit: "annotations/request",
        },
        {
          target: "the bot's own work after the agent (place, compose, check output, annotations) <= 1 s",
          measured: `${round(compose.median + check.median, 0)} ms; parsing the diff ${round(parse.median, 0)} ms (floor: what any reviewer of it pays)`,
          met: compose.median + check.median <= 1_000,
          value: round(compose.median + check.median, 0),
          floor: round(parse.median, 0),
          unit: "ms",
        },
      ],
      details: { parse, compose, check, requests: requests.length },
    };
  });
}

if (isEntry(import.meta.url)) await main();
