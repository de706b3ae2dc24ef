import { GitHubStandIn } from "./lib/github-stand-in.js";
import { envInt, isEntry, QUICK, runBench, type Row } from "./lib/common.js";
import { numberedFile, pushPrHead } from "./lib/large-repo.js";
import { reviewJson, type BenchFinding } from "./lib/responses.js";
import { ReviewEnv, type ReviewResult } from "./lib/review-env.js";

/**
 * Figure 4: GitHub API requests per review for 3, 30 and 300 findings, counted per route at the
 * stand-in, with the real app and codex (the scripted model returns N findings on a new file of the
 * PR). The first review of the process also mints the installation token (cached ~59 min, shared by
 * every later job of the installation); it is run first and reported apart.
 */

const COUNTS = (process.env.BENCH_FINDING_COUNTS ?? (QUICK ? "3,30,300" : "3,30,300")).split(",").map(Number);
const REPEAT = envInt("BENCH_REQUESTS_REPEAT", 2, 1);
const TOKEN_ROUTE = "POST /app/installations/:id/access_tokens";

function findings(tag: string, file: string, n: number): BenchFinding[] {
  return Array.from({ length: n }, (_, i) => ({
    path: file,
    line: i + 1,
    anchor: `export const ${tag}_${i + 1} = compute(${i + 1}); // line ${i + 1}`,
    title: `Finding ${i + 1} of ${n}`,
    priority: (i % 3) as 0 | 1 | 2,
  }));
}

function short(route: string): string {
  return route.replace("/repos/:o/:r", "").replace("/app/installations/:id", "");
}

export async function main(): Promise<void> {
  await runBench("requests", "4. GitHub API requests per review", async () => {
    const env = await ReviewEnv.start({ name: "requests" });
    try {
      let pr = 100;
      const reviewWith = async (n: number): Promise<ReviewResult> => {
        pr++;
        const tag = `f${pr}`;
        const file = `changes/pr-${pr}.ts`;
        const head = await pushPrHead(env.repo, pr, env.repo.mainSha, [{ message: `PR ${pr}`, change: { add: { [file]: numberedFile(tag, n + 20) } } }]);
        env.answer = reviewJson(findings(tag, file, n));
        await env.spacing(3500);
        const r = await env.review("opened", pr, head);
        if (!r.review) throw new Error(`PR #${pr}: no review was posted`);
        return r;
      };
      const first = await reviewWith(3);
      const results: { n: number; r: ReviewResult }[] = [];
      for (let k = 0; k < REPEAT; k++) for (const n of COUNTS) results.push({ n, r: await reviewWith(n) });

      const routes = [...new Set([first, ...results.map((x) => x.r)].flatMap((r) => r.calls.map((c) => c.route)))].sort();
      const rowFor = (label: string, r: ReviewResult): Row => {
        const counts = GitHubStandIn.countByRoute(r.calls);
        const row: Row = { review: label };
        for (const route of routes) row[short(route)] = counts[route] ?? 0;
        row.total = r.calls.length;
        row["without token"] = r.calls.filter((c) => c.route !== TOKEN_ROUTE).length;
        const inline = (r.review?.body as { comments?: unknown[] } | null)?.comments?.length ?? 0;
        row["inline comments"] = inline;
        row.writes = r.calls.filter((c) => c.method !== "GET").length;
        const times = r.calls.map((c) => c.at);
        row["first->last request s"] = Math.round((Math.max(...times) - Math.min(...times)) / 100) / 10;
        return row;
      };
      const table: Row[] = [rowFor("first review of the process (3 findings)", first)];
      for (const { n, r } of results) table.push(rowFor(`${n} findings`, r));
      const perCount = COUNTS.map((n) => Math.max(...results.filter((x) => x.n === n).map((x) => x.r.calls.filter((c) => c.route !== TOKEN_ROUTE).length)));
      const constant = perCount.every((c) => c === perCount[0]);
      const max = Math.max(...perCount);
      const writesPerReview = results.map((x) => x.r.calls.filter((c) => c.method !== "GET").length);
      return {
        sizes: { findingCounts: COUNTS, repeat: REPEAT, maxInlineComments: 20 },
        table,
        targets: [
          {
            target: "requests per review constant and <= 6, whatever the finding count",
            measured: `${COUNTS.map((n, i) => `${n} findings: ${perCount[i]}`).join(", ")} (warm, token cached)`,
            met: constant && max <= 6,
          },
        ],
        details: {
          writesPerReview,
          calls: [first, ...results.map((x) => x.r)].map((r) => ({ pr: r.pr, calls: r.calls.map((c) => ({ route: c.route, at: c.at, status: c.status })) })),
        },
      };
    } finally {
      await env.close();
    }
  });
}

if (isEntry(import.meta.url)) await main();
