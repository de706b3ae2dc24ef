import type { Logger } from "pino";
import type { RunStore } from "../store/runs.js";
import type { Job } from "../types.js";
import type { FirstSignals } from "./first-signal.js";
import type { EnqueueResult, JobQueue, JobWorker, PositionOf, QueuePosition, QueueStats, SignalClaims } from "./queue.js";

/**
 * Puts every accepted job on the runs page as "queued" the moment it is accepted, so operators see
 * the backlog, not only what already started, and sends its first signals on the pull request (a
 * queued check run, the 👀 on a command: first-signal.ts) in the background, after the webhook's
 * answer. Duplicates are neither recorded nor signalled: they are not jobs.
 *
 * `runs` is null in a web-only process (WORKERS=0): it can't know when a worker elsewhere finishes a
 * job, so the run record is left to the worker; the first signals are sent all the same.
 */
export class RecordingQueue implements JobQueue {
  private toRecord: Job[] = [];
  private recorded: Promise<void> | null = null;

  constructor(
    private readonly inner: JobQueue,
    private readonly runs: RunStore | null,
    private readonly log: Logger,
    private readonly firstSignals: FirstSignals | null = null,
  ) {}

  get signals(): SignalClaims | undefined {
    return this.inner.signals;
  }

  async enqueue(job: Job): Promise<EnqueueResult> {
    const result = await this.inner.enqueue(job);
    if (result.accepted && this.runs) await this.record(job);
    const signals = this.firstSignals;
    // The next turn: the handler's answer to GitHub goes out first. send() logs its own failures.
    if (result.accepted && signals) setImmediate(() => void signals.send(job));
    return result;
  }

  /**
   * Records the job's run as queued before the webhook's answer. The enqueues of one group commit
   * resolve together, so their runs are recorded together: one transaction per burst, not per job.
   * The worker may already have started it (and recorded the run): ensure, not create.
   */
  private record(job: Job): Promise<void> {
    this.toRecord.push(job);
    this.recorded ??= new Promise<void>((resolve) => {
      // A microtask: it runs after the continuations of every enqueue that resolved with this one.
      queueMicrotask(() => {
        const jobs = this.toRecord;
        this.toRecord = [];
        this.recorded = null;
        try {
          this.runs!.ensureAll(jobs);
        } catch (err) {
          this.log.warn({ err, jobIds: jobs.map((j) => j.id) }, "could not record the queued runs");
        }
        resolve();
      });
    });
    return this.recorded;
  }

  position(job: PositionOf): Promise<QueuePosition | null> {
    return this.inner.position ? this.inner.position(job) : Promise.resolve(null);
  }

  start(worker: JobWorker): void {
    this.inner.start(worker);
  }

  stop(graceMs?: number): Promise<void> {
    this.firstSignals?.stop();
    return this.inner.stop(graceMs);
  }

  idle(): Promise<void> {
    return this.inner.idle();
  }

  async stats(): Promise<QueueStats> {
    return this.inner.stats ? this.inner.stats() : { pending: 0, running: 0 };
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
