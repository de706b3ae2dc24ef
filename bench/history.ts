import { spawnSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { listRuns } from "../src/cli/runs.js";
import { openDatabase } from "../src/store/db.js";
import { applyRetention } from "../src/store/retention.js";
import { RunStore, type FinalRunStatus } from "../src/store/runs.js";
import { runsRoutes } from "../src/web/runs-routes.js";
import { makeJob } from "../test/helpers/queue-fixtures.js";
import { benchDir, envInt, isEntry, PROJECT_ROOT, round, runBench, summarize, type Row, type Summary } from "./lib/common.js";

/**
 * Figure 4: history that lasts. A run store of RUNS runs (90 days of history, 8 repositories, a
 * tenth of them local CLI runs, each with an event log of LINES lines), then what an operator
 * touches: the file's size, the runs page's first page over HTTP (against /health on the same
 * server: the floor), the `runs` CLI (in process, and the whole process against the same command on
 * an empty store: the floor), a page deep in the history, and one retention pass (RUN_RETENTION_DAYS=30,
 * RUN_LOG_RETENTION_DAYS=14) with what it gives back to the disk.
 */

const RUNS = envInt("BENCH_HISTORY_RUNS", 100_000, 10_000);
const LINES = envInt("BENCH_HISTORY_LINES", 20, 20);
const REQUESTS = envInt("BENCH_HISTORY_REQUESTS", 50, 20);
const CLI_RUNS = envInt("BENCH_HISTORY_CLI", 5, 3);
const HISTORY_DAYS = 90;
const DAY = 24 * 60 * 60 * 1000;
const TOKEN = "bench-runs-token";
const STATUSES: FinalRunStatus[] = ["succeeded", "succeeded", "succeeded", "succeeded", "failed", "cancelled", "succeeded"];

function fill(file: string, now: number): { seconds: number } {
  const started = performance.now();
  const db = openDatabase(file, { synchronous: "NORMAL" });
  const runs = new RunStore(db);
  const realNow = Date.now;
  const line = (n: number): string => JSON.stringify({ type: "item.completed", n, item: { type: "agent_message", text: "x".repeat(180) } });
  const events = Array.from({ length: LINES }, (_, n) => line(n));
  try {
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const at = now - HISTORY_DAYS * DAY + Math.floor((i * HISTORY_DAYS * DAY) / RUNS);
        Date.now = () => at;
        let id: string;
        if (i % 10 === 9) {
          id = runs.createLocal({
            source: "cli",
            repo: `octo/repo-${i % 8}`,
            workdir: `/home/dev/repo-${i % 8}`,
            mode: "review",
            executors: ["codex"],
            baseRef: "main",
            headRef: "HEAD",
            baseSha: "b".repeat(40),
            headSha: "a".repeat(40),
            owner: { host: "bench-host", pid: 1 },
          });
        } else {
          const job = makeJob({ pr: (i % 500) + 1 });
          id = runs.create({ ...job, repo: { ...job.repo, owner: "octo", name: `repo-${i % 8}`, htmlUrl: `https://github.com/octo/repo-${i % 8}` } });
          runs.start(id);
        }
        runs.appendEvents(id, events);
        Date.now = () => at + 60_000;
        runs.finish(id, { status: STATUSES[i % STATUSES.length]!, findings: i % 5, costUsd: 0.01 });
      }
    });
    for (let from = 0; from < RUNS; from += 5_000) batch(from, Math.min(RUNS, from + 5_000));
  } finally {
    Date.now = realNow;
    runs.close();
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
  }
  return { seconds: (performance.now() - started) / 1000 };
}

function fileBytes(file: string): number {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      total += statSync(`${file}${suffix}`).size;
    } catch {
      // no WAL
    }
  }
  return total;
}

async function timeRequests(url: string, n: number, headers: Record<string, string>): Promise<{ first: number; warm: Summary; bytes: number }> {
  const once = async (): Promise<{ ms: number; bytes: number }> => {
    const t = performance.now();
    const res = await fetch(url, { headers });
    const text = await res.text();
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    return { ms: performance.now() - t, bytes: text.length };
  };
  const first = await once();
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push((await once()).ms);
  return { first: first.ms, warm: summarize(times), bytes: first.bytes };
}

function timeProcess(args: string[], env: NodeJS.ProcessEnv): { ms: number; out: string } {
  const t = performance.now();
  const res = spawnSync(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "src/cli.ts"), ...args], { cwd: PROJECT_ROOT, env, encoding: "utf8" });
  const ms = performance.now() - t;
  if (res.status !== 0) throw new Error(`codex-pr-bot ${args.join(" ")} exited ${res.status}: ${res.stderr}`);
  return { ms, out: res.stdout };
}

export async function main(): Promise<void> {
  await runBench("history", "4. History that lasts", async () => {
    const dir = benchDir("history");
    const file = path.join(dir, "codex-pr-bot.sqlite");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    const now = Date.now();
    const filled = fill(file, now);
    const sizeFull = fileBytes(file);

    // The app's view: a store on the file, the runs routes on a plain HTTP server.
    const store = new RunStore(file);
    const server = http.createServer((req, res) => {
      void Promise.resolve(runsRoutes({ runs: store, token: TOKEN, stats: async () => ({ pending: 0, running: 0 }) })(req, res)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const middle = store.list({ limit: 1, before: store.list({ limit: 1 })[0]!.id });
    const deepCursor = (() => {
      // A cursor half-way down the history, as after paging far back.
      let before = middle[0]!.id;
      for (let i = 0; i < Math.floor(RUNS / 2 / 200); i++) before = store.list({ limit: 200, before }).at(-1)!.id;
      return before;
    })();
    // The client's connection is made first, so the first /runs measures the app, not the TCP set-up.
    await fetch(`${base}/health`).then((r) => r.text());
    const page = await timeRequests(`${base}/runs`, REQUESTS, auth);
    const pageJson = await timeRequests(`${base}/runs?format=json`, REQUESTS, auth);
    const pageRepo = await timeRequests(`${base}/runs?repo=octo/repo-3&status=failed`, REQUESTS, auth);
    const pageDeep = await timeRequests(`${base}/runs?before=${deepCursor}`, REQUESTS, auth);
    const health = await timeRequests(`${base}/health`, REQUESTS, {});
    await new Promise<void>((resolve) => server.close(() => resolve()));

    // The CLI: what `codex-pr-bot runs` does in process, then the whole command against an empty store.
    const cliTimes: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      listRuns([file], { limit: 20 });
      cliTimes.push(performance.now() - t);
    }
    const cli = summarize(cliTimes);
    const env = { ...process.env, DATABASE_PATH: file, HOME: os.homedir() };
    // The floor: the same command on an empty store (same start-up, imports and schema, no history).
    const emptyEnv = { ...env, DATABASE_PATH: path.join(dir, "empty.sqlite") };
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${emptyEnv.DATABASE_PATH}${suffix}`, { force: true });
    new RunStore(emptyEnv.DATABASE_PATH).close();
    const emptyTimes: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      listRuns([emptyEnv.DATABASE_PATH], { limit: 20 });
      emptyTimes.push(performance.now() - t);
    }
    const cliEmpty = summarize(emptyTimes);
    const cliProcess = summarize(Array.from({ length: CLI_RUNS }, () => timeProcess(["runs", "--limit", "20"], env).ms));
    const emptyProcess = summarize(Array.from({ length: CLI_RUNS }, () => timeProcess(["runs", "--limit", "20"], emptyEnv).ms));

    // Retention at this size: a third of the history goes, logs of the next fortnight and a half too.
    const retentionStarted = performance.now();
    const report = await applyRetention(store, { runDays: 30, logDays: 14 });
    const retentionS = (performance.now() - retentionStarted) / 1000;
    const space = store.space();
    store.close();
    const checkpoint = openDatabase(file);
    checkpoint.pragma("wal_checkpoint(TRUNCATE)");
    checkpoint.close();
    const sizeAfter = fileBytes(file);
    const MiB = 2 ** 20;

    const table: Row[] = [
      { measure: "runs page, first page (HTML, 50 runs)", "first ms": round(page.first, 1), "p50 ms": round(page.warm.median, 1), "p99 ms": round(page.warm.p99, 1), floor: `/health p99 ${round(health.warm.p99, 1)} ms` },
      { measure: "runs page, first page (JSON)", "first ms": round(pageJson.first, 1), "p50 ms": round(pageJson.warm.median, 1), "p99 ms": round(pageJson.warm.p99, 1) },
      { measure: "runs page, repo + status filter", "first ms": round(pageRepo.first, 1), "p50 ms": round(pageRepo.warm.median, 1), "p99 ms": round(pageRepo.warm.p99, 1) },
      { measure: `runs page, ${Math.floor(RUNS / 2)} runs deep (keyset cursor)`, "first ms": round(pageDeep.first, 1), "p50 ms": round(pageDeep.warm.median, 1), "p99 ms": round(pageDeep.warm.p99, 1) },
      { measure: "runs CLI, in process (open, settle, list 20)", "p50 ms": round(cli.median, 1), "p99 ms": round(cli.p99, 1), floor: `empty store p99 ${round(cliEmpty.p99, 1)} ms` },
      { measure: "runs CLI, whole process", "p50 ms": round(cliProcess.median, 0), "p99 ms": round(cliProcess.p99, 0), floor: `empty store ${round(emptyProcess.median, 0)} ms` },
      { measure: `database, ${RUNS} runs × ${LINES} log lines`, "size MiB": round(sizeFull / MiB, 1), "bytes/run": round(sizeFull / RUNS, 0), note: `filled in ${round(filled.seconds, 1)} s` },
      {
        measure: "retention pass (30 d runs, 14 d logs)",
        "size MiB": round(sizeAfter / MiB, 1),
        note: `${report.runs} runs and ${report.logs} logs pruned, ${report.pagesFreed} pages freed in ${round(retentionS, 1)} s; free ${round(space.freeBytes / MiB, 1)} MiB, auto_vacuum ${space.autoVacuum}`,
      },
    ];
    return {
      sizes: { runs: RUNS, linesPerRun: LINES, historyDays: HISTORY_DAYS, requests: REQUESTS, cliRuns: CLI_RUNS },
      table,
      targets: [
        {
          target: `runs page first page < 100 ms at ${RUNS} runs (p99)`,
          measured: `${round(page.warm.p99, 1)} ms (first request ${round(page.first, 1)} ms); floor /health ${round(health.warm.p99, 1)} ms`,
          met: page.warm.p99 < 100 && page.first < 100,
          value: round(page.warm.p99, 1),
          floor: round(health.warm.p99, 1),
          unit: "ms",
        },
        {
          target: `runs CLI first page < 100 ms at ${RUNS} runs (p99, in process: open the store, settle, list 20)`,
          measured: `${round(cli.p99, 1)} ms (p50 ${round(cli.median, 1)}); on an empty store ${round(cliEmpty.p99, 1)} ms (floor); whole process ${round(cliProcess.median, 0)} ms vs ${round(emptyProcess.median, 0)} ms on the empty store (Node + tsx start-up)`,
          met: cli.p99 < 100,
          value: round(cli.p99, 1),
          floor: round(cliEmpty.p99, 1),
          unit: "ms",
        },
        {
          target: "retention gives the disk back (file smaller after a pass)",
          measured: `${round(sizeFull / MiB, 1)} MiB → ${round(sizeAfter / MiB, 1)} MiB`,
          met: sizeAfter < sizeFull,
          value: round(sizeAfter / MiB, 1),
          floor: round(sizeFull / MiB, 1),
          unit: "MiB",
        },
      ],
      details: { cliEmpty, page, pageJson, pageRepo, pageDeep, health, cli, cliProcess, emptyProcess, report, retentionS, space, sizeFull, sizeAfter, filledS: filled.seconds },
    };
  });
}

if (isEntry(import.meta.url)) await main();
