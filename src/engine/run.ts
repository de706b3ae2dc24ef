import type { ExecutorName } from "../config/schema.js";
import type { PriceTable } from "../executors/pricing.js";
import type { RunLinks, RunPhase, RunResult } from "../store/runs.js";
import type { Progress } from "../types.js";

/** How every pipeline runs its agents, whichever kind of work: limits, cancellation, record, live view. */
export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  run: RunTracker;
  /** Prices Codex's tokens; default the built-in table. */
  priceTable?: PriceTable;
  onProgress?: (p: Progress, agent: ExecutorName) => void;
  onEvent?: (line: string) => void;
}

/**
 * What a pipeline tells the run history as a run goes, whichever door started it: the app's worker
 * (jobs/run-tracker.ts) and the local doors (local/history.ts) each implement it over the same run
 * store. History is for operators: a failure to write it never fails the run.
 */
export interface RunTracker {
  phase(name: RunPhase, ms: number): void;
  /** Times `fn` as a phase, also when it throws. */
  timed<T>(name: RunPhase, fn: () => Promise<T>): Promise<T>;
  link(links: RunLinks): void;
  describe(info: { baseSha?: string; headSha?: string; prTitle?: string; executors?: string[] }): void;
  event(line: string): void;
  diff(text: string): void;
  /** The run's result; the last call wins. Whoever owns the run finishes it with it. */
  settle(result: RunResult): void;
  readonly result: RunResult | null;
}

/** Times `fn` as a phase of `run`; the shared body of every tracker's `timed`. */
export async function timePhase<T>(run: Pick<RunTracker, "phase">, name: RunPhase, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    run.phase(name, Date.now() - started);
  }
}
