import { DelayedError, Job as BullJob, Queue, WaitingError, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Job } from "../types.js";
import {
  isAutomatic,
  logicalKey,
  NAMED_AHEAD,
  prKey,
  type DurableQueueOptions,
  type EnqueueResult,
  type JobQueue,
  type JobWorker,
  type PositionOf,
  type QueuePosition,
  type QueueStats,
  type SentSignal,
  type SignalClaims,
} from "./queue.js";

export interface BullQueueOptions extends DurableQueueOptions {
  /** redis://… or rediss://… */
  url: string;
  /** BullMQ queue name; also namespaces this class's own keys. Default "codex-pr-bot". */
  queueName?: string;
  /** BullMQ key prefix. Default "bull". */
  prefix?: string;
  /**
   * How long a running job's locks last without renewal. A dead worker's job is noticed after this
   * plus up to two stalled-check intervals. Default 30 s.
   */
  lockMs?: number;
  /** How often workers look for jobs whose worker died. Default 30 s. */
  stalledIntervalMs?: number;
  /** Delay before retrying a job whose PR is busy. Default 2 s. */
  busyRetryMs?: number;
  /**
   * How long a job whose installation is at its limit is parked. A worker ending a job of that
   * installation promotes the installation's oldest parked job at once; this is the backstop for a
   * slot freed by a dead worker's lease running out. Default: lockMs × 2.
   */
  parkMs?: number;
  /** How long delivery ids are remembered for redelivery detection. Default 7 days. */
  deliveryTtlMs?: number;
}

interface Running {
  job: Job;
  controller: AbortController;
  endReason: "superseded" | "shutdown" | null;
}

interface CancelMessage {
  pr: string;
  head: string | null;
  by: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const SHUTDOWN_REASON = "shutting down";
const PENDING_STATES = ["waiting", "delayed", "prioritized", "waiting-children"] as const;

// Both slots or neither: a job holding its PR while waiting for an installation slot would block
// the PR for nothing. Redis time, so worker hosts with skewed clocks agree on expiry.
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`;

const REFRESH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

// The intake's publish: only over its own claim, never over a worker's take-over.
const PUBLISH_SIGNAL = `
if redis.call('GET', KEYS[1]) ~= 'sending' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// Undo our head update after a failed add, unless a newer push already replaced it.
const RESTORE_HEAD = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/**
 * The scale-out queue: jobs live in Redis through BullMQ and any number of processes work on them.
 * Same contract as the other queues, built from BullMQ's open-source features plus a few keys:
 *
 * - Redelivery: a `delivery:<id>` key set with NX and a TTL (7 days) remembers delivery ids longer
 *   than BullMQ keeps finished jobs. Logical dedupe: an `active:<logical key>` key set with NX holds the
 *   job id while the job is pending or running and is deleted when it ends.
 * - One running job per PR and a per-installation limit across processes: a PR lock key and an
 *   installation semaphore (sorted set), both leases renewed while the job runs. BullMQ groups would
 *   do this but are Pro-only, so a worker that finds its PR busy moves the job to "delayed" for
 *   busyRetryMs and takes the next one. A job whose installation is at its limit is parked (delayed
 *   for parkMs, listed in the installation's parked list) and promoted, first parked first, when a job
 *   of its installation ends: retrying it every busyRetryMs made the workers cycle through a busy
 *   installation's whole backlog while a slot was free (2,000 jobs: ~17,600 Redis commands a second).
 * - Supersede: enqueuing an automatic review records the PR's latest head and publishes a cancel
 *   message; workers abort a running review of another head at once, re-check the latest head every
 *   lockMs/3 in case they missed the message, and skip a pending review whose head is outdated when it
 *   comes up.
 * - Crashes: BullMQ's stalled-job check returns a dead worker's job to the queue; after maxAttempts - 1
 *   such returns it fails the job, and onAbandoned is told.
 *
 * Limits, honestly: order is FIFO except for jobs that were delayed because their PR was busy (they
 * rejoin behind newer jobs, and two waiting commands on one busy PR may run in either order); the
 * global concurrency limit is per process (the sum over workers); a job is durable once Redis has it,
 * which survives a Redis restart only with AOF persistence (`appendonly yes`); a Redis outage makes
 * enqueue fail (the webhook answers 500 and GitHub shows the delivery as failed, for redelivery).
 */
export class BullQueue implements JobQueue {
  /** Enqueue side: fails a command after a few reconnect attempts, so a webhook gets a timely 500. */
  private readonly redis: Redis;
  /** Worker side: waits for Redis to come back (BullMQ requires this for blocking connections). */
  private consumer: Redis | null = null;
  private readonly queue: Queue<Job, string, "job">;
  private readonly ns: string;
  private readonly running = new Map<string, Running>();
  private readonly maxAttempts: number;
  private readonly perInstallation: number;
  private readonly lockMs: number;
  private subscriber: Redis | null = null;
  private bullWorker: Worker<Job, string, "job"> | null = null;
  private worker: JobWorker | null = null;
  private stopping = false;
  private closed = false;
  /** Through Redis: the intake (a web-only process, say) and the worker may be different processes. */
  readonly signals: SignalClaims;

  constructor(private readonly options: BullQueueOptions) {
    const name = options.queueName ?? "codex-pr-bot";
    const prefix = options.prefix ?? "bull";
    this.ns = `${prefix}:${name}:cpb`;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 2);
    this.perInstallation = Math.max(1, options.perInstallation ?? Math.max(1, options.concurrency));
    this.lockMs = options.lockMs ?? 30_000;
    this.redis = new Redis(options.url, { maxRetriesPerRequest: 3 });
    this.redis.on("error", (err) => options.log.warn({ err: redact(err) }, "redis connection error"));
    this.queue = new Queue<Job, string, "job">(name, { connection: this.redis, prefix });
    this.queue.on("error", (err) => options.log.warn({ err: redact(err) }, "bullmq queue error"));
    this.signals = new RedisSignalClaims(this.redis, `${this.ns}:signal`);
  }

  async enqueue(job: Job): Promise<EnqueueResult> {
    if (this.closed) throw new Error("queue is closed");
    const deliveryKey = `${this.ns}:delivery:${job.deliveryId}`;
    const activeKey = this.activeKey(job);
    const ttl = this.options.deliveryTtlMs ?? 7 * DAY_MS;
    if ((await this.redis.set(deliveryKey, job.id, "PX", ttl, "NX")) === null) {
      return { accepted: false, reason: "duplicate-delivery" };
    }
    // The TTL only guards against a key outliving its job through a bug; jobs end long before.
    if ((await this.redis.set(activeKey, job.id, "PX", DAY_MS, "NX")) === null) {
      return { accepted: false, reason: "duplicate-request" };
    }
    const headKey = this.headKey(prKey(job));
    const head = job.pull?.headSha ?? null;
    let previousHead: string | null = null;
    try {
      if (isAutomatic(job)) {
        // Before the add: a worker that picks the new job up must already see it as the latest.
        previousHead = await this.redis.set(headKey, head ?? "", "PX", 30 * DAY_MS, "GET");
      }
      await this.queue.add("job", job, {
        jobId: job.id,
        ...(job.notBefore !== undefined && job.notBefore > Date.now() ? { delay: job.notBefore - Date.now() } : {}),
        removeOnComplete: { age: DAY_MS / 1000, count: 1000 },
        removeOnFail: { age: (7 * DAY_MS) / 1000 },
      });
    } catch (err) {
      // Forget the delivery so GitHub's redelivery of this webhook is accepted.
      await this.redis.del(deliveryKey, activeKey).catch(() => undefined);
      if (isAutomatic(job)) {
        await this.redis.eval(RESTORE_HEAD, 1, headKey, head ?? "", previousHead ?? "", 30 * DAY_MS).catch(() => undefined);
      }
      throw err;
    }
    await this.noteWaiting(job).catch((err: unknown) => this.options.log.warn({ err: redact(err), jobId: job.id }, "could not index the job's queue position"));
    if (isAutomatic(job)) {
      const message: CancelMessage = { pr: prKey(job), head, by: job.id };
      this.cancelOutdated(message);
      await this.redis
        .publish(this.cancelChannel(), JSON.stringify(message))
        .catch((err: unknown) => this.options.log.warn({ err: redact(err) }, "could not publish a cancel message"));
    }
    return { accepted: true };
  }

  start(worker: JobWorker): void {
    this.worker = worker;
    if (this.options.concurrency < 1) {
      this.options.log.info("queue started without workers: this process only enqueues");
      return;
    }
    const consumer = new Redis(this.options.url, { maxRetriesPerRequest: null });
    consumer.on("error", (err) => this.options.log.warn({ err: redact(err) }, "redis connection error"));
    this.consumer = consumer;
    const subscriber = consumer.duplicate();
    this.subscriber = subscriber;
    subscriber.on("error", (err) => this.options.log.warn({ err: redact(err) }, "redis subscriber error"));
    subscriber.on("message", (_channel: string, raw: string) => {
      try {
        this.cancelOutdated(JSON.parse(raw) as CancelMessage);
      } catch (err) {
        this.options.log.warn({ err }, "ignoring a malformed cancel message");
      }
    });
    subscriber
      .subscribe(this.cancelChannel())
      .catch((err: unknown) => this.options.log.error({ err: redact(err) }, "cannot subscribe to cancel messages"));

    const bullWorker = new Worker<Job, string, "job">(this.queue.name, (j, token) => this.process(j, token), {
      connection: consumer,
      prefix: this.options.prefix ?? "bull",
      concurrency: this.options.concurrency,
      lockDuration: this.lockMs,
      stalledInterval: this.options.stalledIntervalMs ?? 30_000,
      maxStalledCount: this.maxAttempts - 1,
      removeOnComplete: { age: DAY_MS / 1000, count: 1000 },
      removeOnFail: { age: (7 * DAY_MS) / 1000 },
    });
    this.bullWorker = bullWorker;
    bullWorker.on("error", (err) => this.options.log.warn({ err: redact(err) }, "bullmq worker error"));
    // The processor never throws except to delay or requeue, so a failure here is BullMQ's verdict:
    // the job stalled too often (its workers died) or its lock was lost.
    bullWorker.on("failed", (bullJob, err) => {
      if (!bullJob) return;
      void this.onFailed(bullJob.data, err);
    });
  }

  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    const bullWorker = this.bullWorker;
    if (bullWorker) {
      // close() stops fetching at once and resolves when the running jobs have ended.
      const closing = bullWorker.close();
      if (!(await within(closing, graceMs))) {
        const left = [...this.running.values()];
        for (const r of left) this.abort(r, "shutdown", new Error(SHUTDOWN_REASON));
        this.options.log.info({ jobs: left.map((r) => r.job.id) }, "requeueing jobs still running after the grace period");
        if (!(await within(closing, Math.min(graceMs, 5_000)))) {
          this.options.log.warn("jobs did not end after abort; BullMQ's stalled check will requeue them");
        }
      }
    }
    await this.subscriber?.quit().catch(() => undefined);
    this.subscriber = null;
  }

  async idle(): Promise<void> {
    for (;;) {
      const s = await this.stats();
      if (s.pending === 0 && s.running === 0 && this.running.size === 0) return;
      await sleep(50);
    }
  }

  async stats(): Promise<QueueStats> {
    const counts = await this.queue.getJobCounts(...PENDING_STATES, "active");
    const pending = PENDING_STATES.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    return { pending, running: counts.active ?? 0 };
  }

  /**
   * From a per-installation sorted set of waiting jobs (scored by enqueue time) kept beside BullMQ's
   * lists: ZRANK is O(log n), and only the NAMED_AHEAD×10 oldest entries ahead are read to name the
   * repository's own. BullMQ's own lists can't say this cheaply (a job delayed because its PR was busy
   * sits in another list), and they mix installations.
   */
  async position(job: PositionOf): Promise<QueuePosition | null> {
    if (this.closed) return null;
    const [waiting, info] = this.waitingKeys(job.installationId);
    const rank = await this.redis.zrank(waiting, job.id);
    if (rank === null) return null;
    const running = await this.redis.zcount(`${this.ns}:installation:${job.installationId}`, String(Date.now()), "+inf");
    const aheadInRepo: QueuePosition["aheadInRepo"] = [];
    if (rank > 0) {
      const ids = await this.redis.zrange(waiting, "0", String(Math.min(rank, NAMED_AHEAD * 10) - 1));
      const rows = ids.length > 0 ? await this.redis.hmget(info, ...ids) : [];
      for (const raw of rows) {
        if (raw === null || aheadInRepo.length >= NAMED_AHEAD) continue;
        const other = JSON.parse(raw) as { repo: string; prNumber: number; mode: Job["mode"] };
        if (other.repo === `${job.repo.owner}/${job.repo.name}`) aheadInRepo.push({ prNumber: other.prNumber, mode: other.mode });
      }
    }
    return { ahead: rank, running, aheadInRepo };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.bullWorker && !this.stopping) await this.stop(0);
    await this.bullWorker?.close(true).catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    await this.consumer?.quit().catch(() => undefined);
    await this.redis.quit().catch(() => undefined);
  }

  private async process(bullJob: BullJob<Job, string, "job">, token: string | undefined): Promise<string> {
    const job = bullJob.data;
    const id = bullJob.id ?? job.id;
    const log = this.options.log.child({ jobId: job.id });
    if (await this.isOutdated(job)) {
      log.info("pending review superseded by a newer push");
      await this.releaseRequest(job);
      await this.forgetWaiting(job);
      try {
        await this.options.onSuperseded?.(job, "superseded by a newer push");
      } catch (err) {
        log.error({ err }, "onSuperseded handler failed");
      }
      return "superseded";
    }
    const [prLock, instSlots] = this.slotKeys(job);
    const redis = this.consumer!;
    const acquired = await redis.eval(ACQUIRE, 2, prLock, instSlots, id, this.lockMs, this.perInstallation);
    if (acquired === -1) {
      // The installation is at its limit: parked until a job of it ends (promoteParked) or, should
      // that never come, parkMs.
      const parked = this.parkedKey(job.installationId);
      await redis.multi().rpush(parked, id).pexpire(parked, 7 * DAY_MS).exec();
      await bullJob.moveToDelayed(Date.now() + (this.options.parkMs ?? 2 * this.lockMs), token);
      throw new DelayedError();
    }
    if (acquired !== 1) {
      // The PR is busy: retried soon.
      await bullJob.moveToDelayed(Date.now() + (this.options.busyRetryMs ?? 2_000), token);
      throw new DelayedError();
    }

    await this.forgetWaiting(job);
    const entry: Running = { job, controller: new AbortController(), endReason: null };
    this.running.set(id, entry);
    const keepAlive = setInterval(() => void this.keepAlive(id, entry), Math.max(50, Math.floor(this.lockMs / 3)));
    try {
      // The push may have landed between the first check and taking the lock.
      if (await this.isOutdated(job)) {
        this.abort(entry, "superseded", new Error("superseded by a newer push"));
        // The worker never sees it: its first signal (a queued check run) is completed here.
        await Promise.resolve(this.options.onSuperseded?.(job, "superseded by a newer push")).catch((err: unknown) =>
          log.error({ err }, "onSuperseded handler failed"),
        );
      } else await this.worker!(job, entry.controller.signal);
    } catch (err) {
      // The worker maps errors to user-facing outcomes itself; anything here is a bug.
      log.error({ err }, "job worker threw");
    } finally {
      clearInterval(keepAlive);
      this.running.delete(id);
      await redis.eval(RELEASE, 2, prLock, instSlots, id).catch((err: unknown) => log.warn({ err: redact(err) }, "could not release job locks"));
      await this.promoteParked(job.installationId);
    }
    if (entry.endReason === "shutdown") {
      // Front of the queue: it was running, so it goes first when a worker comes back.
      await bullJob.moveToWait(token);
      throw new WaitingError();
    }
    await this.releaseRequest(job);
    return entry.endReason === "superseded" ? "cancelled" : "done";
  }

  private async keepAlive(id: string, entry: Running): Promise<void> {
    try {
      const [prLock, instSlots] = this.slotKeys(entry.job);
      await this.consumer!.eval(REFRESH, 2, prLock, instSlots, id, this.lockMs);
      if (await this.isOutdated(entry.job)) {
        this.options.log.info({ jobId: entry.job.id }, "cancelling review of an outdated head");
        this.abort(entry, "superseded", new Error("superseded by a newer push"));
      }
    } catch (err) {
      this.options.log.warn({ err: redact(err), jobId: entry.job.id }, "job heartbeat failed");
    }
  }

  private cancelOutdated(message: CancelMessage): void {
    for (const entry of this.running.values()) {
      const j = entry.job;
      if (prKey(j) === message.pr && isAutomatic(j) && (j.pull?.headSha ?? null) !== message.head) {
        this.options.log.info({ jobId: j.id, by: message.by }, "cancelling review of an outdated head");
        this.abort(entry, "superseded", new Error(`superseded by a push of ${message.head ?? "a newer head"}`));
      }
    }
  }

  private async isOutdated(job: Job): Promise<boolean> {
    if (!isAutomatic(job)) return false;
    const latest = await (this.consumer ?? this.redis).get(this.headKey(prKey(job)));
    return latest !== null && latest !== (job.pull?.headSha ?? "");
  }

  private async onFailed(job: Job, err: Error): Promise<void> {
    await this.releaseRequest(job).catch(() => undefined);
    await this.forgetWaiting(job).catch(() => undefined);
    const stalled = /stalled/i.test(err.message);
    const reason = stalled
      ? `The job was interrupted ${this.maxAttempts} time${this.maxAttempts === 1 ? "" : "s"} (the process running it stopped) and will not be retried.`
      : `The job could not be completed by the queue (${err.message}).`;
    this.options.log.error({ jobId: job.id, err }, "giving up on a job");
    const handler = this.options.onAbandoned;
    if (!handler) return;
    try {
      await handler(job, reason);
    } catch (e) {
      this.options.log.error({ err: e, jobId: job.id }, "onAbandoned handler failed");
    }
  }

  private async releaseRequest(job: Job): Promise<void> {
    await (this.consumer ?? this.redis).eval(DELETE_IF, 1, this.activeKey(job), job.id);
  }

  private abort(entry: Running, reason: "superseded" | "shutdown", cause: Error): void {
    if (entry.controller.signal.aborted) return;
    entry.endReason = reason;
    entry.controller.abort(cause);
  }

  /**
   * A slot of the installation is free: its first parked job goes back to the wait list. The parked
   * list holds only jobs parked for the installation's limit, in the order they were parked (a job
   * delayed for its notBefore or a busy PR is never in it). An entry whose job is already waiting
   * again (parkMs ran out) means that job takes the slot; one that ran or ended is dropped. Best
   * effort: parkMs is the backstop.
   */
  private async promoteParked(installationId: number): Promise<void> {
    const parked = this.parkedKey(installationId);
    try {
      for (let id = await this.consumer!.lpop(parked); id !== null; id = await this.consumer!.lpop(parked)) {
        const candidate = await BullJob.fromId<Job, string, "job">(this.queue, id);
        const state = candidate ? await candidate.getState() : null;
        if (state === "waiting" || state === "prioritized") return;
        if (state !== "delayed") continue;
        await candidate!.promote();
        return;
      }
    } catch (err) {
      // Promoted meanwhile by another worker, or Redis is away: the job wakes at parkMs anyway.
      this.options.log.debug({ err: redact(err), installationId }, "could not promote a parked job");
    }
  }

  private async noteWaiting(job: Job): Promise<void> {
    const [waiting, info] = this.waitingKeys(job.installationId);
    const ttl = 7 * DAY_MS;
    await this.redis
      .multi()
      .zadd(waiting, job.enqueuedAt, job.id)
      .hset(info, job.id, JSON.stringify({ repo: `${job.repo.owner}/${job.repo.name}`, prNumber: job.prNumber, mode: job.mode }))
      .pexpire(waiting, ttl)
      .pexpire(info, ttl)
      .exec();
  }

  private async forgetWaiting(job: Job): Promise<void> {
    const [waiting, info] = this.waitingKeys(job.installationId);
    const redis = this.consumer ?? this.redis;
    await redis
      .multi()
      .zrem(waiting, job.id)
      .hdel(info, job.id)
      .exec()
      .catch((err: unknown) => this.options.log.warn({ err: redact(err), jobId: job.id }, "could not drop the job from the queue position index"));
  }

  private waitingKeys(installationId: number): [string, string] {
    return [`${this.ns}:waiting:${installationId}`, `${this.ns}:waiting-info:${installationId}`];
  }

  private activeKey(job: Job): string {
    return `${this.ns}:active:${logicalKey(job)}`;
  }

  private headKey(pr: string): string {
    return `${this.ns}:head:${pr}`;
  }

  private parkedKey(installationId: number): string {
    return `${this.ns}:parked:${installationId}`;
  }

  private slotKeys(job: Job): [string, string] {
    return [`${this.ns}:pr-lock:${prKey(job)}`, `${this.ns}:installation:${job.installationId}`];
  }

  private cancelChannel(): string {
    return `${this.ns}:cancel`;
  }
}

/** SignalClaims kept in Redis, one key per job: "sending" (the intake's claim), the sent signal as JSON, or "taken". */
class RedisSignalClaims implements SignalClaims {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(jobId: string): Promise<boolean> {
    return (await this.redis.set(this.key(jobId), "sending", "PX", DAY_MS, "NX")) !== null;
  }

  async publish(jobId: string, sent: SentSignal): Promise<void> {
    await this.redis.eval(PUBLISH_SIGNAL, 1, this.key(jobId), JSON.stringify(sent), DAY_MS);
  }

  async takeOver(jobId: string, waitMs: number): Promise<SentSignal | null | "unknown"> {
    const key = this.key(jobId);
    if ((await this.redis.set(key, "taken", "PX", DAY_MS, "NX")) !== null) return null;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const value = await this.redis.get(key);
      if (value === null || value === "taken") return null;
      if (value !== "sending") {
        await this.redis.set(key, "taken", "PX", DAY_MS);
        return JSON.parse(value) as SentSignal;
      }
      if (Date.now() >= deadline) {
        await this.redis.set(key, "taken", "PX", DAY_MS);
        return "unknown";
      }
      await sleep(100);
    }
  }

  async taken(jobId: string): Promise<boolean> {
    return (await this.redis.get(this.key(jobId))) === "taken";
  }

  private key(jobId: string): string {
    return `${this.prefix}:${jobId}`;
  }
}

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([promise.then(() => true as const, () => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** ioredis errors can quote the connection URL, password included. */
function redact(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const copy = new Error(err.message.replace(/\/\/[^@\s/]*@/g, "//***@"));
  copy.name = err.name;
  return copy;
}
