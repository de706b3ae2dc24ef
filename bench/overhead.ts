import { envInt, isEntry, round, runBench, summarize, type Row } from "./lib/common.js";
import { numberedFile, pushPrHead } from "./lib/large-repo.js";
import { reviewJson, type BenchFinding } from "./lib/responses.js";
import { ReviewEnv, type ReviewResult } from "./lib/review-env.js";

/**
 * Figure 3: the bot's own overhead per review, warm, on the large repository: from sending the
 * webhook to the review POST arriving at the GitHub stand-in, minus the codex process's wall time
 * (logged by a wrapper around the real binary, which talks to an instant scripted model). Each
 * iteration pushes three new commits to the PR and delivers `synchronize`; the first review (cold
 * mirror and worktree) is reported apart. Reviews are spaced 3.5 s apart: Octokit's throttling paces
 * content-creating requests (a review POST) 3 s apart per process, which would otherwise be counted
 * here although real agent runs take minutes.
 */

const ITERATIONS = envInt("BENCH_OVERHEAD_ITERATIONS", 8, 3);
const PR = 7;

function findingsFor(push: number): BenchFinding[] {
  const file = `changes/push-${push}.ts`;
  return [5, 10, 20].map((line) => ({ path: file, line, anchor: `export const p${push}_${line} = compute(${line}); // line ${line}`, title: `Check value ${line} of push ${push}` }));
}

interface Breakdown {
  totalMs: number;
  codexMs: number;
  overheadMs: number;
  beforeCodexMs: number;
  afterCodexMs: number;
  ackMs: number;
  queueMs: number;
  checkoutMs: number;
  agentMs: number;
  /** Review POST minus check-run POST: Octokit paces writes at least 1 s apart. */
  reviewAfterCheckRunMs: number;
}

function breakdown(r: ReviewResult): Breakdown {
  if (!r.review || !r.codex || !r.run) throw new Error(`PR #${r.pr}: no review, codex run or run record (${JSON.stringify({ review: !!r.review, codex: !!r.codex, run: r.run })})`);
  if (r.codex.exitCode !== 0) throw new Error(`codex exited with ${r.codex.exitCode}`);
  const comments = (r.review.body as { comments?: unknown[] }).comments?.length ?? 0;
  if (comments !== 3) throw new Error(`PR #${r.pr}: expected 3 inline comments, the review had ${comments}`);
  const checkRun = r.calls.find((c) => c.route === "POST /repos/:o/:r/check-runs");
  if (!checkRun) throw new Error(`PR #${r.pr}: no check run was created`);
  const totalMs = r.review.at - r.sentAt;
  const codexMs = r.codex.end - r.codex.start;
  return {
    totalMs,
    codexMs,
    overheadMs: totalMs - codexMs,
    beforeCodexMs: r.codex.start - r.sentAt,
    afterCodexMs: r.review.at - r.codex.end,
    ackMs: r.ackMs,
    queueMs: r.run.queue_ms ?? 0,
    checkoutMs: r.run.checkout_ms ?? 0,
    agentMs: r.run.agent_ms ?? 0,
    reviewAfterCheckRunMs: r.review.at - checkRun.at,
  };
}

export async function main(): Promise<void> {
  await runBench("overhead", "3. Overhead per review (warm, large repository)", async () => {
    const env = await ReviewEnv.start({ name: "overhead" });
    try {
      let head = env.repo.mainSha;
      const push = async (n: number): Promise<string> => {
        head = await pushPrHead(env.repo, PR, head, [
          { message: `push ${n}: add values`, change: { add: { [`changes/push-${n}.ts`]: numberedFile(`p${n}`, 40) } } },
          { message: `push ${n}: touch a module`, change: { edit: [(n * 7919) % env.repo.files] } },
          { message: `push ${n}: touch another`, change: { edit: [(n * 104729) % env.repo.files] } },
        ]);
        return head;
      };

      env.answer = reviewJson(findingsFor(0));
      const coldResult = await env.review("opened", PR, await push(0));
      const cold = breakdown(coldResult);
      const warm: Breakdown[] = [];
      for (let i = 1; i <= ITERATIONS; i++) {
        const sha = await push(i);
        env.answer = reviewJson(findingsFor(i));
        await env.spacing(3500);
        warm.push(breakdown(await env.review("synchronize", PR, sha)));
      }
      const s = (k: keyof Breakdown) => summarize(warm.map((b) => b[k]));
      const row = (what: string, k: keyof Breakdown, note = ""): Row => ({
        what,
        "median ms": round(s(k).median, 0),
        "p99 ms": round(s(k).p99, 0),
        "cold ms": round(cold[k], 0),
        note,
      });
      const overhead = s("overheadMs");
      const total = s("totalMs");
      const table: Row[] = [
        row("webhook sent -> review POST received", "totalMs"),
        row("codex process wall time (wrapper)", "codexMs", "instant scripted model"),
        row("overhead = total - codex", "overheadMs"),
        row("  before codex starts", "beforeCodexMs", "ack, queue, config, check run, checkout, diff, CODEX_HOME"),
        row("    of which webhook ack", "ackMs"),
        row("    of which queue wait (run record)", "queueMs"),
        row("    of which checkout + diff (run record)", "checkoutMs"),
        row("  after codex exits", "afterCodexMs", "parse, dedupe lookups, placement, review POST"),
        row("check-run POST -> review POST", "reviewAfterCheckRunMs", "Octokit spaces writes >= 1 s"),
        { what: "ratio: overhead / total", "median ms": `${round((overhead.median / total.median) * 100, 0)} %`, "p99 ms": "", "cold ms": `${round((cold.overheadMs / cold.totalMs) * 100, 0)} %`, note: "same run" },
      ];
      return {
        sizes: { files: env.repo.files, commits: env.repo.commits, iterations: ITERATIONS, findingsPerReview: 3, commitsPerPush: 3, spacingMs: 3500 },
        table,
        targets: [{ target: "overhead per review < 1 s median (warm)", measured: `${round(overhead.median, 0)} ms median, ${round(overhead.p99, 0)} ms p99`, met: overhead.median < 1000 }],
        details: { cold, warm, coldRun: coldResult.run },
      };
    } finally {
      await env.close();
    }
  });
}

if (isEntry(import.meta.url)) await main();
