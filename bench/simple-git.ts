import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { simpleGit } from "simple-git";
import { git, gitEnv } from "../src/workspace/git.js";
import { benchDir, envInt, isEntry, round, runBench, summarize } from "./lib/common.js";

/**
 * Issue 15, item 5: would `simple-git` behind workspace/git.ts cost more than 5 % of a warm
 * checkout? The same git commands, with the same hardened environment (config through
 * GIT_CONFIG_*, no hooks, no host config), through our wrapper and through simple-git, interleaved,
 * median of N each; the difference per call times the calls of a warm checkout, against its
 * measured time (README, figure 2: 301 ms median).
 */

const N = envInt("BENCH_SIMPLE_GIT_RUNS", 100, 20);
/** git invocations of one warm Workspaces.checkout (fetch, rev-parse/cat-file checks, worktree switch, diff). */
const CALLS_PER_WARM_CHECKOUT = 9;
const WARM_CHECKOUT_MS = 301;

export async function main(): Promise<void> {
  await runBench("simple-git", "simple-git vs the git wrapper", async () => {
    const repo = path.join(benchDir("simple-git"), "repo");
    rmSync(repo, { recursive: true, force: true });
    mkdirSync(repo, { recursive: true });
    execFileSync("git", ["init", "-q", repo]);
    for (let i = 0; i < 50; i++) writeFileSync(path.join(repo, `f${i}.txt`), `${i}\n`);
    execFileSync("git", ["-C", repo, "add", "."]);
    execFileSync("git", ["-C", repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"]);
    const env = gitEnv({});
    // Our hardening switches things OFF (system config, hooks, credential helpers, protocols,
    // fsmonitor), but simple-git's guards refuse the variables and keys that do it: carrying it
    // means lifting six of them.
    const sg = simpleGit({
      baseDir: repo,
      maxConcurrentProcesses: 1,
      unsafe: {
        allowUnsafeConfigPaths: true,
        allowUnsafeConfigEnvCount: true,
        allowUnsafeHooksPath: true,
        allowUnsafeCredentialHelper: true,
        allowUnsafeProtocolOverride: true,
        allowUnsafeFsMonitor: true,
      },
    }).env(env);
    // The kinds of call a warm checkout makes (worktree.ts, mirror.ts): object checks, switching the
    // tree, resetting and cleaning it, and the diff; `status` stands for git reading the index.
    const commands = [
      ["rev-parse", "--verify", "HEAD^{tree}"],
      ["cat-file", "-t", "HEAD"],
      ["checkout", "--quiet", "--detach", "--force", "HEAD", "--"],
      ["reset", "--quiet", "--hard", "HEAD", "--"],
      ["clean", "-ffdxq"],
      ["diff", "HEAD", "--"],
      ["status", "--porcelain"],
    ];
    const table = [];
    const deltas: number[] = [];
    for (const args of commands) {
      const wrapper: number[] = [];
      const simple: number[] = [];
      for (let i = 0; i < N; i++) {
        let t = performance.now();
        const a = await git(args, { cwd: repo });
        wrapper.push(performance.now() - t);
        t = performance.now();
        const b = await sg.raw(args);
        simple.push(performance.now() - t);
        if (a.trim() !== b.trim()) throw new Error(`outputs differ for git ${args.join(" ")}`);
      }
      const w = summarize(wrapper);
      const s = summarize(simple);
      deltas.push(s.median - w.median);
      table.push({ command: `git ${args.join(" ")}`, runs: N, "wrapper median ms": round(w.median, 2), "simple-git median ms": round(s.median, 2), "difference ms": round(s.median - w.median, 2) });
    }
    const perCall = deltas.reduce((a, b) => a + b, 0) / deltas.length;
    const share = (100 * perCall * CALLS_PER_WARM_CHECKOUT) / WARM_CHECKOUT_MS;
    return {
      sizes: { runs: N, callsPerWarmCheckout: CALLS_PER_WARM_CHECKOUT, warmCheckoutMs: WARM_CHECKOUT_MS },
      table,
      targets: [
        {
          target: "simple-git costs ≤ 5 % of a warm checkout (else keep the wrapper)",
          measured: `${round(perCall, 2)} ms per call × ${CALLS_PER_WARM_CHECKOUT} calls = ${round(share, 1)} % of ${WARM_CHECKOUT_MS} ms`,
          met: share <= 5,
        },
      ],
      details: { perCallMs: perCall, sharePercent: share },
    };
  });
}

if (isEntry(import.meta.url)) await main();
