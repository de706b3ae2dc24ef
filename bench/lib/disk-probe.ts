import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { benchDir, PROJECT_ROOT, summarize, type Summary } from "./common.js";

/**
 * Measures what a durable commit costs on this disk right now: a separate process commits a small
 * row to a SQLite file (WAL, synchronous=FULL, like the app's queue) every 20 ms and reports the
 * latencies when stopped. Run alongside a load test, it shows whether the machine's disk (shared with
 * other work) was slow at that moment, without blocking the load generator's event loop.
 */
const SCRIPT = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at INTEGER, pad TEXT)");
const insert = db.prepare("INSERT INTO probe (at, pad) VALUES (?, ?)");
const times = [];
const timer = setInterval(() => {
  const t = performance.now();
  insert.run(Date.now(), "x".repeat(2000));
  times.push(performance.now() - t);
}, 20);
process.on("SIGTERM", () => {
  clearInterval(timer);
  db.close();
  process.stdout.write(JSON.stringify(times));
  process.exit(0);
});
`;

export interface DiskProbe {
  stop(): Promise<Summary>;
}

export function startDiskProbe(): DiskProbe {
  const file = path.join(benchDir("disk-probe"), `probe-${process.pid}.sqlite`);
  const child = spawn(process.execPath, ["-e", SCRIPT, path.join(PROJECT_ROOT, "node_modules", "better-sqlite3"), file], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      let times: number[] = [];
      try {
        times = JSON.parse(out) as number[];
      } catch {
        times = [];
      }
      return summarize(times);
    },
  };
}
