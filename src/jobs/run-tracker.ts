import type { Logger } from "pino";
import { timePhase, type RunTracker } from "../engine/run.js";
import type { RunLinks, RunPhase, RunResult, RunStore } from "../store/runs.js";
import type { Job } from "../types.js";

export type { RunTracker };

const EVENT_BATCH = 50;

export function trackRun(runs: RunStore | null, job: Job, log: Logger): RunTracker & { begin(): void; end(fallback: RunResult): void } {
  let runId: string | null = null;
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
        runId = runs.byJob(job.id)?.id ?? runs.create(job);
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
    end(fallback: RunResult) {
      flush();
      const final = result ?? fallback;
      safely("finish", (id) => runs!.finish(id, final));
    },
  };
  return tracker;
}
