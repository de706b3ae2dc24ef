import type { Logger } from "pino";
import type { RunStore } from "./runs.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Runs handled per transaction: each slice holds the write lock (and the event loop) for a few ms. */
const SLICE = 500;
/** Pages (4 KiB) given back per incremental_vacuum step. */
const VACUUM_PAGES = 2048;

export interface RetentionPolicy {
  /** RUN_RETENTION_DAYS: run records (and whatever logs they still have) older than this are deleted. */
  runDays: number;
  /** RUN_LOG_RETENTION_DAYS: event logs and diffs of finished runs older than this are deleted. */
  logDays: number;
}

export interface RetentionReport {
  runs: number;
  logs: number;
  pagesFreed: number;
}

/**
 * One retention pass: old runs, then old logs, then the freed pages back to the file system. Works in
 * slices with a turn of the event loop between them, so a first pass over months of history does not
 * hold webhooks up (each slice is one short transaction).
 */
export async function applyRetention(runs: RunStore, policy: RetentionPolicy): Promise<RetentionReport> {
  const report: RetentionReport = { runs: 0, logs: 0, pagesFreed: 0 };
  const logDays = Math.min(policy.logDays, policy.runDays);
  for (let n = SLICE; n === SLICE; report.runs += n) {
    n = runs.prune(policy.runDays * DAY_MS, SLICE);
    await yieldTurn();
  }
  for (let n = SLICE; n === SLICE; report.logs += n) {
    n = runs.pruneLogs(logDays * DAY_MS, SLICE);
    await yieldTurn();
  }
  for (let n = VACUUM_PAGES; n > 0; report.pagesFreed += n) {
    n = runs.vacuum(VACUUM_PAGES);
    await yieldTurn();
  }
  return report;
}

/** Applies the policy now and then every `everyMs` (default 6 hours) for the life of the process. */
export function scheduleRetention(runs: RunStore, policy: RetentionPolicy, log: Logger, everyMs = DAY_MS / 4): NodeJS.Timeout {
  let busy = false;
  const pass = (): void => {
    if (busy) return;
    busy = true;
    applyRetention(runs, policy)
      .then((r) => {
        if (r.runs + r.logs + r.pagesFreed > 0) log.info({ ...r, ...runs.space() }, "pruned old run history");
      })
      .catch((err: unknown) => log.warn({ err }, "run pruning failed"))
      .finally(() => (busy = false));
  };
  pass();
  const timer = setInterval(pass, everyMs);
  timer.unref();
  return timer;
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
