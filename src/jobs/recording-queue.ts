import type { Logger } from "pino";
import type { RunStore } from "../store/runs.js";
import type { Job } from "../types.js";
import type { EnqueueResult, JobQueue, JobWorker, QueueStats } from "./queue.js";

/**
 * Puts every accepted job on the runs page as "queued" the moment it is accepted, so operators see
 * the backlog, not only what already started. Duplicates are not recorded: they are not jobs.
 */
export class RecordingQueue implements JobQueue {
  constructor(
    private readonly inner: JobQueue,
    private readonly runs: RunStore,
    private readonly log: Logger,
  ) {}

  async enqueue(job: Job): Promise<EnqueueResult> {
    const result = await this.inner.enqueue(job);
    if (result.accepted) {
      try {
        // The worker may already have started it (and created the run): check first.
        if (!this.runs.byJob(job.id)) this.runs.create(job);
      } catch (err) {
        this.log.warn({ err, jobId: job.id }, "could not record the queued run");
      }
    }
    return result;
  }

  start(worker: JobWorker): void {
    this.inner.start(worker);
  }

  stop(graceMs?: number): Promise<void> {
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
