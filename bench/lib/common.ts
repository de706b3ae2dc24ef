import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Shared plumbing for the bench scripts: where they keep their data (under the project's .data/,
 * never the system temp dir: codex cannot run sandboxed commands there), statistics, the printed
 * table and the JSON result file.
 */

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BENCH_DATA = path.join(PROJECT_ROOT, ".data", "bench");
export const RESULTS_DIR = path.join(PROJECT_ROOT, "bench", "results");

/** BENCH_QUICK=1 shrinks every size so the whole suite runs in a couple of minutes. */
export const QUICK = process.env.BENCH_QUICK === "1" || process.env.BENCH_QUICK === "true";

/** An integer knob from the environment, e.g. envInt("BENCH_WEBHOOKS", 500, 100). */
export function envInt(name: string, full: number, quick: number): number {
  const raw = process.env[name];
  if (raw !== undefined && raw.trim() !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
    return n;
  }
  return QUICK ? quick : full;
}

export function benchDir(...parts: string[]): string {
  const dir = path.join(BENCH_DATA, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Nearest-rank percentile (p in 0..100): with fewer than 100 samples, p99 is the maximum. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export interface Summary {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  return {
    n,
    median: percentile(values, 50),
    p99: percentile(values, 99),
    min: n ? Math.min(...values) : Number.NaN,
    max: n ? Math.max(...values) : Number.NaN,
    mean: n ? values.reduce((a, b) => a + b, 0) / n : Number.NaN,
  };
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Load average and uptime as `uptime` prints them, so every figure carries how busy the machine was. */
export function loadNow(): { loadavg: [number, number, number]; uptime: string } {
  const [a, b, c] = os.loadavg();
  let uptime = "";
  try {
    uptime = execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    uptime = `load average: ${a!.toFixed(2)}, ${b!.toFixed(2)}, ${c!.toFixed(2)}`;
  }
  return { loadavg: [round(a!, 2), round(b!, 2), round(c!, 2)], uptime };
}

function commandVersion(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  let codex = "unknown";
  try {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "node_modules/@openai/codex/package.json"), "utf8")) as { version: string };
    codex = pkg.version;
  } catch {
    // not installed
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    git: commandVersion("git", ["--version"]),
    codex,
  };
}

export type Row = Record<string, string | number>;

/** Prints rows as an aligned text table (also valid Markdown). */
export function formatTable(rows: readonly Row[]): string {
  if (rows.length === 0) return "(no rows)";
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined): string => (v === undefined ? "" : typeof v === "number" ? String(round(v, 2)) : v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(columns), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n");
}

/**
 * One target check. `value` is the measured figure and `floor` its floor or peer from the same run
 * (Probot's no-op app, /health, `--help`…), both as numbers in `unit`, for bench/results/summary.json.
 */
export interface BenchTarget {
  target: string;
  measured: string;
  met: boolean;
  note?: string;
  value?: number;
  floor?: number;
  unit?: string;
}

export interface BenchResult {
  name: string;
  title: string;
  startedAt: string;
  durationS: number;
  quick: boolean;
  command: string;
  machine: Record<string, unknown>;
  loadBefore: ReturnType<typeof loadNow>;
  loadAfter: ReturnType<typeof loadNow>;
  sizes: Record<string, unknown>;
  /** The rows printed as the table. */
  table: Row[];
  /** Target checks: what was aimed for, what was measured, and whether it was met. */
  targets: BenchTarget[];
  details: Record<string, unknown>;
}

/** Runs one benchmark body, prints its table and targets, and writes bench/results/<name>.json. */
export async function runBench(
  name: string,
  title: string,
  body: () => Promise<Pick<BenchResult, "sizes" | "table" | "targets" | "details">>,
): Promise<BenchResult> {
  const started = Date.now();
  const loadBefore = loadNow();
  console.log(`\n## ${title}${QUICK ? " (BENCH_QUICK)" : ""}\n${loadBefore.uptime}`);
  const out = await body();
  const loadAfter = loadNow();
  const result: BenchResult = {
    name,
    title,
    startedAt: new Date(started).toISOString(),
    durationS: round((Date.now() - started) / 1000, 1),
    quick: QUICK,
    command: `${QUICK ? "BENCH_QUICK=1 " : ""}npm run bench:${name}`,
    machine: machine(),
    loadBefore,
    loadAfter,
    ...out,
  };
  console.log(`\n${formatTable(result.table)}\n\nsizes: ${JSON.stringify(result.sizes)}`);
  for (const t of result.targets) {
    console.log(`${t.met ? "MET   " : "MISSED"} ${t.target}: ${t.measured}${t.note ? ` (${t.note})` : ""}`);
  }
  console.log(`${loadAfter.uptime}\n(${result.durationS} s)`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${path.relative(PROJECT_ROOT, file)}`);
  return result;
}

/** Runs `main` when the file is the process entry point (so run-all can also import helpers safely). */
export function isEntry(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && path.resolve(entry) === fileURLToPath(metaUrl);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on this machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * SIGTERM (the app or worker drains its queue and exits), SIGKILL after graceMs. `exited` resolves when
 * the child has exited. A cleared timer, not sleep(): a pending one would keep the bench alive for graceMs.
 */
export async function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
}
