import { mkdirSync } from "node:fs";
import path from "node:path";
import { Jail } from "../src/jail/jail.js";
import { jailSettingsFromEnv } from "../src/jail/settings.js";
import { defaultCodexBin } from "../src/settings.js";
import { BASE_ENV_ALLOWLIST, buildEnv, run } from "../src/util/exec.js";
import { benchDir, envInt, isEntry, round, runBench, summarize } from "./lib/common.js";

/**
 * The jail's cost per agent run (issue 14): start-up of a jailed `true` and a jailed
 * `codex --version` against the same commands unjailed, median of N each, interleaved so load
 * affects both alike. The agent's own time (minutes per review) is what this is added to.
 */

const N = envInt("BENCH_JAIL_RUNS", 50, 10);
const TARGET_MS = 50;

export async function main(): Promise<void> {
  await runBench("jail", "Jail cost per agent run", async () => {
    const root = benchDir("jail");
    const homesRoot = path.join(root, "codex-homes");
    const worktree = path.join(root, "worktree");
    const home = path.join(root, "home");
    for (const d of [homesRoot, worktree, home]) mkdirSync(d, { recursive: true });
    const jail = new Jail(jailSettingsFromEnv({}), { dataDir: root });
    const probe = await jail.check(homesRoot);
    if (!probe.ok) throw new Error(`${probe.reason} ${probe.fix}`);
    const env = buildEnv(BASE_ENV_ALLOWLIST, { HOME: home });
    const codex = defaultCodexBin();
    const cases = [
      { name: "true", file: "/bin/true", args: [] as string[] },
      { name: "codex --version", file: codex, args: ["--version"] },
    ];
    const table = [];
    const details: Record<string, unknown> = { probeMs: probe.durationMs, user: process.getuid?.() === 0 ? "root (jail runs as nobody)" : "ordinary user" };
    const overheads: number[] = [];
    for (const c of cases) {
      const plain: number[] = [];
      const jailed: number[] = [];
      for (let i = 0; i < N; i++) {
        const a = await run(c.file, c.args, { cwd: worktree, env });
        if (a.exitCode !== 0) throw new Error(`${c.name} failed unjailed: ${a.stderr}`);
        plain.push(a.durationMs);
        const t = Date.now();
        const b = await jail.run({ file: c.file, args: c.args, worktree, writable: false, home, homesRoot, network: true, runAs: null, env });
        if (b.exitCode !== 0) throw new Error(`${c.name} failed jailed: ${b.stderr}`);
        jailed.push(Date.now() - t);
      }
      const p = summarize(plain);
      const j = summarize(jailed);
      overheads.push(j.median - p.median);
      table.push({ command: c.name, runs: N, "unjailed median ms": round(p.median), "jailed median ms": round(j.median), "jail cost ms": round(j.median - p.median), "jailed p99 ms": round(j.p99) });
      details[c.name] = { plain: p, jailed: j };
    }
    const worst = Math.max(...overheads);
    return {
      sizes: { runs: N },
      table,
      targets: [{ target: `jail start-up ≤ ${TARGET_MS} ms per agent run (median of ${N})`, measured: `${round(worst)} ms`, met: worst <= TARGET_MS, note: "beside an agent's own run of minutes" }],
      details,
    };
  });
}

if (isEntry(import.meta.url)) await main();
