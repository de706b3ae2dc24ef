import { writeFileSync } from "node:fs";
import path from "node:path";
import { benchDir, envInt, isEntry, QUICK, round, runBench, sleep, type Row } from "./lib/common.js";
import { numberedFile, pushPrHead } from "./lib/large-repo.js";
import { reviewJson, type BenchFinding } from "./lib/responses.js";
import { ReviewEnv, type CodexRun } from "./lib/review-env.js";

/**
 * Figure 5: the app's memory (its own process: VmRSS sampled every 25 ms and the kernel's VmHWM peak,
 * reset before each phase through /proc/<pid>/clear_refs).
 *  a) 4 reviews at once: WORKER_CONCURRENCY=4 and 4 worktrees, real codex, a model that takes 3 s
 *     per answer so the four runs overlap; measured on a second batch, after a warm-up batch.
 *  b) one agent streaming a lot of output: a fake codex (same CLI contract: JSONL events on stdout,
 *     final message in the -o file) prints SMALL then LARGE megabytes of `item.updated` events
 *     before a valid turn. Output held in memory in proportion to the stream would show as a peak
 *     growing with it; the ratio of the two peaks' growth says which it is.
 */

const SMALL_MB = envInt("BENCH_STREAM_SMALL_MB", 20, 10);
const LARGE_MB = envInt("BENCH_STREAM_LARGE_MB", 200, 50);
const PARALLEL = envInt("BENCH_PARALLEL_REVIEWS", 4, 4);

const FAKE_CODEX = String.raw`
// Fake codex for the memory bench: reads the byte count from stream-bytes next to this file.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
const here = path.dirname(fileURLToPath(import.meta.url));
const bytes = Number(readFileSync(path.join(here, "stream-bytes"), "utf8"));
const answer = readFileSync(path.join(here, "answer.json"), "utf8");
const args = process.argv.slice(2);
const out = args[args.indexOf("-o") + 1];
process.stdin.resume();
const write = (line) => (process.stdout.write(line + "\n") ? Promise.resolve() : new Promise((r) => process.stdout.once("drain", r)));
await write(JSON.stringify({ type: "thread.started", thread_id: "fake-thread" }));
await write(JSON.stringify({ type: "turn.started" }));
const filler = "x".repeat(900);
let sent = 0;
for (let i = 0; sent < bytes; i++) {
  const line = JSON.stringify({ type: "item.updated", item: { id: "item_" + (i % 50), type: "reasoning", text: "**Step " + i + "** " + filler } });
  sent += line.length + 1;
  await write(line);
}
writeFileSync(out, answer);
await write(JSON.stringify({ type: "item.completed", item: { id: "final", type: "agent_message", text: answer } }));
await write(JSON.stringify({ type: "turn.completed", usage: { input_tokens: 1000, cached_input_tokens: 0, output_tokens: 200, reasoning_output_tokens: 0 } }));
`;

function findingsOn(file: string, tag: string): BenchFinding[] {
  return [3, 6, 9].map((line) => ({ path: file, line, anchor: `export const ${tag}_${line} = compute(${line}); // line ${line}`, title: `Check ${tag} line ${line}` }));
}

function maxOverlap(runs: CodexRun[]): number {
  const edges = runs.flatMap((r) => [
    { t: r.start, d: 1 },
    { t: r.end, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (cur += e.d));
  return max;
}

const mib = (kib: number): number => round(kib / 1024, 0);
const mibB = (bytes: number): number => round(bytes / 2 ** 20, 0);

interface Phase {
  /** VmRSS before the phase, KiB. */
  idle: number;
  /** max(VmHWM, sampled VmRSS) during the phase, KiB. */
  peak: number;
  /** process.memoryUsage() inside the app: before, and peaks during the phase (bytes). */
  heapIdle: number;
  heapPeak: number;
  externalPeak: number;
}

/** Runs `fn` as one measured phase of the app process. */
async function phase(env: ReviewEnv, fn: () => Promise<void>): Promise<Phase> {
  await sleep(500);
  const before = await env.app.mem("reset");
  const idle = env.app.memory().rssKiB;
  env.app.resetPeak();
  const stop = env.app.sample(25);
  await fn();
  const sampled = stop();
  const after = await env.app.mem("peak");
  return {
    idle,
    peak: Math.max(env.app.memory().hwmKiB, sampled.maxRssKiB),
    heapIdle: before.now.heapUsed,
    heapPeak: after.peaks?.heapUsed ?? Number.NaN,
    externalPeak: (after.peaks?.external ?? Number.NaN) + (after.peaks?.arrayBuffers ?? 0),
  };
}

export async function main(): Promise<void> {
  await runBench("memory", "5. Memory of the app process", async () => {
    const table: Row[] = [];
    const details: Record<string, unknown> = {};

    // a) N reviews at once.
    {
      const env = await ReviewEnv.start({
        name: "memory-parallel",
        modelDelayMs: 3000,
        env: { WORKER_CONCURRENCY: String(PARALLEL), WORKSPACE_POOL_SIZE: String(PARALLEL) },
      });
      try {
        const heads = new Map<number, string>();
        const batch = async (round_: number): Promise<void> => {
          const prs = Array.from({ length: PARALLEL }, (_, i) => 200 + i);
          const file = (pr: number): string => `changes/pr-${pr}-r${round_}.ts`;
          for (const pr of prs) {
            heads.set(pr, await pushPrHead(env.repo, pr, heads.get(pr) ?? env.repo.mainSha, [{ message: `round ${round_}`, change: { add: { [file(pr)]: numberedFile(`m${pr}r${round_}`, 20) } } }]));
          }
          // One answer serves all four PRs: each finding names its own PR's file, so the others' are listed in the body.
          env.answer = reviewJson(prs.flatMap((pr) => findingsOn(file(pr), `m${pr}r${round_}`)));
          const sent = await Promise.all(prs.map((pr) => env.send(round_ === 0 ? "opened" : "synchronize", pr, heads.get(pr)!)));
          await Promise.all(prs.map((pr, i) => env.collect(sent[i]!, pr, heads.get(pr)!)));
        };
        await batch(0);
        const from = env.codexRuns().length;
        const p = await phase(env, () => batch(1));
        const overlap = maxOverlap(env.codexRuns().slice(from));
        table.push({
          phase: `${PARALLEL} reviews at once (real codex, large repo)`,
          "idle RSS MiB": mib(p.idle),
          "peak RSS MiB": mib(p.peak),
          "growth MiB": mib(p.peak - p.idle),
          "JS heap MiB idle -> peak": `${mibB(p.heapIdle)} -> ${mibB(p.heapPeak)}`,
          note: `max ${overlap} codex processes at once`,
        });
        details.parallel = { ...p, overlap };
      } finally {
        await env.close();
      }
    }

    // b) One agent streaming SMALL then LARGE MB.
    {
      const fakeDir = benchDir("memory-fake-codex");
      const fake = path.join(fakeDir, "fake-codex.mjs");
      writeFileSync(fake, FAKE_CODEX);
      const env = await ReviewEnv.start({ name: "memory-stream", codexBin: fake, env: { WORKER_CONCURRENCY: "1" } });
      try {
        let head = env.repo.mainSha;
        const pr = 300;
        const run = async (mb: number, n: number): Promise<Phase & { seconds: number; run: unknown }> => {
          const file = `changes/stream-${n}.ts`;
          head = await pushPrHead(env.repo, pr, head, [{ message: `stream ${n}`, change: { add: { [file]: numberedFile(`s${n}`, 20) } } }]);
          writeFileSync(path.join(fakeDir, "stream-bytes"), String(mb * 1024 * 1024));
          writeFileSync(path.join(fakeDir, "answer.json"), reviewJson(findingsOn(file, `s${n}`)));
          await env.spacing(3500);
          let result: Awaited<ReturnType<ReviewEnv["review"]>> | null = null;
          const p = await phase(env, async () => {
            result = await env.review(n === 0 ? "opened" : "synchronize", pr, head);
          });
          const r = result as Awaited<ReturnType<ReviewEnv["review"]>> | null;
          if (!r?.review) throw new Error(`the ${mb} MB stream review posted nothing (run: ${JSON.stringify(r?.run)})`);
          const seconds = r.codex ? (r.codex.end - r.codex.start) / 1000 : Number.NaN;
          return { ...p, seconds, run: r.run };
        };
        await run(1, 0); // warm-up: worktree, token, JIT
        const small = await run(SMALL_MB, 1);
        const large = await run(LARGE_MB, 2);
        // One baseline for both: the idle process before the first measured stream.
        const base = small.idle;
        const gSmall = small.peak - base;
        const gLarge = large.peak - base;
        for (const [mb, m] of [
          [SMALL_MB, small],
          [LARGE_MB, large],
        ] as const) {
          const r = m.run as { events_bytes: number; events_dropped: number } | null;
          table.push({
            phase: `one agent streaming ${mb} MB of events`,
            "idle RSS MiB": mib(base),
            "peak RSS MiB": mib(m.peak),
            "growth MiB": mib(m.peak - base),
            "JS heap MiB idle -> peak": `${mibB(m.heapIdle)} -> ${mibB(m.heapPeak)}`,
            note: `${round(mb / m.seconds, 0)} MB/s through the app; run log kept ${round((r?.events_bytes ?? 0) / 1024, 0)} KiB, dropped ${r?.events_dropped ?? "?"} lines`,
          });
        }
        table.push({ phase: `ratio: growth at ${LARGE_MB} MB / growth at ${SMALL_MB} MB`, "idle RSS MiB": "", "peak RSS MiB": "", "growth MiB": round(gLarge / Math.max(1, gSmall), 2), note: `proportional would be ${round(LARGE_MB / SMALL_MB, 0)}` });
        details.stream = { small, large, growthRatio: gLarge / Math.max(1, gSmall) };
        // Holding the output would cost at least a byte per byte (JS strings: two); allocator and
        // GC heap sizing move RSS by a few percent of the allocation rate, and stop there.
        const perMb = (gLarge - gSmall) / (LARGE_MB - SMALL_MB); // KiB of extra peak per extra MB streamed
        const heapGrowth = (large.heapPeak - small.heapPeak) / 2 ** 20;
        return {
          sizes: { parallelReviews: PARALLEL, smallStreamMB: SMALL_MB, largeStreamMB: LARGE_MB, modelDelayMsParallel: 3000, quick: QUICK },
          table,
          targets: [
            {
              target: "no memory growth proportional to agent output",
              measured:
                `RSS peak +${mib(gSmall)} MiB at ${SMALL_MB} MB, +${mib(gLarge)} MiB at ${LARGE_MB} MB: ${round(perMb, 0)} KiB per extra MB streamed ` +
                `(holding it would be >= 1024); JS heap peak ${heapGrowth >= 0 ? "+" : ""}${round(heapGrowth, 1)} MiB`,
              met: perMb < 102.4 && heapGrowth < 0.05 * (LARGE_MB - SMALL_MB),
              note: "threshold: under 10% of the extra output",
            },
          ],
          details,
        };
      } finally {
        await env.close();
      }
    }
  });
}

if (isEntry(import.meta.url)) await main();
