import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { Workspaces, type CheckoutTimings } from "../src/workspace/workspaces.js";
import { benchDir, envInt, isEntry, round, runBench, summarize, type Row } from "./lib/common.js";
import { filePath, GIT_ENV, largeRepo, numberedFile, pushPrHead } from "./lib/large-repo.js";

/**
 * Figure 2: checkout of the generated large repository with the app's own Workspaces (mirror + pooled
 * worktree). Cold: an empty workspace root fetches everything and creates the worktree. Warm: each
 * iteration pushes a few new commits to the PR and checks the new head out from the existing mirror
 * and worktree (what every later review of a busy repository costs). Compared, in the same run and
 * interleaved (a clone after every few warm checkouts), with a fresh `git clone --depth 1 file://…` of
 * the same head: what an Actions-based bot pays on every run. file:// makes git do a real pack transfer instead of hardlinking.
 */

const ITERATIONS = envInt("BENCH_CHECKOUT_ITERATIONS", 8, 4);
/** Shallow clones are the slow side (tens of seconds each): one every ITERATIONS/CLONES pushes. */
const CLONES = Math.min(ITERATIONS, envInt("BENCH_CHECKOUT_CLONES", 3, 2));
const PR = 1;

function timeMs(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

interface Clone {
  totalMs: number;
  /** `git clone --no-checkout --depth 1`: negotiation, pack transfer, index-pack. */
  transferMs: number;
  /** Writing the files of the head. */
  checkoutMs: number;
  packMiB: number;
}

/** `git clone --depth 1 --branch …`, run as its two halves so the report can say where the time goes. */
function shallowClone(url: string, branch: string, dir: string): Clone {
  rmSync(dir, { recursive: true, force: true });
  const run = (args: string[], cwd?: string): void => {
    execFileSync("git", args, { cwd, env: GIT_ENV, stdio: ["ignore", "ignore", "pipe"] });
  };
  const transferMs = timeMs(() => run(["clone", "--quiet", "--no-checkout", "--depth", "1", "--no-tags", "--single-branch", "--branch", branch, url, dir]));
  const checkoutMs = timeMs(() => run(["checkout", "--quiet", branch], dir));
  const packMiB = Number(execFileSync("du", ["-sm", path.join(dir, ".git", "objects")], { encoding: "utf8" }).split("\t")[0]);
  rmSync(dir, { recursive: true, force: true });
  return { totalMs: transferMs + checkoutMs, transferMs, checkoutMs, packMiB };
}

export async function main(): Promise<void> {
  await runBench("checkout", "2. Checkout of a large repository", async () => {
    const repo = await largeRepo();
    const root = benchDir("checkout");
    const wsRoot = path.join(root, "workspaces");
    const cloneDir = path.join(root, "shallow-clone");
    rmSync(wsRoot, { recursive: true, force: true });
    const workspaces = new Workspaces({ root: wsRoot, poolSize: 1 });
    const refs = ["refs/heads/main", `refs/pull/${PR}/head`];

    let head = repo.mainSha;
    let pushNo = 0;
    const push = async (): Promise<string> => {
      pushNo++;
      // A few new commits: a new file and two edited files, like a contributor's push.
      head = await pushPrHead(repo, PR, head, [
        { message: `push ${pushNo} commit 1`, change: { add: { [`changes/push-${pushNo}.ts`]: numberedFile(`p${pushNo}`, 40) } } },
        { message: `push ${pushNo} commit 2`, change: { edit: [(pushNo * 7919) % repo.files] } },
        { message: `push ${pushNo} commit 3`, change: { edit: [(pushNo * 104729) % repo.files] } },
      ]);
      return head;
    };
    const checkout = async (sha: string): Promise<{ timings: CheckoutTimings; diffMs: number; releaseMs: number; files: number }> => {
      const lease = await workspaces.checkout({ repoKey: "local/bench/large", cloneUrl: repo.url, token: null, headSha: sha, baseSha: repo.mainSha, refs });
      const d = performance.now();
      const diff = await lease.diff();
      const diffMs = performance.now() - d;
      const r = performance.now();
      await lease.release();
      return { timings: lease.timings, diffMs, releaseMs: performance.now() - r, files: (diff.match(/^diff --git /gm) ?? []).length };
    };

    const cold = await checkout(await push());
    const warm: Awaited<ReturnType<typeof checkout>>[] = [];
    const clones: Clone[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const sha = await push();
      warm.push(await checkout(sha));
      if ((i - 1) % Math.ceil(ITERATIONS / CLONES) === 0 && clones.length < CLONES) clones.push(shallowClone(repo.url, `bench-pr-${PR}`, cloneDir));
    }
    const w = summarize(warm.map((x) => x.timings.totalMs));
    const wf = summarize(warm.map((x) => x.timings.fetchMs));
    const ww = summarize(warm.map((x) => x.timings.worktreeMs));
    const wd = summarize(warm.map((x) => x.diffMs));
    const wr = summarize(warm.map((x) => x.releaseMs));
    const c = summarize(clones.map((x) => x.totalMs));
    const ct = summarize(clones.map((x) => x.transferMs));
    const cc = summarize(clones.map((x) => x.checkoutMs));
    const ratio = w.median / c.median;
    const table: Row[] = [
      { what: "bot cold: first checkout (fetch all + create worktree)", n: 1, "median ms": round(cold.timings.totalMs, 0), "p99 ms": round(cold.timings.totalMs, 0), note: `fetch ${round(cold.timings.fetchMs, 0)} ms, worktree ${round(cold.timings.worktreeMs, 0)} ms` },
      { what: "bot warm: new PR head from mirror (Workspaces.checkout)", n: w.n, "median ms": round(w.median, 0), "p99 ms": round(w.p99, 0), note: `fetch ${round(wf.median, 0)} ms + worktree switch ${round(ww.median, 0)} ms (medians)` },
      { what: "  then: PR diff from the mirror (lease.diff)", n: wd.n, "median ms": round(wd.median, 0), "p99 ms": round(wd.p99, 0), note: `${warm[0]?.files ?? 0} files changed` },
      { what: "  after the review: release (reset + clean)", n: wr.n, "median ms": round(wr.median, 0), "p99 ms": round(wr.p99, 0), note: "not on the review's path" },
      { what: "fresh git clone --depth 1 of the same head (Actions-style)", n: c.n, "median ms": round(c.median, 0), "p99 ms": round(c.p99, 0), note: `transfer ${round(ct.median, 0)} ms (${clones[0]?.packMiB ?? 0} MiB pack) + checkout ${round(cc.median, 0)} ms (medians)` },
      { what: "ratio: bot warm / fresh shallow clone", n: "", "median ms": `${round(ratio * 100, 1)} %`, "p99 ms": `${round((w.p99 / c.p99) * 100, 1)} %`, note: "same run, interleaved" },
      { what: "ratio: bot warm / shallow clone's transfer alone", n: "", "median ms": `${round((w.median / ct.median) * 100, 1)} %`, "p99 ms": `${round((w.p99 / ct.p99) * 100, 1)} %`, note: "even if writing files were free" },
    ];
    return {
      sizes: { files: repo.files, commits: repo.commits, packMiB: repo.packMiB, treeMiB: repo.treeMiB, warmCheckouts: ITERATIONS, shallowClones: CLONES, commitsPerPush: 3, largeRepoGeneratedInS: repo.generatedInS },
      table,
      targets: [{ target: "bot warm checkout <= 8% of a fresh shallow clone", measured: `${round(ratio * 100, 1)} % (${round(w.median, 0)} ms vs ${round(c.median, 0)} ms, medians)`, met: ratio <= 0.08 }],
      details: { cold, warm, clones, sample: filePath(0) },
    };
  });
}

if (isEntry(import.meta.url)) await main();
