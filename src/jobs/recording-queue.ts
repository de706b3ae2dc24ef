import type { Logger } from "pino";
import type { RunStore } from "../store/runs.js";
import type { Job } from "../types.js";
import type { FirstSignals } from "./first-signal.js";
import type { EnqueueResult, JobQueue, JobWorker, PositionOf, QueuePosition, QueueStats, SignalClaims } from "./queue.js";

/**
 * A burst's queued runs are written once the intake has been quiet this long, in one transaction…
 */
const RECORD_QUIET_MS = 20;
/** …or this long after the first of them, whichever comes first, so a steady stream is recorded too. */
const RECORD_MAX_WAIT_MS = 250;
/**
 * Runs per transaction, one slice per event-loop turn: a run costs ~40 µs, so the 400 runs of a long
 * burst in one go would stall every answer still in flight by ~16 ms.
 */
const RECORD_SLICE = 50;

/**
 * Puts every accepted job on the runs page as "queued" right after it is accepted, so operators see
 * the backlog, not only what already started, and sends its first signals on the pull request (a
 * queued check run, the 👀 on a command: first-signal.ts) in the background, after the webhook's
 * answer. Duplicates are neither recorded nor signalled: they are not jobs.
 *
 * The run records wait for a lull in the intake (at most RECORD_MAX_WAIT_MS): during a burst of
 * webhooks the event loop answers GitHub first, and the burst's runs are then one transaction
 * instead of one per group commit. Nothing depends on them being there sooner: the job itself is
 * durable before the answer, and a worker that starts it first records its run itself (ensure, not
 * create). A crash in between leaves the run to be recorded when the job starts.
 *
 * `runs` is null in a web-only process (WORKERS=0): it can't know when a worker elsewhere finishes a
 * job, so the run record is left to the worker; the first signals are sent all the same.
 */
export class RecordingQueue implements JobQueue {
  private toRecord: Job[] = [];
  private recordTimer: NodeJS.Timeout | null = null;
  private firstWaitingAt = 0;

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
    if (result.accepted && this.runs) this.scheduleRecord(job);
    const signals = this.firstSignals;
    // The next turn: the handler's answer to GitHub goes out first. send() logs its own failures.
    if (result.accepted && signals) setImmediate(() => void signals.send(job));
    return result;
  }

  /** Writes the queued runs still waiting for a lull now (the MCP tool answers with the run's id). */
  recordPending(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = null;
    const jobs = this.toRecord;
    this.toRecord = [];
    this.write(jobs);
  }

  /** One slice now; the rest on the next turns, answers in between. */
  private recordSlice(): void {
    this.recordTimer = null;
    this.write(this.toRecord.splice(0, RECORD_SLICE));
    if (this.toRecord.length > 0) this.recordTimer = setTimeout(() => this.recordSlice(), 0);
  }

  private write(jobs: Job[]): void {
    if (jobs.length === 0 || !this.runs) return;
    try {
      this.runs.ensureAll(jobs);
    } catch (err) {
      this.log.warn({ err, jobIds: jobs.map((j) => j.id) }, "could not record the queued runs");
    }
  }

  private scheduleRecord(job: Job): void {
    const now = Date.now();
    if (this.toRecord.length === 0) this.firstWaitingAt = now;
    this.toRecord.push(job);
    const wait = Math.max(0, Math.min(RECORD_QUIET_MS, this.firstWaitingAt + RECORD_MAX_WAIT_MS - now));
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = setTimeout(() => this.recordSlice(), wait);
  }

  position(job: PositionOf): Promise<QueuePosition | null> {
    return this.inner.position ? this.inner.position(job) : Promise.resolve(null);
  }

  start(worker: JobWorker): void {
    this.inner.start(worker);
  }

  stop(graceMs?: number): Promise<void> {
    this.recordPending();
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
    this.recordPending();
    await this.inner.close?.();
  }
}
