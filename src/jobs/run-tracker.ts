import type { Logger } from "pino";
import { timePhase, type RunTracker } from "../engine/run.js";
import type { Effect, EffectKind, EffectLedger } from "../store/effects.js";
import type { RunLinks, RunPhase, RunResult, RunStore } from "../store/runs.js";
import type { Job } from "../types.js";

export type { RunTracker };

/** The app's run tracker: the shared one, plus what the job owns on GitHub across attempts (issue 22). */
export interface JobRunTracker extends RunTracker {
  /** This start of the job: 1, or more when a crash or restart interrupted earlier ones (0: no history). */
  readonly attempt: number;
  /** The check run an earlier attempt created and recorded, or null. */
  readonly checkRunId: number | null;
  /** Records the check run the job created or took over, as soon as it exists. */
  ownCheckRun(id: number, name: string): void;
  /** What this job created on GitHub (store/effects.ts); a no-op record when the app keeps no history. */
  readonly effects: JobEffects;
}

/** The effect ledger bound to one job. */
export interface JobEffects {
  intend(kind: EffectKind, key: string, detail?: unknown): void;
  created(kind: EffectKind, key: string, found: { githubId: string | number; url?: string | null }): void;
  completed(kind: EffectKind, key: string, githubId?: string | number): void;
  failed(kind: EffectKind, key: string, detail: unknown): void;
  get(kind: EffectKind, key: string): Effect | null;
  /** Gives what this job created of `kind` to the job that carries its work on (jobs/defer.ts). */
  handOver(kind: EffectKind, toJobId: string): void;
  /** This job's effects of one kind (e.g. the fix branches it pushed), oldest first. */
  list(kind: EffectKind): Effect[];
}

/** The ledger of `jobId`, whose failures are logged, never thrown: losing the record must not cost the job. */
export function jobEffects(runs: RunStore | null, jobId: string, log: Logger): JobEffects {
  const safely = <T>(what: string, fn: (ledger: EffectLedger) => T, fallback: T): T => {
    if (!runs) return fallback;
    try {
      return fn(runs.effects);
    } catch (err) {
      log.warn({ err, what }, "effect ledger write failed");
      return fallback;
    }
  };
  return {
    intend: (kind, key, detail) => safely("intend", (l) => l.intend(jobId, kind, key, detail), undefined),
    created: (kind, key, found) => safely("created", (l) => l.created(jobId, kind, key, found), undefined),
    completed: (kind, key, githubId) => safely("completed", (l) => l.completed(jobId, kind, key, githubId), undefined),
    failed: (kind, key, detail) => safely("failed", (l) => l.failed(jobId, kind, key, detail), undefined),
    get: (kind, key) => safely("get", (l) => l.get(jobId, kind, key), null),
    handOver: (kind, toJobId) => safely("hand over", (l) => l.handOver(jobId, toJobId, kind), undefined),
    list: (kind) => safely("list", (l) => l.forJob(jobId).filter((e) => e.kind === kind), []),
  };
}

const EVENT_BATCH = 50;

export function trackRun(runs: RunStore | null, job: Job, log: Logger): JobRunTracker & { begin(): void; end(fallback: RunResult): void } {
  let runId: string | null = null;
  let attempt = 0;
  let checkRunId: number | null = null;
  let result: RunResult | null = null;
  let pending: string[] = [];
  const safely = (what: string, fn: (id: string) => void): void => {
    if (!runs || runId === null) return;
    try {
      fn(runId);
    } catch (err) {
      log.warn({ err, what }, "run history write failed");
    }
  };
  const flush = (): void => {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    safely("events", (id) => runs!.appendEvents(id, lines));
  };

  const tracker = {
    begin() {
      if (!runs) return;
      try {
        // The intake created the run when the job was accepted; a job from another process or an
        // older version may not have one yet.
        const prior = runs.ensure(job);
        runId = prior.id;
        checkRunId = prior.checkRunId;
        attempt = prior.attempts + 1;
        runs.start(runId);
        runs.phase(runId, "queue", Math.max(0, Date.now() - job.enqueuedAt));
      } catch (err) {
        log.warn({ err }, "run history unavailable for this job");
        runId = null;
      }
    },
    phase(name: RunPhase, ms: number) {
      safely("phase", (id) => runs!.phase(id, name, ms));
    },
    timed<T>(name: RunPhase, fn: () => Promise<T>): Promise<T> {
      return timePhase(tracker, name, fn);
    },
    link(links: RunLinks) {
      safely("link", (id) => runs!.link(id, links));
    },
    describe(info: { baseSha?: string; headSha?: string; prTitle?: string; executors?: string[] }) {
      safely("describe", (id) => runs!.describe(id, info));
    },
    event(line: string) {
      if (!runs || runId === null) return;
      pending.push(line);
      if (pending.length >= EVENT_BATCH) flush();
    },
    diff(text: string) {
      safely("diff", (id) => runs!.setDiff(id, text));
    },
    settle(r: RunResult) {
      result = r;
    },
    get result() {
      return result;
    },
    get attempt() {
      return attempt;
    },
    get checkRunId() {
      return checkRunId;
    },
    ownCheckRun(id: number, name: string) {
      checkRunId = id;
      safely("check run", (rid) => runs!.recordCheckRun(rid, id, name));
    },
    effects: jobEffects(runs, job.id, log),
    end(fallback: RunResult) {
      flush();
      const final = result ?? fallback;
      safely("finish", (id) => runs!.finish(id, final));
    },
  };
  return tracker;
}
