import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { benchDir, PROJECT_ROOT, summarize, type Summary } from "./common.js";

/**
 * Measures what a durable commit costs on this disk right now: a separate process commits a small
 * row to a SQLite file (WAL, synchronous=FULL, like the app's queue) every 20 ms and prints each
 * latency as it goes. Run alongside a load test, it shows whether the machine's disk (shared with
 * other work) was slow at that moment, without blocking the load generator's event loop.
 *
 * One probe serves a whole measurement and is asked for windows of it: starting a Node process per
 * round put its start-up (~100 ms of CPU) into the first moments of every round, on the same 2
 * cores as the app under test, and into that round's p99.
 */
const SCRIPT = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at INTEGER, pad TEXT)");
const insert = db.prepare("INSERT INTO probe (at, pad) VALUES (?, ?)");
process.stdout.write("ready\\n");
const timer = setInterval(() => {
  const t = performance.now();
  insert.run(Date.now(), "x".repeat(2000));
  process.stdout.write(String(performance.now() - t) + "\\n");
}, 20);
process.on("SIGTERM", () => {
  clearInterval(timer);
  db.close();
  process.exit(0);
});
`;

export interface DiskProbe {
  /** Starts a window; the returned function ends it and summarises the commits made within it. */
  window(): () => Summary;
  stop(): Promise<void>;
}

/** Starts the probe process and resolves once it has opened its file and is committing. */
export async function startDiskProbe(): Promise<DiskProbe> {
  const file = path.join(benchDir("disk-probe"), `probe-${process.pid}.sqlite`);
  const child = spawn(process.execPath, ["-e", SCRIPT, path.join(PROJECT_ROOT, "node_modules", "better-sqlite3"), file], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const times: number[] = [];
  let rest = "";
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout.on("data", (c: Buffer) => {
    const lines = (rest + c.toString("utf8")).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "ready") signalReady();
      else if (line) times.push(Number(line));
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await Promise.race([ready, exited]);
  return {
    window: () => {
      const from = times.length;
      return () => summarize(times.slice(from));
    },
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    },
  };
}
