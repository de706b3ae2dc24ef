import type { Logger } from "pino";
import type { Job } from "../types.js";
import {
  isAutomatic,
  logicalKey,
  NAMED_AHEAD,
  prKey,
  type EnqueueResult,
  type JobQueue,
  type JobWorker,
  type PositionOf,
  type QueuePosition,
  type SupersededHandler,
} from "./queue.js";
import { LocalSignalClaims } from "./signal-claims.js";

interface Running {
  job: Job;
  controller: AbortController;
  done: Promise<void>;
}

export interface MemoryQueueOptions {
  concurrency: number;
  log: Logger;
  /** How many delivery ids to remember for redelivery detection. */
  rememberDeliveries?: number;
  /** Told when a pending review is dropped for a newer head (its first signal is completed as cancelled). */
  onSuperseded?: SupersededHandler;
}

/**
 * In-process queue: fast and simple, but jobs are lost if the process dies (the durable queue is a
 * separate backend behind the same interface). Guarantees per PR: at most one running job, and an
 * automatic review for a newer head replaces a pending one and aborts a running one for an older head;
 * commands are never dropped.
 */
export class MemoryQueue implements JobQueue {
  private readonly pending: Job[] = [];
  private readonly running = new Map<string, Running>();
  private readonly seenDeliveries = new Set<string>();
  private readonly activeKeys = new Set<string>();
  private worker: JobWorker | null = null;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private wakeTimer: NodeJS.Timeout | null = null;
  readonly signals = new LocalSignalClaims();

  constructor(private readonly options: MemoryQueueOptions) {}

  async enqueue(job: Job): Promise<EnqueueResult> {
    if (this.seenDeliveries.has(job.deliveryId)) return { accepted: false, reason: "duplicate-delivery" };
    this.rememberDelivery(job.deliveryId);
    const key = logicalKey(job);
    if (this.activeKeys.has(key)) return { accepted: false, reason: "duplicate-request" };

    if (isAutomatic(job)) this.supersedeOlder(job);
    this.activeKeys.add(key);
    this.pending.push(job);
    this.pump();
    return { accepted: true };
  }

  start(worker: JobWorker): void {
    this.worker = worker;
    this.pump();
  }

  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const all = [...this.running.values()];
    const timer = setTimeout(() => all.forEach((r) => r.controller.abort(new Error("shutting down"))), graceMs);
    await Promise.allSettled(all.map((r) => r.done));
    clearTimeout(timer);
  }

  idle(): Promise<void> {
    if (this.pending.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A scan of the pending list: this queue lives in one process and holds what its workers have not started. */
  async position(job: PositionOf): Promise<QueuePosition | null> {
    let ahead = 0;
    const aheadInRepo: QueuePosition["aheadInRepo"] = [];
    for (const other of this.pending) {
      if (other.id === job.id) {
        let running = 0;
        for (const r of this.running.values()) if (r.job.installationId === job.installationId) running++;
        return { ahead, running, aheadInRepo };
      }
      if (other.installationId !== job.installationId) continue;
      ahead++;
      if (aheadInRepo.length < NAMED_AHEAD && other.repo.owner === job.repo.owner && other.repo.name === job.repo.name) {
        aheadInRepo.push({ prNumber: other.prNumber, mode: other.mode });
      }
    }
    return null;
  }

  /** A newer head makes older automatic reviews of the same PR pointless. */
  private supersedeOlder(job: Job): void {
    const pr = prKey(job);
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const other = this.pending[i]!;
      if (prKey(other) === pr && isAutomatic(other) && other.pull?.headSha !== job.pull?.headSha) {
        this.pending.splice(i, 1);
        this.activeKeys.delete(logicalKey(other));
        this.options.log.info({ jobId: other.id, by: job.id }, "pending review superseded by a newer push");
        const handler = this.options.onSuperseded;
        if (handler) {
          const reason = `superseded by a push of ${job.pull?.headSha ?? "a newer head"}`;
          Promise.resolve()
            .then(() => handler(other, reason))
            .catch((err: unknown) => this.options.log.error({ err, jobId: other.id }, "onSuperseded handler failed"));
        }
      }
    }
    const running = this.running.get(pr);
    if (running && isAutomatic(running.job) && running.job.pull?.headSha !== job.pull?.headSha) {
      this.options.log.info({ jobId: running.job.id, by: job.id }, "cancelling review of an outdated head");
      running.controller.abort(new Error(`superseded by a push of ${job.pull?.headSha ?? "a newer head"}`));
    }
  }

  private pump(): void {
    if (!this.worker || this.stopping) return;
    const now = Date.now();
    while (this.running.size < this.options.concurrency) {
      const index = this.pending.findIndex((j) => !this.running.has(prKey(j)) && (j.notBefore ?? 0) <= now);
      if (index < 0) break;
      const [job] = this.pending.splice(index, 1);
      this.launch(job!);
    }
    this.wakeForDelayed(now);
    this.notifyIdle();
  }

  /** A job that may not start yet needs a timer: nothing else calls pump() when its time comes. */
  private wakeForDelayed(now: number): void {
    const waits = this.pending.map((j) => j.notBefore ?? 0).filter((t) => t > now);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    if (waits.length === 0) return;
    this.wakeTimer = setTimeout(() => this.pump(), Math.min(...waits) - now);
    this.wakeTimer.unref();
  }

  private launch(job: Job): void {
    const controller = new AbortController();
    const pr = prKey(job);
    const worker = this.worker!;
    const done = (async () => {
      try {
        await worker(job, controller.signal);
      } catch (err) {
        // The worker maps errors to user-facing outcomes itself; anything here is a bug.
        this.options.log.error({ err, jobId: job.id }, "job worker threw");
      } finally {
        this.running.delete(pr);
        this.activeKeys.delete(logicalKey(job));
        this.pump();
      }
    })();
    this.running.set(pr, { job, controller, done });
  }

  private rememberDelivery(id: string): void {
    this.seenDeliveries.add(id);
    const max = this.options.rememberDeliveries ?? 10_000;
    if (this.seenDeliveries.size > max) {
      const oldest = this.seenDeliveries.values().next().value;
      if (oldest !== undefined) this.seenDeliveries.delete(oldest);
    }
  }

  private notifyIdle(): void {
    if (this.pending.length > 0 || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((w) => w());
  }
}
