import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Cancelled, ExecutorError } from "../errors.js";
import { costOf } from "../executors/pricing.js";
import { DATABASE_FILE } from "../store/db.js";
import { timePhase, type RunTracker } from "../engine/run.js";
import { RunStore, type LocalRunInit, type LocalRunSource, type RunPhase, type RunResult } from "../store/runs.js";
import { redactSecrets } from "../review/sanitize.js";
import { historyDatabasePath, type LocalHistorySettings } from "./settings.js";

/**
 * The local front doors' run history: every `review` / `fix` (CLI, MCP tools, the Action) becomes a
 * run in the same SQLite run store the app writes, so `codex-pr-bot runs`, `get_run` and the runs
 * page show them next to the app's. History is a convenience: a failure to write it is a warning on
 * stderr, never a failed review.
 */

/**
 * The run stores to read, in order: the local history's file, and the app's default
 * `./.data/codex-pr-bot.sqlite` when neither DATA_DIR nor DATABASE_PATH says where the app keeps its
 * runs (the app's own default, so `runs` in the app's directory keeps showing them).
 */
export function runDatabaseCandidates(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const files = [historyDatabasePath(env, cwd)];
  if (!env.DATA_DIR?.trim() && !env.DATABASE_PATH?.trim()) files.push(path.resolve(cwd, ".data", DATABASE_FILE));
  return [...new Set(files)];
}

/** The candidates that exist. Reading never creates a database. */
export function existingRunDatabases(env: NodeJS.ProcessEnv, cwd: string): string[] {
  return runDatabaseCandidates(env, cwd).filter((f) => existsSync(f));
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const ABANDONED_MESSAGE = "the process running it ended before it finished (killed or crashed)";

/** Settles this host's local runs whose process is gone. */
export function settleAbandoned(store: RunStore): number {
  return store.settleAbandoned(os.hostname(), isProcessAlive, ABANDONED_MESSAGE);
}

export type Warn = (message: string) => void;

export const stderrWarn: Warn = (message) => {
  process.stderr.write(`codex-pr-bot: warning: ${message}\n`);
};

/** What the engine tells the history about one run; every call is safe (it warns, never throws). */
export interface RunRecord {
  /** Null when nothing is recorded (history off, or the store could not be written). */
  readonly id: string | null;
  phase(name: RunPhase, ms: number): void;
  event(line: string): void;
  /** A fix's patch, shown with the run. */
  diff(text: string): void;
  finish(result: RunResult): void;
}

const EVENT_BATCH = 50;

/** Starts recording a local run; with `history` null (opted out) every call is a no-op. */
export function startLocalRun(history: LocalHistorySettings | null | undefined, init: Omit<LocalRunInit, "owner">, warn: Warn = stderrWarn): RunRecord {
  if (!history) return NO_RECORD;
  let store: RunStore | null = null;
  let id: string | null = null;
  try {
    store = new RunStore(history.databasePath);
    settleAbandoned(store);
    store.pruneLocal(history.retentionDays * 24 * 60 * 60 * 1000);
    id = store.createLocal({ ...init, owner: { host: os.hostname(), pid: process.pid } });
  } catch (err) {
    warn(`could not record this run in ${history.databasePath}: ${message(err)}`);
    store?.close();
    return NO_RECORD;
  }
  const open = store;
  const runId = id;
  const clean = (text: string): string => (history.secrets?.length ? redactSecrets(text, history.secrets) : text);
  let pending: string[] = [];
  let broken = false;
  const safely = (what: string, fn: () => void): void => {
    if (broken) return;
    try {
      fn();
    } catch (err) {
      // One warning per run is enough; later writes would fail the same way.
      broken = true;
      warn(`could not record ${what} of run ${runId}: ${message(err)}`);
    }
  };
  const flush = (): void => {
    if (pending.length === 0) return;
    const lines = pending.map(clean);
    pending = [];
    safely("the event log", () => open.appendEvents(runId, lines));
  };
  let finished = false;
  return {
    id: runId,
    phase(name, ms) {
      safely(`the ${name} time`, () => open.phase(runId, name, ms));
    },
    event(line) {
      pending.push(line);
      if (pending.length >= EVENT_BATCH) flush();
    },
    diff(text) {
      safely("the patch", () => open.setDiff(runId, clean(text)));
    },
    finish(result) {
      if (finished) return;
      finished = true;
      flush();
      // The outcome is worth another try even after the log failed (a busy or briefly full disk).
      broken = false;
      safely("the outcome", () => open.finish(runId, result.error ? { ...result, error: clean(result.error) } : result));
      safely("the run store", () => open.close());
    },
  };
}

const NO_RECORD: RunRecord = { id: null, phase() {}, event() {}, diff() {}, finish() {} };

/** How a run that threw ends: cancelled when interrupted, timed out, else failed; with what it spent. */
export function failureResult(err: unknown, signal?: AbortSignal): RunResult {
  const spent = err instanceof ExecutorError ? err.spent : null;
  const usage = spent?.usage ?? null;
  const costUsd = spent ? (spent.costUsd ?? costOf(spent.usage, spent.model)) : null;
  if (err instanceof Cancelled || signal?.aborted) {
    const reason = signal?.aborted && signal.reason instanceof Error ? signal.reason.message : message(err);
    return { status: "cancelled", error: `interrupted: ${reason}`, usage, costUsd };
  }
  const status = err instanceof ExecutorError && err.kind === "timeout" ? "timed_out" : "failed";
  return { status, error: message(err).slice(0, 2000), usage, costUsd };
}

/**
 * Runs `work` as the recorded run: settles it with `settle(value)` when it returns, and as failed or
 * cancelled when it throws (Ctrl-C aborts the signal, so an interrupted run ends cancelled, not running).
 */
export async function recorded<T>(record: RunRecord, work: () => Promise<T>, settle: (value: T) => RunResult, signal?: AbortSignal): Promise<T> {
  let outcome: RunResult | null = null;
  try {
    const value = await work();
    outcome = settle(value);
    return value;
  } catch (err) {
    outcome = failureResult(err, signal);
    throw err;
  } finally {
    record.finish(outcome ?? { status: "failed", error: "the run ended without an outcome" });
  }
}

/**
 * The record as the engine's run tracker: phases, events and the patch go to the record as they
 * come; the result is kept for `tracked` to finish the run with.
 */
export function localTracker(record: RunRecord): RunTracker {
  let result: RunResult | null = null;
  const tracker: RunTracker = {
    phase: (name, ms) => record.phase(name, ms),
    timed: (name, fn) => timePhase(tracker, name, fn),
    // Links of a local run (the Action's review) are added by its door after the run: recordLinks.
    link: () => undefined,
    describe: () => undefined,
    event: (line) => record.event(line),
    diff: (text) => record.diff(text),
    settle: (r) => {
      result = r;
    },
    get result() {
      return result;
    },
  };
  return tracker;
}

/**
 * Runs `work` as the tracked run, and finishes the record: with what the pipeline settled when it
 * returns, as failed or cancelled when it throws (Ctrl-C aborts the signal, so an interrupted run
 * ends cancelled, not running).
 */
export async function tracked<T>(record: RunRecord, work: (run: RunTracker) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const run = localTracker(record);
  return recorded(record, () => work(run), () => run.result ?? { status: "succeeded" }, signal);
}

/**
 * After a fix: where its patch went (a file, "stdout", "applied", "returned"), and, when delivering it
 * failed (it does not apply, or applies with conflicts), the run becomes failed with that message.
 */
export function recordPatchOutput(
  history: LocalHistorySettings | null | undefined,
  runId: string | null,
  output: string,
  failure: string | null = null,
  warn: Warn = stderrWarn,
): void {
  if (!history || runId === null) return;
  let store: RunStore | null = null;
  try {
    store = new RunStore(history.databasePath);
    store.setPatchOutput(runId, output);
    if (failure !== null) store.finish(runId, { status: "failed", error: failure });
  } catch (err) {
    warn(`could not record where the patch of run ${runId} went: ${message(err)}`);
  } finally {
    store?.close();
  }
}

/** Adds links to a local run (the Action's posted review). */
export function recordLinks(history: LocalHistorySettings | null | undefined, runId: string | null, links: { review?: string }, warn: Warn = stderrWarn): void {
  if (!history || runId === null) return;
  let store: RunStore | null = null;
  try {
    store = new RunStore(history.databasePath);
    store.link(runId, links);
  } catch (err) {
    warn(`could not record the links of run ${runId}: ${message(err)}`);
  } finally {
    store?.close();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export type { LocalRunSource };
