import { randomUUID } from "node:crypto";
import { migrate, openDatabase, type Db, type Migration } from "../store/db.js";
import { checkpointInBackground } from "../store/checkpointer.js";
import { WalSync } from "../store/wal-sync.js";
import type { Job } from "../types.js";
import {
  isAutomatic,
  logicalKey,
  NAMED_AHEAD,
  prKey,
  type AbandonedHandler,
  type DurableQueueOptions,
  type EnqueueResult,
  type JobQueue,
  type JobWorker,
  type PositionOf,
  type QueuePosition,
  type QueueStats,
  type SupersededHandler,
} from "./queue.js";
import { LocalSignalClaims } from "./signal-claims.js";

export type JobStatus = "pending" | "running" | "done" | "failed" | "cancelled" | "superseded";

export interface SqliteQueueOptions extends DurableQueueOptions {
  /** A file path (the queue opens and owns the connection) or an open database (the caller owns it). */
  database: string | Db;
  /** How long a running job's lease lasts without a heartbeat. Default 60 s. */
  leaseMs?: number;
  /** How long delivery ids (and finished job rows) are kept for redelivery detection. Default 7 days. */
  retentionMs?: number;
  /** How often to look for work another process put in the file. Default 2 s. */
  pollMs?: number;
  /**
   * True (default) when this is the only process using the file: every 'running' row found at start
   * belongs to a dead predecessor. With false, only rows whose lease expired are taken over.
   */
  exclusive?: boolean;
  /**
   * What a resolved enqueue() survives. "power-loss" (default): the commit is fsynced (off the event
   * loop, one fsync per group of enqueues) before the promise resolves. "process-crash": it resolves
   * once committed to the WAL in the OS page cache, which survives the app's SIGKILL or crash but not
   * a power cut or kernel panic (the last commits may then be lost, the file is never corrupted).
   */
  durability?: "power-loss" | "process-crash";
}

/** Where one job stands, for tests, the CLI and support questions. */
export interface JobState {
  id: string;
  status: JobStatus;
  attempts: number;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

interface JobRow {
  seq: number;
  id: string;
  payload: string;
  status: JobStatus;
  attempts: number;
  lease_owner: string | null;
  cancel_reason: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

interface EnqueueOutcome {
  result: EnqueueResult;
  superseded: { id: string; payload: string }[];
  cancelled: string[];
}

/** What became of one enqueue of a group commit: its outcome, or the error that refused it alone. */
type GroupOutcome = { ok: true; outcome: EnqueueOutcome } | { ok: false; err: unknown };

/** An enqueue() waiting for the group commit of its event-loop turn. */
interface PendingEnqueue {
  job: Job;
  resolve: (result: EnqueueResult) => void;
  reject: (err: unknown) => void;
}

interface Running {
  job: Job;
  controller: AbortController;
  /** Why this queue aborted the job, which decides the row's final status. */
  endReason: "superseded" | "shutdown" | null;
  done: Promise<void>;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE queue_jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        delivery_id TEXT NOT NULL,
        logical_key TEXT NOT NULL,
        pr_key TEXT NOT NULL,
        installation_id INTEGER NOT NULL,
        automatic INTEGER NOT NULL,
        head_sha TEXT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled', 'superseded')),
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires_at INTEGER,
        cancel_reason TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER
      );
      -- The backstop for logical dedupe: one live job per logical request, whatever the code does.
      CREATE UNIQUE INDEX queue_jobs_live_request ON queue_jobs (logical_key) WHERE status IN ('pending', 'running');
      CREATE INDEX queue_jobs_status ON queue_jobs (status, seq);
      CREATE INDEX queue_jobs_pr ON queue_jobs (pr_key, status);
      CREATE INDEX queue_jobs_installation ON queue_jobs (installation_id, status);
      CREATE INDEX queue_jobs_finished ON queue_jobs (finished_at) WHERE finished_at IS NOT NULL;
      -- Separate from the jobs so a delivery refused as a duplicate request is still remembered.
      CREATE TABLE queue_deliveries (
        delivery_id TEXT PRIMARY KEY,
        job_id TEXT,
        received_at INTEGER NOT NULL
      );
      CREATE INDEX queue_deliveries_received ON queue_deliveries (received_at);
    `,
  },
  {
    // Jobs that must wait (a failed agent's retry later): not claimable before this time.
    version: 2,
    sql: "ALTER TABLE queue_jobs ADD COLUMN not_before INTEGER;",
  },
  {
    // Each installation's pending jobs in order, and nothing else: the claim seeks from one
    // installation with pending work to the next, and a place in line is a range count. It replaces
    // (installation_id, status), whose entries of finished jobs (kept 7 days) every such read crossed.
    version: 3,
    sql: `
      DROP INDEX queue_jobs_installation;
      CREATE INDEX queue_jobs_pending ON queue_jobs (installation_id, seq) WHERE status = 'pending';
    `,
  },
];

const SHUTDOWN_REASON = "shutting down";

/** A pending job `j` that may start now as far as its own pull request goes (the claim's two queries). */
const CLAIMABLE = `j.status = 'pending'
  AND (j.not_before IS NULL OR j.not_before <= @now)
  AND NOT EXISTS (SELECT 1 FROM queue_jobs r WHERE r.status = 'running' AND r.pr_key = j.pr_key)`;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The embedded durable queue: a SQLite file holds every job from the moment enqueue() resolves, so a
 * crash or restart loses nothing. Same per-PR guarantees as MemoryQueue (one running job per PR, a
 * newer head supersedes pending and aborts running automatic reviews of older heads, commands are
 * never dropped), plus leases so a job whose process died is retried or reported, never left running.
 *
 * Meant for one process per file. Several processes on one host can share it (claims are
 * transactions, per-installation limits count every process's rows, cancellations travel through
 * the file), but a supersede reaches another process only at its next heartbeat; for scale-out use
 * the BullMQ backend.
 */
export class SqliteQueue implements JobQueue {
  private readonly db: Db;
  private readonly ownsDb: boolean;
  private readonly owner = randomUUID();
  private readonly running = new Map<string, Running>();
  private readonly maxAttempts: number;
  private readonly perInstallation: number;
  private readonly leaseMs: number;
  private readonly retentionMs: number;
  private worker: JobWorker | null = null;
  private stopping = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private lastPrune = 0;
  private batch: PendingEnqueue[] = [];
  private flushTimer: NodeJS.Immediate | null = null;
  private readonly walSync: WalSync | null;
  private readonly releaseCheckpoints: (() => Promise<void>) | null;
  private readonly sql;
  /** In this process: the embedded queue runs its jobs where they were accepted. */
  readonly signals = new LocalSignalClaims();

  constructor(private readonly options: SqliteQueueOptions) {
    this.ownsDb = typeof options.database === "string";
    // synchronous = NORMAL: a commit is a write() into the WAL, no fsync on the event loop. It keeps the
    // file consistent through any crash and, as the WAL lives in the OS page cache, every commit
    // through a crash or SIGKILL of this process; only a power cut or kernel panic can lose the last
    // commits. What an acknowledged webhook must survive is made durable by WalSync (see durability).
    this.db = typeof options.database === "string" ? openDatabase(options.database, { synchronous: "NORMAL" }) : options.database;
    this.walSync = (options.durability ?? "power-loss") === "power-loss" ? new WalSync(this.db) : null;
    // Checkpoints (two fsyncs each) run on a worker thread, not inside a webhook's commit.
    this.releaseCheckpoints = this.ownsDb ? checkpointInBackground(this.db) : null;
    migrate(this.db, "queue", MIGRATIONS);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 2);
    this.perInstallation = Math.max(1, options.perInstallation ?? options.concurrency);
    this.leaseMs = options.leaseMs ?? 60_000;
    this.retentionMs = options.retentionMs ?? 7 * DAY_MS;
    const db = this.db;
    this.sql = {
      rememberDelivery: db.prepare(
        "INSERT OR IGNORE INTO queue_deliveries (delivery_id, job_id, received_at) VALUES (?, ?, ?)",
      ),
      liveRequest: db
        .prepare("SELECT 1 FROM queue_jobs WHERE logical_key = ? AND status IN ('pending', 'running')")
        .pluck(),
      insert: db.prepare(`INSERT INTO queue_jobs
        (id, delivery_id, logical_key, pr_key, installation_id, automatic, head_sha, payload, status, created_at, not_before)
        VALUES (@id, @deliveryId, @logicalKey, @prKey, @installationId, @automatic, @headSha, @payload, 'pending', @now, @notBefore)`),
      // One seek that usually finds nothing, before the two UPDATE … RETURNING that would (~4× its cost).
      outdatedOfPr: db
        .prepare(`SELECT 1 FROM queue_jobs
          WHERE pr_key = @prKey AND status IN ('pending', 'running') AND automatic = 1 AND head_sha IS NOT @headSha LIMIT 1`)
        .pluck(),
      supersedePending: db.prepare(`UPDATE queue_jobs SET status = 'superseded', finished_at = @now, error = @why
        WHERE pr_key = @prKey AND automatic = 1 AND status = 'pending' AND head_sha IS NOT @headSha
        RETURNING id, payload`),
      cancelRunning: db.prepare(`UPDATE queue_jobs SET cancel_reason = @why
        WHERE pr_key = @prKey AND automatic = 1 AND status = 'running' AND head_sha IS NOT @headSha
        RETURNING id`),
      // The oldest pending job whose pull request has nothing running (the usual case: the first row).
      firstClaimable: db.prepare(`SELECT j.id FROM queue_jobs j WHERE ${CLAIMABLE} ORDER BY j.seq LIMIT 1`),
      // Installations at PER_INSTALLATION_CONCURRENCY, every process's running jobs counted.
      saturated: db
        .prepare("SELECT installation_id FROM queue_jobs WHERE status = 'running' GROUP BY installation_id HAVING COUNT(*) >= ?")
        .pluck(),
      // The next installation (by id) with pending work: one seek in queue_jobs_pending (named: the
      // planner otherwise reads every pending row through queue_jobs_status).
      nextPendingInstallation: db
        .prepare(`SELECT installation_id FROM queue_jobs INDEXED BY queue_jobs_pending
          WHERE status = 'pending' AND installation_id > ? ORDER BY installation_id LIMIT 1`)
        .pluck(),
      firstClaimableOf: db.prepare(
        `SELECT j.id, j.seq FROM queue_jobs j WHERE ${CLAIMABLE} AND j.installation_id = @installationId ORDER BY j.seq LIMIT 1`,
      ),
      claim: db.prepare(`UPDATE queue_jobs
        SET status = 'running', attempts = attempts + 1, lease_owner = @owner, lease_expires_at = @expires,
            started_at = @now, cancel_reason = NULL
        WHERE id = @id AND status = 'pending'
        RETURNING *`),
      settle: db.prepare(`UPDATE queue_jobs
        SET status = @status, error = @error, finished_at = @now, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = @id AND status = 'running' AND lease_owner = @owner`),
      // A graceful requeue is not the job's fault, so it gives the attempt back.
      requeue: db.prepare(`UPDATE queue_jobs
        SET status = 'pending', attempts = MAX(attempts - 1, 0), lease_owner = NULL, lease_expires_at = NULL,
            started_at = NULL, cancel_reason = NULL
        WHERE id = @id AND status = 'running' AND lease_owner = @owner`),
      heartbeat: db.prepare(`UPDATE queue_jobs SET lease_expires_at = @expires
        WHERE status = 'running' AND lease_owner = @owner
        RETURNING id, cancel_reason`),
      orphans: db.prepare(`SELECT * FROM queue_jobs
        WHERE status = 'running' AND lease_owner IS NOT @owner AND (@all = 1 OR lease_expires_at < @now)`),
      retry: db.prepare(`UPDATE queue_jobs
        SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, started_at = NULL, error = @error
        WHERE id = @id AND status = 'running'`),
      abandon: db.prepare(`UPDATE queue_jobs
        SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, finished_at = @now, error = @error
        WHERE id = @id AND status = 'running'`),
      counts: db.prepare(`SELECT
          COALESCE(SUM(status = 'pending'), 0) AS pending,
          COALESCE(SUM(status = 'running'), 0) AS running
        FROM queue_jobs WHERE status IN ('pending', 'running')`),
      state: db.prepare("SELECT * FROM queue_jobs WHERE id = ?"),
      // position(): index ranges (queue_jobs_pending for the pending, queue_jobs_status for the few
      // running), never a scan of the table.
      pendingSeq: db.prepare("SELECT seq FROM queue_jobs WHERE id = ? AND status = 'pending'").pluck(),
      aheadCount: db
        .prepare("SELECT COUNT(*) FROM queue_jobs WHERE installation_id = ? AND status = 'pending' AND seq < ?")
        .pluck(),
      runningCount: db.prepare("SELECT COUNT(*) FROM queue_jobs WHERE installation_id = ? AND status = 'running'").pluck(),
      aheadInRepo: db.prepare(`SELECT pr_key, payload FROM queue_jobs
        WHERE installation_id = @installationId AND status = 'pending' AND seq < @seq AND pr_key >= @lo AND pr_key < @hi
        ORDER BY seq LIMIT ${NAMED_AHEAD}`),
      pruneDeliveries: db.prepare("DELETE FROM queue_deliveries WHERE received_at < ?"),
      pruneJobs: db.prepare(
        "DELETE FROM queue_jobs WHERE finished_at < ? AND status IN ('done', 'failed', 'cancelled', 'superseded')",
      ),
    };
  }

  /**
   * Resolves once the job is durable (see SqliteQueueOptions.durability). Enqueues that arrive in the
   * same event-loop turn (a burst of webhooks) share one transaction and one fsync: group commit.
   */
  enqueue(job: Job): Promise<EnqueueResult> {
    if (this.closed) return Promise.reject(new Error("queue is closed"));
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.batch.push({ job, resolve, reject });
      this.flushTimer ??= setImmediate(() => this.flush());
    });
  }

  /**
   * Commits the pending enqueues in one transaction. A savepoint per job (~30 µs each, a third of an
   * enqueue's cost on the event loop) is only paid when the plain transaction failed: the group is
   * then committed again, each job in its own savepoint, so one job's failure is its own.
   */
  private flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    if (this.closed) {
      for (const p of batch) p.reject(new Error("queue is closed"));
      return;
    }
    const now = Date.now();
    let outcomes: GroupOutcome[];
    try {
      outcomes = this.commitGroup(batch, now);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }

    let accepted = false;
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (!o.ok) return;
      for (const row of o.outcome.superseded) {
        this.options.log.info({ jobId: row.id, by: p.job.id }, "pending review superseded by a newer push");
        this.notify(this.options.onSuperseded, JSON.parse(row.payload) as Job, supersedeReason(p.job), "onSuperseded");
      }
      for (const id of o.outcome.cancelled) {
        const local = this.running.get(id);
        this.options.log.info({ jobId: id, by: p.job.id, local: local !== undefined }, "cancelling review of an outdated head");
        if (local) this.abort(local, "superseded", new Error(supersedeReason(p.job)));
      }
      accepted ||= o.outcome.result.accepted;
    });

    const settle = (): void =>
      batch.forEach((p, i) => {
        const o = outcomes[i]!;
        if (o.ok) p.resolve(o.outcome.result);
        else p.reject(o.err);
      });
    if (this.walSync) {
      this.walSync.sync().then(settle, (err: unknown) => batch.forEach((p) => p.reject(err)));
    } else {
      settle();
    }
    // Next turn: a job's synchronous start (run record, clients) must not delay the webhooks' answers.
    if (accepted) setImmediate(() => this.pump());
  }

  private commitGroup(batch: PendingEnqueue[], now: number): GroupOutcome[] {
    try {
      return this.db
        .transaction(() => batch.map((p): GroupOutcome => ({ ok: true, outcome: this.enqueueOne(p.job, now) })))
        .immediate();
    } catch {
      // Rolled back as a whole: nothing of the group was written. Again, one savepoint per job.
      const one = this.db.transaction((job: Job) => this.enqueueOne(job, now));
      return this.db
        .transaction(() =>
          batch.map((p) => {
            try {
              return { ok: true, outcome: one(p.job) } satisfies GroupOutcome;
            } catch (err) {
              return { ok: false, err } satisfies GroupOutcome;
            }
          }),
        )
        .immediate();
    }
  }

  private enqueueOne(job: Job, now: number): EnqueueOutcome {
    const key = logicalKey(job);
    const pr = prKey(job);
    const headSha = job.pull?.headSha ?? null;
    const none = { superseded: [], cancelled: [] };
    if (this.sql.rememberDelivery.run(job.deliveryId, job.id, now).changes === 0) {
      return { result: { accepted: false, reason: "duplicate-delivery" }, ...none };
    }
    if (this.sql.liveRequest.get(key) !== undefined) {
      return { result: { accepted: false, reason: "duplicate-request" }, ...none };
    }
    let superseded: { id: string; payload: string }[] = [];
    let cancelled: string[] = [];
    if (isAutomatic(job) && this.sql.outdatedOfPr.get({ prKey: pr, headSha }) !== undefined) {
      const why = supersedeReason(job);
      superseded = this.sql.supersedePending.all({ prKey: pr, headSha, why, now }) as { id: string; payload: string }[];
      cancelled = (this.sql.cancelRunning.all({ prKey: pr, headSha, why }) as { id: string }[]).map((r) => r.id);
    }
    this.sql.insert.run({
      id: job.id,
      deliveryId: job.deliveryId,
      logicalKey: key,
      prKey: pr,
      installationId: job.installationId,
      automatic: isAutomatic(job) ? 1 : 0,
      headSha,
      payload: JSON.stringify(job),
      now,
      notBefore: job.notBefore ?? null,
    });
    return { result: { accepted: true }, superseded, cancelled };
  }

  start(worker: JobWorker): void {
    this.worker = worker;
    this.recover();
    this.prune();
    // Leases must stay fresh while jobs finish during stop(), so this timer outlives the poll timer.
    this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.heartbeatTimer.unref();
    this.pollTimer = setInterval(() => this.pump(), this.options.pollMs ?? 2_000);
    this.pollTimer.unref();
    this.pump();
  }

  /**
   * Takes over jobs left 'running' by a dead process: back to pending while attempts remain,
   * otherwise failed and reported through onAbandoned. Runs at start(); safe to call again.
   */
  recover(): { retried: Job[]; abandoned: Job[] } {
    const now = Date.now();
    const exclusive = this.options.exclusive ?? true;
    const { retried, abandoned } = this.db
      .transaction(() => {
        const rows = this.sql.orphans.all({ owner: this.owner, all: exclusive ? 1 : 0, now }) as JobRow[];
        const retried: { job: Job; row: JobRow }[] = [];
        const abandoned: { job: Job; row: JobRow; reason: string }[] = [];
        for (const row of rows) {
          const job = JSON.parse(row.payload) as Job;
          if (row.attempts < this.maxAttempts) {
            this.sql.retry.run({ id: row.id, error: `interrupted during attempt ${row.attempts}` });
            retried.push({ job, row });
          } else {
            const reason =
              `The job was interrupted ${row.attempts} time${row.attempts === 1 ? "" : "s"} ` +
              "(the process running it stopped) and will not be retried.";
            this.sql.abandon.run({ id: row.id, error: reason, now });
            abandoned.push({ job, row, reason });
          }
        }
        return { retried, abandoned };
      })
      .immediate();

    for (const { job, row } of retried) {
      this.options.log.warn({ jobId: job.id, attempts: row.attempts }, "retrying a job interrupted by a restart");
    }
    for (const { job, row, reason } of abandoned) {
      this.options.log.error({ jobId: job.id, attempts: row.attempts }, "giving up on a job interrupted too often");
      this.notify(this.options.onAbandoned, job, reason, "onAbandoned");
    }
    return { retried: retried.map((r) => r.job), abandoned: abandoned.map((a) => a.job) };
  }

  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    const all = [...this.running.values()];
    if (all.length > 0 && !(await settledWithin(all, graceMs))) {
      const left = [...this.running.values()];
      for (const r of left) this.abort(r, "shutdown", new Error(SHUTDOWN_REASON));
      // Requeue now rather than when the workers return: the process may exit before they do.
      if (!this.closed) for (const r of left) this.sql.requeue.run({ id: r.job.id, owner: this.owner });
      this.options.log.info({ jobs: left.map((r) => r.job.id) }, "requeued jobs still running after the grace period");
      await settledWithin(left, Math.min(graceMs, 5_000));
    }
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stats(): Promise<QueueStats> {
    return this.sql.counts.get() as QueueStats;
  }

  async position(job: PositionOf): Promise<QueuePosition | null> {
    if (this.closed) return null;
    return positionIn(this.sql, job);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Enqueues already handed in are committed (and synced) before the connection goes.
    this.flush();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.closed = true;
    await this.walSync?.close();
    await this.releaseCheckpoints?.();
    if (this.ownsDb) this.db.close();
  }

  jobState(id: string): JobState | null {
    const row = this.sql.state.get(id) as JobRow | undefined;
    if (!row) return null;
    return {
      id: row.id,
      status: row.status,
      attempts: row.attempts,
      error: row.error,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    };
  }

  private pump(): void {
    if (!this.worker || this.stopping || this.closed) return;
    while (this.running.size < this.options.concurrency) {
      const row = this.claim();
      if (!row) break;
      this.launch(row);
    }
    this.notifyIdle();
  }

  private claim(): JobRow | undefined {
    const now = Date.now();
    return this.db
      .transaction(() => {
        const id = this.nextClaimable(now);
        if (id === undefined) return undefined;
        return this.sql.claim.get({ id, owner: this.owner, expires: now + this.leaseMs, now }) as JobRow | undefined;
      })
      .immediate();
  }

  /**
   * The oldest pending job that may start: nothing of its pull request running, its installation
   * under its limit. With an installation at its limit, the walk goes installation by installation
   * (a seek each) instead of row by row: reading past one installation's backlog of 10,000 jobs,
   * two subqueries a row, took 18 ms of the event loop on every pump.
   */
  private nextClaimable(now: number): string | undefined {
    const saturated = new Set(this.sql.saturated.all(this.perInstallation) as number[]);
    if (saturated.size === 0) return (this.sql.firstClaimable.get({ now }) as { id: string } | undefined)?.id;
    let best: { id: string; seq: number } | undefined;
    let installation = this.sql.nextPendingInstallation.get(Number.MIN_SAFE_INTEGER) as number | undefined;
    while (installation !== undefined) {
      if (!saturated.has(installation)) {
        const first = this.sql.firstClaimableOf.get({ installationId: installation, now }) as { id: string; seq: number } | undefined;
        if (first && (!best || first.seq < best.seq)) best = first;
      }
      installation = this.sql.nextPendingInstallation.get(installation) as number | undefined;
    }
    return best?.id;
  }

  private launch(row: JobRow): void {
    const job = JSON.parse(row.payload) as Job;
    const worker = this.worker!;
    const entry: Running = { job, controller: new AbortController(), endReason: null, done: Promise.resolve() };
    this.running.set(job.id, entry);
    entry.done = (async () => {
      let status: JobStatus = "done";
      let error: string | null = null;
      try {
        await worker(job, entry.controller.signal);
      } catch (err) {
        // The worker maps errors to user-facing outcomes itself; anything here is a bug.
        this.options.log.error({ err, jobId: job.id }, "job worker threw");
        status = "failed";
        error = err instanceof Error ? err.message : String(err);
      }
      this.running.delete(job.id);
      if (!this.closed) this.settle(entry, status, error);
      this.pump();
      this.notifyIdle();
    })();
  }

  private settle(entry: Running, status: JobStatus, error: string | null): void {
    const id = entry.job.id;
    if (entry.endReason === "shutdown") {
      this.sql.requeue.run({ id, owner: this.owner });
      return;
    }
    if (entry.endReason === "superseded") {
      status = "cancelled";
      error = String((entry.controller.signal.reason as Error | undefined)?.message ?? "superseded");
    }
    this.sql.settle.run({ id, owner: this.owner, status, error, now: Date.now() });
  }

  private abort(entry: Running, reason: "superseded" | "shutdown", cause: Error): void {
    if (entry.controller.signal.aborted) return;
    entry.endReason = reason;
    entry.controller.abort(cause);
  }

  private heartbeat(): void {
    if (this.closed) return;
    try {
      const rows = this.sql.heartbeat.all({ owner: this.owner, expires: Date.now() + this.leaseMs }) as {
        id: string;
        cancel_reason: string | null;
      }[];
      // Another process sharing the file may have superseded one of ours.
      for (const row of rows) {
        const local = this.running.get(row.id);
        if (row.cancel_reason !== null && local) this.abort(local, "superseded", new Error(row.cancel_reason));
      }
      if (!(this.options.exclusive ?? true)) this.recover();
      if (Date.now() - this.lastPrune > 60 * 60 * 1000) this.prune();
    } catch (err) {
      this.options.log.warn({ err }, "queue heartbeat failed");
    }
  }

  private prune(): void {
    const cutoff = Date.now() - this.retentionMs;
    this.lastPrune = Date.now();
    this.sql.pruneDeliveries.run(cutoff);
    this.sql.pruneJobs.run(cutoff);
  }

  /** Callbacks run after the commit and can't break the queue: a failure is only logged. */
  private notify(handler: AbandonedHandler | SupersededHandler | undefined, job: Job, reason: string, name: string): void {
    if (!handler) return;
    Promise.resolve()
      .then(() => handler(job, reason))
      .catch((err: unknown) => this.options.log.error({ err, jobId: job.id }, `${name} handler failed`));
  }

  private isIdle(): boolean {
    if (this.running.size > 0) return false;
    if (this.closed) return true;
    const { pending, running } = this.sql.counts.get() as QueueStats;
    return pending === 0 && running === 0;
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((w) => w());
  }
}

type PositionStatements = Pick<SqliteQueue["sql"], "pendingSeq" | "aheadCount" | "runningCount" | "aheadInRepo">;

function positionIn(sql: PositionStatements, job: PositionOf): QueuePosition | null {
  const seq = sql.pendingSeq.get(job.id) as number | undefined;
  if (seq === undefined) return null;
  const repo = `${job.repo.owner}/${job.repo.name}#`;
  // pr_key is "owner/name#N": the repository's keys sort between "owner/name#" and "owner/name$".
  const rows = sql.aheadInRepo.all({ installationId: job.installationId, seq, lo: repo, hi: `${repo.slice(0, -1)}$` }) as {
    pr_key: string;
    payload: string;
  }[];
  return {
    ahead: sql.aheadCount.get(job.installationId, seq) as number,
    running: sql.runningCount.get(job.installationId) as number,
    aheadInRepo: rows.map((r) => {
      const other = JSON.parse(r.payload) as Job;
      return { prNumber: other.prNumber, mode: other.mode };
    }),
  };
}

/**
 * Positions of pending jobs read straight from a database file's queue table (the `runs` CLI, which
 * has no queue of its own); empty when the file holds no embedded queue (BullMQ deployments).
 */
export function queuePositions(db: Db, jobs: readonly PositionOf[]): Map<string, QueuePosition> {
  const out = new Map<string, QueuePosition>();
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue_jobs'").get();
  if (!exists || jobs.length === 0) return out;
  const sql: PositionStatements = {
    pendingSeq: db.prepare("SELECT seq FROM queue_jobs WHERE id = ? AND status = 'pending'").pluck(),
    aheadCount: db.prepare("SELECT COUNT(*) FROM queue_jobs WHERE installation_id = ? AND status = 'pending' AND seq < ?").pluck(),
    runningCount: db.prepare("SELECT COUNT(*) FROM queue_jobs WHERE installation_id = ? AND status = 'running'").pluck(),
    aheadInRepo: db.prepare(`SELECT pr_key, payload FROM queue_jobs
      WHERE installation_id = @installationId AND status = 'pending' AND seq < @seq AND pr_key >= @lo AND pr_key < @hi
      ORDER BY seq LIMIT ${NAMED_AHEAD}`),
  };
  for (const job of jobs) {
    const p = positionIn(sql, job);
    if (p) out.set(job.id, p);
  }
  return out;
}

function supersedeReason(job: Job): string {
  return `superseded by a push of ${job.pull?.headSha ?? "a newer head"}`;
}

/** True when every job settled within ms. */
async function settledWithin(entries: Running[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const all = Promise.allSettled(entries.map((e) => e.done)).then(() => true as const);
  const result = await Promise.race([all, timeout]);
  clearTimeout(timer);
  return result;
}
