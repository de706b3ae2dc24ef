import { parseUnifiedDiff } from "../src/review/diff.js";
import { placeFindings } from "../src/review/placement.js";
import type { DiffFile, Finding } from "../src/types.js";
import { FIXTURE, type Expected } from "./fixtures/placement-fixture.js";
import { envInt, isEntry, round, runBench, summarize, type Row } from "./lib/common.js";
import { generateDiff, HUNKS_PER_FILE, REGULAR_FILES, regularPath, statedNumbers } from "./lib/diff-gen.js";

/**
 * Figure 6: parse a 10,000-line diff and place findings on it (the app's pure review/diff.ts and
 * review/placement.ts), timed over repeated runs, and checked two ways: every hunk line's parsed
 * numbers against the numbers the line states about itself, and the hand-checked fixture's findings
 * against their expected placement. Each timed run places the fixture plus EXTRA generated findings.
 */

const RUNS = envInt("BENCH_PLACEMENT_RUNS", 50, 20);
const EXTRA = envInt("BENCH_PLACEMENT_FINDINGS", 300, 300);
const MAX_INLINE = 50;

function toFinding(f: { title: string; path: string; startLine: number; endLine: number; anchor: string }, i: number): Finding {
  return { ...f, body: `finding ${i}`, priority: 2, confidence: 0.5, suggestion: null };
}

/** EXTRA findings on added lines of the regular files, spread deterministically. */
function generatedFindings(): Finding[] {
  const out: Finding[] = [];
  for (let i = 0; i < EXTRA; i++) {
    const k = (i * 37) % REGULAR_FILES;
    const h = i % HUNKS_PER_FILE;
    const line = 13 + 102 * h + (i % 4);
    out.push(toFinding({ title: `generated ${i}`, path: regularPath(k), startLine: line, endLine: line, anchor: `add n=${line}` }, i));
  }
  return out;
}

function verifyLines(text: string, files: DiffFile[]): { expected: number; checked: number; mismatches: string[] } {
  const expected = text.split("\n").filter((l) => statedNumbers(l) !== null).length;
  let checked = 0;
  const mismatches: string[] = [];
  for (const file of files) {
    for (const hunk of file.hunks) {
      for (const line of hunk.lines) {
        checked++;
        const s = statedNumbers(line.text);
        const ok =
          s !== null &&
          (line.kind === "context"
            ? s.o === line.oldLine && s.n === line.newLine
            : line.kind === "add"
              ? s.n === line.newLine && line.oldLine === null
              : s.o === line.oldLine && line.newLine === null);
        if (!ok && mismatches.length < 10) mismatches.push(`${file.path}: ${line.kind} ${JSON.stringify(line)}`);
      }
    }
  }
  return { expected, checked, mismatches };
}

function describe(p: Expected): string {
  return "inline" in p ? `inline ${p.inline.startLine === null ? "" : `${p.inline.startLine}-`}${p.inline.line}${p.inline.adjusted ? " (adjusted)" : ""}` : `body: ${p.outside}`;
}

export async function main(): Promise<void> {
  await runBench("placement", "6. Diff parsing and finding placement (10,000-line diff)", async () => {
    const { text, lines } = generateDiff();
    const fixture = FIXTURE.map((c, i) => ({ c, finding: toFinding(c.finding, i) }));
    const extra = generatedFindings();

    // Correctness, once.
    const files = parseUnifiedDiff(text);
    const lineCheck = verifyLines(text, files);
    const placed = placeFindings(files, fixture.map((x) => x.finding), { maxInline: MAX_INLINE });
    const results = fixture.map(({ c, finding }) => {
      const inline = placed.inline.find((p) => p.finding === finding);
      const outside = placed.outside.find((p) => p.finding === finding);
      const actual: Expected = inline
        ? { inline: { line: inline.line, startLine: inline.startLine, adjusted: inline.adjusted } }
        : { outside: outside?.reason ?? "file-not-in-diff" };
      return { title: c.finding.title, expected: describe(c.expected), actual: describe(actual), ok: describe(actual) === describe(c.expected) };
    });
    const fixtureOk = results.filter((r) => r.ok).length;
    const extraPlaced = placeFindings(files, extra, { maxInline: 10_000 });
    const extraOk = extraPlaced.inline.filter((p) => p.line === p.finding.startLine && !p.adjusted).length;

    // Timing.
    const parseMs: number[] = [];
    const placeMs: number[] = [];
    const all = [...fixture.map((x) => x.finding), ...extra];
    for (let i = 0; i < RUNS + 5; i++) {
      const t0 = performance.now();
      const f = parseUnifiedDiff(text);
      const t1 = performance.now();
      placeFindings(f, all, { maxInline: MAX_INLINE });
      const t2 = performance.now();
      if (i < 5) continue; // warm-up
      parseMs.push(t1 - t0);
      placeMs.push(t2 - t1);
    }
    const p = summarize(parseMs);
    const q = summarize(placeMs);
    const t = summarize(parseMs.map((v, i) => v + placeMs[i]!));
    const table: Row[] = [
      { step: `parse ${lines} lines (${round(text.length / 1024, 0)} KiB, ${files.length} files)`, n: p.n, "median ms": round(p.median, 2), "p99 ms": round(p.p99, 2) },
      { step: `place ${all.length} findings`, n: q.n, "median ms": round(q.median, 2), "p99 ms": round(q.p99, 2) },
      { step: "parse + place", n: t.n, "median ms": round(t.median, 2), "p99 ms": round(t.p99, 2) },
      { step: "correct: hunk lines numbered as they state", n: lineCheck.checked, "median ms": `${lineCheck.checked - lineCheck.mismatches.length}/${lineCheck.expected}`, "p99 ms": "" },
      { step: "correct: hand-checked fixture placements", n: results.length, "median ms": `${fixtureOk}/${results.length}`, "p99 ms": "" },
      { step: `correct: generated findings on added lines placed as reported`, n: extra.length, "median ms": `${extraOk}/${extra.length}`, "p99 ms": "" },
    ];
    const correct = lineCheck.mismatches.length === 0 && lineCheck.checked === lineCheck.expected && fixtureOk === results.length && extraOk === extra.length;
    return {
      sizes: { diffLines: lines, diffBytes: text.length, files: files.length, findingsPerRun: all.length, runs: RUNS },
      table,
      targets: [
        { target: "placement correct against the hand-checked fixture", measured: `${fixtureOk}/${results.length} fixture cases, ${lineCheck.checked - lineCheck.mismatches.length}/${lineCheck.expected} lines, ${extraOk}/${extra.length} generated`, met: correct },
        { target: "parse + place time (no numeric target; reported)", measured: `${round(t.median, 1)} ms median, ${round(t.p99, 1)} ms p99`, met: true },
      ],
      details: { fixture: results, lineMismatches: lineCheck.mismatches, parse: p, place: q, total: t },
    };
  });
}

if (isEntry(import.meta.url)) await main();
