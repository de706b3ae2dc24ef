import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { formatTable, loadNow, machine, PROJECT_ROOT, QUICK, RESULTS_DIR, type BenchResult, type Row } from "./lib/common.js";

/**
 * `npm run bench`: runs every benchmark in its own process (one after the other, so they don't
 * compete for the 2 cores), then prints one summary of the targets and writes
 * bench/results/summary.json and summary.md. BENCH_ONLY=webhooks,checkout runs a subset.
 */

const ALL = ["placement", "webhooks", "intake", "first-signal", "checkout", "overhead", "requests", "memory", "jail", "scale", "backlog", "history", "large-pr", "incremental", "action-setup"] as const;

const only = (process.env.BENCH_ONLY ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const selected = ALL.filter((name) => only.length === 0 || only.includes(name));
const started = Date.now();
const before = loadNow();
const failed: string[] = [];

for (const name of selected) {
  const file = path.join(PROJECT_ROOT, "bench", `${name}.ts`);
  const res = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: PROJECT_ROOT, stdio: "inherit", env: process.env });
  if (res.status !== 0) failed.push(name);
}

const results: BenchResult[] = [];
for (const name of selected) {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file) || failed.includes(name)) continue;
  const r = JSON.parse(readFileSync(file, "utf8")) as BenchResult;
  if (Date.parse(r.startedAt) >= started) results.push(r);
}

// Each target is a row: the measured value and its floor/peer from the same run as numbers (when the
// bench gives them), and the load average the figure was taken under.
const rows: Row[] = results.flatMap((r) =>
  r.targets.map((t) => ({
    figure: r.title,
    target: t.target,
    measured: t.measured,
    ...(t.value !== undefined ? { value: t.value } : {}),
    ...(t.floor !== undefined ? { floor: t.floor } : {}),
    ...(t.unit !== undefined ? { unit: t.unit } : {}),
    result: t.met ? "met" : "MISSED",
    load: r.loadBefore.loadavg.join(" "),
  })),
);
const after = loadNow();
const summary = {
  command: `${QUICK ? "BENCH_QUICK=1 " : ""}npm run bench`,
  date: new Date(started).toISOString(),
  durationS: Math.round((Date.now() - started) / 1000),
  machine: machine(),
  loadBefore: before,
  loadAfter: after,
  failed,
  targets: rows,
};
writeFileSync(path.join(RESULTS_DIR, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
const md = [
  `Command: \`${summary.command}\`, ${summary.date}, ${summary.durationS} s`,
  `Machine: ${String(summary.machine.cpus)} × ${String(summary.machine.cpuModel)}, ${String(summary.machine.memoryGiB)} GiB, ${String(summary.machine.os)}, Node ${String(summary.machine.node)}, ${String(summary.machine.git)}, codex ${String(summary.machine.codex)}`,
  `Load: ${before.uptime} → ${after.uptime}`,
  "",
  ...results.flatMap((r) => [`### ${r.title}`, "", `Sizes: ${JSON.stringify(r.sizes)}; load average ${r.loadBefore.loadavg.join(" ")} → ${r.loadAfter.loadavg.join(" ")}`, "", formatTable(r.table), ""]),
  "### Targets",
  "",
  formatTable(rows),
  "",
].join("\n");
writeFileSync(path.join(RESULTS_DIR, "summary.md"), md);
console.log(`\n# Summary (${summary.durationS} s)\n\n${formatTable(rows)}\n`);
if (failed.length > 0) console.log(`FAILED to run: ${failed.join(", ")}`);
console.log("wrote bench/results/summary.json and bench/results/summary.md");
process.exitCode = failed.length > 0 ? 1 : 0;
