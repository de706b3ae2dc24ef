import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Db } from "./db.js";

/**
 * WAL checkpoints off the event loop. A checkpoint copies the WAL into the database and, with
 * synchronous=NORMAL, fsyncs both: on a busy shared disk that is tens to hundreds of milliseconds,
 * and SQLite's automatic checkpoint runs it inside whichever commit crosses 1,000 pages, stalling
 * every webhook in flight. Here a worker thread with its own connection runs a PASSIVE checkpoint
 * (never blocks writers or readers) every `everyMs`, and the app's connections only checkpoint
 * themselves past SAFETY_NET_PAGES, should the worker fall behind or die. One worker per file,
 * shared by every connection of the process that asks for it.
 */

/** ~40 MiB of WAL at 4 KiB pages before a connection checkpoints on its own thread. */
const SAFETY_NET_PAGES = 10_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 1000");
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.everyMs);
parentPort.on("message", (msg) => {
  if (msg !== "stop") return;
  clearInterval(timer);
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
  db.close();
  parentPort.close();
});
`;

interface Shared {
  worker: Worker;
  users: number;
}

const workers = new Map<string, Shared>();

/**
 * Hands this connection's checkpoints to the file's background worker. Returns the release function
 * to call before closing the connection. In-memory databases have no WAL: a no-op.
 */
export function checkpointInBackground(db: Db, everyMs = 500): () => Promise<void> {
  if (db.memory) return async () => undefined;
  const file = path.resolve(db.name);
  db.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  let shared = workers.get(file);
  if (!shared) {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, everyMs, driver: createRequire(import.meta.url).resolve("better-sqlite3") },
    });
    // The app's connections checkpoint on their own past the safety net: the worker is an optimisation.
    worker.on("error", () => workers.delete(file));
    worker.on("message", () => undefined);
    worker.unref();
    shared = { worker, users: 0 };
    workers.set(file, shared);
  }
  shared.users++;
  const mine = shared;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--mine.users > 0) return;
    if (workers.get(file) === mine) workers.delete(file);
    const exited = new Promise<void>((resolve) => mine.worker.once("exit", () => resolve()));
    // Unref'd while it runs; a caller awaiting the release must keep the process up until it exits
    // (a script that closes its queue last otherwise ends with the await unsettled, exit code 13).
    mine.worker.ref();
    mine.worker.postMessage("stop");
    await exited;
  };
}
