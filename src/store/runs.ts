import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import type { Job, JobKind, Trigger, Usage } from "../types.js";
import { checkpointInBackground } from "./checkpointer.js";
import { AutoReviewMemo } from "./auto-review-memo.js";
import { EffectLedger, type Effect } from "./effects.js";
import { migrate, openDatabase, type Db, type Migration } from "./db.js";

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
export type FinalRunStatus = Exclude<RunStatus, "queued" | "running">;
export type RunPhase = "queue" | "checkout" | "agent" | "publish";

export const RUN_STATUSES: readonly RunStatus[] = ["queued", "running", "succeeded", "failed", "cancelled", "timed_out"];
export const RUN_PHASES: readonly RunPhase[] = ["queue", "checkout", "agent", "publish"];

/** Where a run came from: the GitHub App's queue, or a local front door (CLI, MCP server, GitHub Action). */
export type RunSource = "app" | LocalRunSource;
export type LocalRunSource = "cli" | "mcp" | "action";
export const RUN_SOURCES: readonly RunSource[] = ["app", "cli", "mcp", "action"];

export interface RunLinks {
  /** The pull request on GitHub (its server's address, so Enterprise Server links work). */
  pull?: string;
  review?: string;
  checkRun?: string;
  fixPr?: string;
  comment?: string;
}

/**
 * A run as listed: everything but the event log and the diff. A local run (source other than "app")
 * has no job, delivery, installation or trigger (null), and a pull request number only from the Action.
 */
export interface RunSummary {
  id: string;
  source: RunSource;
  jobId: string | null;
  deliveryId: string | null;
  installationId: number | null;
  /** "owner/name"; for a local run without an origin remote, the checkout's directory name. */
  repo: string;
  prNumber: number | null;
  prTitle: string | null;
  trigger: Trigger | null;
  mode: JobKind;
  executors: string[];
  baseSha: string | null;
  headSha: string | null;
  status: RunStatus;
  /** How many times the run was started (more than one after a crash and retry). */
  attempts: number;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Started to finished (queue wait excluded); null while the run is not over. */
  durationMs: number | null;
  /** Local runs: the checkout reviewed or fixed. */
  workdir: string | null;
  /** Local runs: the refs of base..head as the user named them (the SHAs are in baseSha/headSha). */
  baseRef: string | null;
  headRef: string | null;
  /** Local fixes: where the patch went (an absolute file path, "stdout", "applied" or "returned" to an MCP client). */
  patchOutput: string | null;
  /** Milliseconds per phase; a phase the run never reached is absent. */
  phases: Partial<Record<RunPhase, number>>;
  usage: Usage | null;
  costUsd: number | null;
  findings: number | null;
  links: RunLinks;
  error: string | null;
  /**
   * The check run this job created on GitHub, recorded as it was created: a retry of the job (after a
   * crash) or whoever gives it up completes this one instead of leaving it in progress. Null when none.
   */
  checkRunId: number | null;
}

export interface RunDetail extends RunSummary {
  /** When the event log and diff were deleted by retention (RUN_LOG_RETENTION_DAYS); null while kept. */
  logsPrunedAt: number | null;
  /** The agent's event log, oldest first, up to the size cap. */
  events: string[];
  /** Lines refused because the log reached its cap (the newest ones). */
  eventsDropped: number;
  /** The diff of a fix/tests run, possibly cut at the cap. */
  diff: string | null;
  diffTruncated: boolean;
  /** What the job created on GitHub (store/effects.ts), and a review GitHub refused, kept to post later. */
  effects: Effect[];
}

export interface RunResult {
  status: FinalRunStatus;
  findings?: number | null;
  usage?: Usage | null;
  costUsd?: number | null;
  links?: RunLinks;
  error?: string | null;
}

export interface RunFilter {
  repo?: string;
  status?: RunStatus;
  source?: RunSource;
  /** Page size, 1..200. Default 50. */
  limit?: number;
  /** Only runs older than this run id (the cursor of the next page). */
  before?: string;
}

/** A local review or fix, recorded as it starts. */
export interface LocalRunInit {
  source: LocalRunSource;
  /** "owner/name" from the origin remote, else the checkout's directory name. */
  repo: string;
  /** The pull request, when the run is about one (the GitHub Action). */
  prNumber?: number | null;
  workdir: string;
  mode: "review" | "audit" | "fix" | "tests";
  executors: string[];
  baseRef: string;
  headRef: string;
  baseSha: string;
  headSha: string;
  /** The process recording the run, so another one can tell it died (settleAbandoned). */
  owner: { host: string; pid: number };
}

export interface RunStoreOptions {
  /** Event log cap per run, in bytes. Default 1 MiB. */
  maxEventBytes?: number;
  /** A single event line longer than this is cut. Default 16 KiB. */
  maxEventLineBytes?: number;
  /** Diff cap per run, in bytes. Default 1 MiB. */
  maxDiffBytes?: number;
  /**
   * Run WAL checkpoints on a worker thread (store/checkpointer.ts) instead of inside a commit on this
   * thread: for the app, whose event loop also answers webhooks. Only with a file path. Default false.
   */
  backgroundCheckpoints?: boolean;
}

/** The schema steps, oldest first (exported for the upgrade test). */
export const RUN_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        installation_id INTEGER NOT NULL,
        repo TEXT NOT NULL,
        pr_number INTEGER NOT NULL,
        pr_title TEXT,
        trigger TEXT NOT NULL,
        mode TEXT NOT NULL,
        executors TEXT NOT NULL DEFAULT '[]',
        base_sha TEXT,
        head_sha TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
        attempts INTEGER NOT NULL DEFAULT 0,
        queued_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        queue_ms INTEGER,
        checkout_ms INTEGER,
        agent_ms INTEGER,
        publish_ms INTEGER,
        usage TEXT,
        cost_usd REAL,
        findings INTEGER,
        links TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        events_bytes INTEGER NOT NULL DEFAULT 0,
        events_count INTEGER NOT NULL DEFAULT 0,
        events_dropped INTEGER NOT NULL DEFAULT 0,
        diff TEXT,
        diff_truncated INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX runs_job ON runs (job_id);
      CREATE INDEX runs_repo ON runs (repo, id);
      CREATE INDEX runs_status ON runs (status, id);
      CREATE INDEX runs_queued_at ON runs (queued_at);
      -- One row per line: appending to a growing TEXT column would rewrite it on every batch.
      CREATE TABLE run_events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    // Local runs (CLI, MCP tools, the Action) share the table: they have no job, so job_id,
    // delivery_id and trigger hold '' / 'null' and pr_number 0, read back as null. The owner
    // (host and pid) lets a later process settle a run whose process died without finishing it.
    version: 2,
    sql: `
      ALTER TABLE runs ADD COLUMN source TEXT NOT NULL DEFAULT 'app' CHECK (source IN ('app', 'cli', 'mcp', 'action'));
      ALTER TABLE runs ADD COLUMN workdir TEXT;
      ALTER TABLE runs ADD COLUMN base_ref TEXT;
      ALTER TABLE runs ADD COLUMN head_ref TEXT;
      ALTER TABLE runs ADD COLUMN patch_output TEXT;
      ALTER TABLE runs ADD COLUMN owner_host TEXT;
      ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
      CREATE INDEX runs_source ON runs (source, id);
    `,
  },
  {
    // Logs (the bulk of the file) are kept for less time than the run records: pruneLogs() deletes a
    // finished run's event lines and diff and stamps the run, which the partial index then skips.
    version: 3,
    sql: `
      ALTER TABLE runs ADD COLUMN logs_pruned_at INTEGER;
      CREATE INDEX runs_logs_kept ON runs (queued_at) WHERE logs_pruned_at IS NULL;
    `,
  },
  {
    // What a job created on GitHub, recorded as it is created, so a retry takes it over (issue 22).
    version: 4,
    sql: `ALTER TABLE runs ADD COLUMN check_run_id INTEGER;`,
  },
];

interface RunRow {
  id: string;
  source: RunSource;
  job_id: string;
  delivery_id: string;
  installation_id: number;
  repo: string;
  pr_number: number;
  pr_title: string | null;
  trigger: string;
  mode: JobKind;
  executors: string;
  base_sha: string | null;
  head_sha: string | null;
  status: RunStatus;
  attempts: number;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  queue_ms: number | null;
  checkout_ms: number | null;
  agent_ms: number | null;
  publish_ms: number | null;
  usage: string | null;
  cost_usd: number | null;
  findings: number | null;
  links: string;
  error: string | null;
  events_bytes: number;
  events_count: number;
  events_dropped: number;
  diff: string | null;
  diff_truncated: number;
  workdir: string | null;
  base_ref: string | null;
  head_ref: string | null;
  patch_output: string | null;
  logs_pruned_at?: number | null;
  check_run_id: number | null;
}

const SUMMARY_COLUMNS = `id, job_id, delivery_id, installation_id, repo, pr_number, pr_title, trigger, mode, executors,
  base_sha, head_sha, status, attempts, queued_at, started_at, finished_at, queue_ms, checkout_ms, agent_ms, publish_ms,
  usage, cost_usd, findings, links, error, events_bytes, events_count, events_dropped, diff_truncated,
  source, workdir, base_ref, head_ref, patch_output, check_run_id`;

const MiB = 1024 * 1024;

export class RunNotFoundError extends Error {
  override readonly name = "RunNotFoundError";
}

/**
 * The run history: one record per job, from enqueue to its outcome, and one per local review or fix
 * (createLocal), kept in the same SQLite file as the embedded queue. Synchronous like better-sqlite3 itself; each call is one short transaction.
 * Event lines and diffs are untrusted agent output: stored as-is, escaped by whoever renders them.
 */
export class RunStore {
  /** What each job created on GitHub (store/effects.ts), in the same file. */
  readonly effects: EffectLedger;
  /** Each repository's automatic-review settings as a worker last read them (store/auto-review-memo.ts). */
  readonly autoReview: AutoReviewMemo;
  private readonly db: Db;
  private readonly ownsDb: boolean;
  private readonly maxEventBytes: number;
  private readonly maxEventLineBytes: number;
  private readonly maxDiffBytes: number;
  private readonly sql;
  private readonly listStatements = new Map<string, Database.Statement>();
  private lastReviewedStatement: Database.Statement | null = null;
  private readonly releaseCheckpoints: (() => Promise<void>) | null;

  constructor(database: string | Db, options: RunStoreOptions = {}) {
    this.ownsDb = typeof database === "string";
    // Its own connection needs no fsync per event batch; the queue's connection keeps FULL.
    this.db = typeof database === "string" ? openDatabase(database, { synchronous: "NORMAL" }) : database;
    migrate(this.db, "runs", RUN_MIGRATIONS);
    this.effects = new EffectLedger(this.db);
    this.autoReview = new AutoReviewMemo(this.db);
    this.releaseCheckpoints = this.ownsDb && options.backgroundCheckpoints ? checkpointInBackground(this.db) : null;
    this.maxEventBytes = options.maxEventBytes ?? MiB;
    this.maxEventLineBytes = options.maxEventLineBytes ?? 16 * 1024;
    this.maxDiffBytes = options.maxDiffBytes ?? MiB;
    const db = this.db;
    this.sql = {
      insert: db.prepare(`INSERT INTO runs
        (id, job_id, delivery_id, installation_id, repo, pr_number, pr_title, trigger, mode, executors, base_sha, head_sha, status, queued_at, links, check_run_id)
        VALUES (@id, @jobId, @deliveryId, @installationId, @repo, @prNumber, @prTitle, @trigger, @mode, @executors, @baseSha, @headSha, 'queued', @queuedAt, @links, @checkRunId)`),
      byJob: db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM runs WHERE job_id = ? ORDER BY id DESC LIMIT 1`),
      get: db.prepare("SELECT * FROM runs WHERE id = ?"),
      describe: db.prepare(`UPDATE runs SET
          executors = COALESCE(@executors, executors), base_sha = COALESCE(@baseSha, base_sha),
          head_sha = COALESCE(@headSha, head_sha), pr_title = COALESCE(@prTitle, pr_title)
        WHERE id = @id`),
      // A retried run starts again: the previous attempt's end is no longer the truth.
      start: db.prepare(`UPDATE runs SET status = 'running', started_at = @now, attempts = attempts + 1,
          queue_ms = COALESCE(queue_ms, MAX(@now - queued_at, 0)), finished_at = NULL, error = NULL
        WHERE id = @id`),
      links: db.prepare("SELECT links FROM runs WHERE id = ?").pluck(),
      setLinks: db.prepare("UPDATE runs SET links = ? WHERE id = ?"),
      finish: db.prepare(`UPDATE runs SET status = @status, finished_at = @now, findings = COALESCE(@findings, findings),
          usage = COALESCE(@usage, usage), cost_usd = COALESCE(@costUsd, cost_usd), links = @links, error = @error
        WHERE id = @id`),
      eventState: db.prepare("SELECT events_bytes, events_count, events_dropped FROM runs WHERE id = ?"),
      insertEvent: db.prepare("INSERT INTO run_events (run_id, seq, line) VALUES (?, ?, ?)"),
      setEventState: db.prepare(
        "UPDATE runs SET events_bytes = @bytes, events_count = @count, events_dropped = @dropped WHERE id = @id",
      ),
      events: db.prepare("SELECT line FROM run_events WHERE run_id = ? ORDER BY seq").pluck(),
      setDiff: db.prepare("UPDATE runs SET diff = ?, diff_truncated = ? WHERE id = ?"),
      oldRuns: db.prepare("SELECT id FROM runs WHERE queued_at < ? ORDER BY queued_at LIMIT ?").pluck(),
      deleteEffects: db.prepare("DELETE FROM github_effects WHERE job_id = (SELECT job_id FROM runs WHERE id = ?)"),
      oldLogs: db
        .prepare(`SELECT id FROM runs WHERE logs_pruned_at IS NULL AND queued_at < ? AND status NOT IN ('queued', 'running')
          ORDER BY queued_at LIMIT ?`)
        .pluck(),
      deleteEvents: db.prepare("DELETE FROM run_events WHERE run_id = ?"),
      deleteRun: db.prepare("DELETE FROM runs WHERE id = ?"),
      dropLogs: db.prepare("UPDATE runs SET diff = NULL, logs_pruned_at = ? WHERE id = ?"),
      phase: Object.fromEntries(RUN_PHASES.map((p) => [p, db.prepare(`UPDATE runs SET ${p}_ms = ? WHERE id = ?`)])) as Record<
        RunPhase,
        Database.Statement
      >,
      // Local runs are not the queue's: a restarting app must not fail a review running in a terminal.
      failUnfinished: db.prepare(`UPDATE runs SET status = 'failed', finished_at = @now, error = @message
        WHERE status IN ('queued', 'running') AND source = 'app'`),
      insertLocal: db.prepare(`INSERT INTO runs
        (id, source, job_id, delivery_id, installation_id, repo, pr_number, trigger, mode, executors, base_sha, head_sha,
         base_ref, head_ref, workdir, status, attempts, queued_at, started_at, owner_host, owner_pid)
        VALUES (@id, @source, '', '', 0, @repo, @prNumber, 'null', @mode, @executors, @baseSha, @headSha,
         @baseRef, @headRef, @workdir, 'running', 1, @now, @now, @host, @pid)`),
      setPatchOutput: db.prepare("UPDATE runs SET patch_output = ? WHERE id = ?"),
      setCheckRun: db.prepare("UPDATE runs SET check_run_id = ? WHERE id = ?"),
      jobOf: db.prepare("SELECT job_id FROM runs WHERE id = ?").pluck(),
      ownedRunning: db.prepare("SELECT id, owner_pid FROM runs WHERE status = 'running' AND source != 'app' AND owner_host = ?"),
      pruneLocalEvents: db.prepare("DELETE FROM run_events WHERE run_id IN (SELECT id FROM runs WHERE queued_at < ? AND source != 'app')"),
      pruneLocalRuns: db.prepare("DELETE FROM runs WHERE queued_at < ? AND source != 'app'"),
    };
  }

  /** Records a job the queue accepted; its queue wait starts now. Returns the run id. */
  create(job: Job, init: { executors?: string[] } = {}): string {
    const id = newRunId();
    // A check run the job's first signal created before its run was recorded (the intake records runs in a lull).
    const check = this.effects
      .forJob(job.id)
      .filter((e) => e.kind === "check_run" && (e.state === "created" || e.state === "completed") && e.githubId !== null)
      .at(-1);
    const links: RunLinks = { pull: `${job.repo.htmlUrl}/pull/${job.prNumber}`, ...(check?.url ? { checkRun: check.url } : {}) };
    this.sql.insert.run({
      id,
      jobId: job.id,
      deliveryId: job.deliveryId,
      installationId: job.installationId,
      repo: `${job.repo.owner}/${job.repo.name}`,
      prNumber: job.prNumber,
      prTitle: job.pull?.title ?? null,
      trigger: JSON.stringify(job.trigger),
      mode: job.mode,
      executors: JSON.stringify(init.executors ?? []),
      baseSha: job.pull?.baseSha ?? null,
      headSha: job.pull?.headSha ?? null,
      queuedAt: Date.now(),
      links: JSON.stringify(links),
      checkRunId: check ? Number(check.githubId) : null,
    });
    return id;
  }

  /**
   * The job's run: the latest one recorded for it, else a new one. Atomic across processes (one
   * IMMEDIATE transaction): the intake that accepted a job and a worker elsewhere that already took
   * it could otherwise each find none and record two, one of them left "queued" for ever.
   */
  ensure(job: Job): RunSummary {
    this.ensureAll([job]);
    return this.byJob(job.id)!;
  }

  /**
   * `ensure` for several jobs in one transaction: the intake records a burst of accepted jobs with
   * one commit (a commit costs ~0.3 ms on the event loop, a row ~0.07 ms). A run, once recorded, is
   * never removed while its job may still run, so reading it back after the commit is safe.
   */
  ensureAll(jobs: readonly Job[]): void {
    this.db
      .transaction(() => {
        for (const job of jobs) if (!this.sql.byJob.get(job.id)) this.create(job);
      })
      .immediate();
  }

  /** Records a local review or fix as running from now. Returns the run id. */
  createLocal(init: LocalRunInit): string {
    const id = newRunId();
    this.sql.insertLocal.run({
      id,
      source: init.source,
      repo: init.repo,
      prNumber: init.prNumber ?? 0,
      mode: init.mode,
      executors: JSON.stringify(init.executors),
      baseSha: init.baseSha,
      headSha: init.headSha,
      baseRef: init.baseRef,
      headRef: init.headRef,
      workdir: init.workdir,
      now: Date.now(),
      host: init.owner.host,
      pid: init.owner.pid,
    });
    return id;
  }

  /** Where a local fix's patch went; the last call wins (written to a file, then applied: "applied"). */
  setPatchOutput(runId: string, output: string): void {
    this.mustChange(this.sql.setPatchOutput.run(output, runId).changes, runId);
  }

  /** Records the check run the job created on GitHub, as soon as it exists (see RunSummary.checkRunId). */
  recordCheckRun(runId: string, checkRunId: number, name?: string): void {
    this.mustChange(this.sql.setCheckRun.run(checkRunId, runId).changes, runId);
    const jobId = this.sql.jobOf.get(runId) as string | undefined;
    if (name !== undefined && jobId) this.effects.created(jobId, "check_run", name, { githubId: checkRunId });
  }

  /**
   * Fails the local runs of this host still marked running whose process is gone (killed, crashed,
   * the machine slept through a power cut): nothing else would ever finish them. Returns how many.
   */
  settleAbandoned(host: string, isAlive: (pid: number) => boolean, message: string): number {
    let settled = 0;
    for (const row of this.sql.ownedRunning.all(host) as { id: string; owner_pid: number | null }[]) {
      if (row.owner_pid !== null && isAlive(row.owner_pid)) continue;
      this.finish(row.id, { status: "failed", error: message });
      settled++;
    }
    return settled;
  }

  /**
   * The head and base of the latest succeeded review of a pull request by another job: where an
   * incremental review on the next push starts (jobs/review-scope.ts). Reads the runs_repo index.
   */
  lastReviewed(repo: string, prNumber: number, excludeJobId: string): { headSha: string; baseSha: string | null } | null {
    this.lastReviewedStatement ??= this.db.prepare(
      `SELECT head_sha, base_sha FROM runs WHERE repo = ? AND pr_number = ? AND mode = 'review' AND status = 'succeeded'
        AND source = 'app' AND head_sha IS NOT NULL AND job_id <> ? ORDER BY id DESC LIMIT 1`,
    );
    const row = this.lastReviewedStatement.get(repo, prNumber, excludeJobId) as { head_sha: string; base_sha: string | null } | undefined;
    return row ? { headSha: row.head_sha, baseSha: row.base_sha } : null;
  }

  /** The latest run of a job (the worker only has the job). */
  byJob(jobId: string): RunSummary | null {
    const row = this.sql.byJob.get(jobId) as RunRow | undefined;
    return row ? toSummary(row) : null;
  }

  /** Fills in what the worker learns after the webhook (comment-triggered jobs carry no PR snapshot). */
  describe(runId: string, info: { executors?: string[]; baseSha?: string; headSha?: string; prTitle?: string }): void {
    this.mustChange(
      this.sql.describe.run({
        id: runId,
        executors: info.executors ? JSON.stringify(info.executors) : null,
        baseSha: info.baseSha ?? null,
        headSha: info.headSha ?? null,
        prTitle: info.prTitle ?? null,
      }).changes,
      runId,
    );
  }

  /** Marks the run running; the queue phase is the time since create() unless phase() set it. */
  start(runId: string): void {
    this.mustChange(this.sql.start.run({ id: runId, now: Date.now() }).changes, runId);
  }

  phase(runId: string, name: RunPhase, ms: number): void {
    // The column name comes from a closed union, never from input.
    if (!RUN_PHASES.includes(name)) throw new Error(`unknown phase ${String(name)}`);
    const changes = this.sql.phase[name].run(Math.max(0, Math.round(ms)), runId).changes;
    this.mustChange(changes, runId);
  }

  /** Adds links as they become known (the check run exists long before the review). */
  link(runId: string, links: RunLinks): void {
    this.db.transaction(() => this.sql.setLinks.run(JSON.stringify(this.mergedLinks(runId, links)), runId)).immediate();
  }

  finish(runId: string, result: RunResult): void {
    this.db
      .transaction(() => {
        this.sql.finish.run({
          id: runId,
          now: Date.now(),
          status: result.status,
          findings: result.findings ?? null,
          usage: result.usage ? JSON.stringify(result.usage) : null,
          costUsd: result.costUsd ?? null,
          links: JSON.stringify(this.mergedLinks(runId, result.links ?? {})),
          error: result.error ?? null,
        });
      })
      .immediate();
  }

  /**
   * Appends agent event lines. Past the per-run cap the oldest lines are kept (they show how the run
   * started, which is what a failure report needs) and newer ones are only counted.
   */
  appendEvents(runId: string, lines: readonly string[]): void {
    if (lines.length === 0) return;
    this.db
      .transaction(() => {
        const state = this.sql.eventState.get(runId) as
          | { events_bytes: number; events_count: number; events_dropped: number }
          | undefined;
        if (!state) throw new RunNotFoundError(`no run ${runId}`);
        let { events_bytes: bytes, events_count: count, events_dropped: dropped } = state;
        for (const raw of lines) {
          const line = capLine(raw, this.maxEventLineBytes);
          const size = Buffer.byteLength(line) + 1;
          if (dropped > 0 || bytes + size > this.maxEventBytes) {
            dropped++;
            continue;
          }
          this.sql.insertEvent.run(runId, count, line);
          count++;
          bytes += size;
        }
        this.sql.setEventState.run({ id: runId, bytes, count, dropped });
      })
      .immediate();
  }

  /** Stores the diff of a fix/tests run, cut at the last whole line under the cap. */
  setDiff(runId: string, diff: string): void {
    let stored = diff;
    let truncated = false;
    if (Buffer.byteLength(diff) > this.maxDiffBytes) {
      const head = Buffer.from(diff).subarray(0, this.maxDiffBytes).toString("utf8");
      const cut = head.lastIndexOf("\n");
      stored = cut > 0 ? head.slice(0, cut + 1) : head.replace(/\uFFFD$/, "");
      truncated = true;
    }
    this.mustChange(this.sql.setDiff.run(stored, truncated ? 1 : 0, runId).changes, runId);
  }

  get(id: string): RunDetail | null {
    const row = this.sql.get.get(id) as RunRow | undefined;
    if (!row) return null;
    return {
      ...toSummary(row),
      logsPrunedAt: row.logs_pruned_at ?? null,
      events: this.sql.events.all(id) as string[],
      eventsDropped: row.events_dropped,
      diff: row.diff,
      diffTruncated: row.diff_truncated === 1,
      effects: row.job_id ? this.effects.forJob(row.job_id) : [],
    };
  }

  list(filter: RunFilter = {}): RunSummary[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.repo) {
      where.push("repo = @repo");
      params.repo = filter.repo;
    }
    if (filter.status) {
      where.push("status = @status");
      params.status = filter.status;
    }
    if (filter.source) {
      where.push("source = @source");
      params.source = filter.source;
    }
    if (filter.before) {
      where.push("id < @before");
      params.before = filter.before;
    }
    params.limit = Math.min(200, Math.max(1, Math.floor(filter.limit ?? 50)));
    // Keyset pagination: newest first by id (ids sort by creation), `id < before` for the next page,
    // so every page is an index range read (runs_repo, runs_status, runs_source or the primary key)
    // whatever the history's size. One prepared statement per filter combination, made once.
    const sql = `SELECT ${SUMMARY_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY id DESC LIMIT @limit`;
    let statement = this.listStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
    }
    return (statement.all(params) as RunRow[]).map(toSummary);
  }

  /**
   * Deletes runs queued longer ago than olderThanMs, with their logs, oldest first. At most `limit`
   * (default all), so a caller on the event loop can work in slices (store/retention.ts). Returns how many.
   */
  prune(olderThanMs: number, limit = Number.MAX_SAFE_INTEGER): number {
    const cutoff = Date.now() - olderThanMs;
    return this.db
      .transaction(() => {
        const ids = this.sql.oldRuns.all(cutoff, limit) as string[];
        for (const id of ids) {
          this.sql.deleteEvents.run(id);
          this.sql.deleteEffects.run(id);
          this.sql.deleteRun.run(id);
        }
        return ids.length;
      })
      .immediate();
  }

  /**
   * Deletes the event log and diff of finished runs queued longer ago than olderThanMs and keeps the
   * run record (status, timings, cost, links). At most `limit` runs. Returns how many runs lost logs.
   */
  pruneLogs(olderThanMs: number, limit = Number.MAX_SAFE_INTEGER): number {
    const cutoff = Date.now() - olderThanMs;
    const now = Date.now();
    return this.db
      .transaction(() => {
        const ids = this.sql.oldLogs.all(cutoff, limit) as string[];
        for (const id of ids) {
          this.sql.deleteEvents.run(id);
          this.sql.dropLogs.run(now, id);
        }
        return ids.length;
      })
      .immediate();
  }

  /**
   * Gives up to maxPages free pages back to the file system (PRAGMA incremental_vacuum), so pruning
   * shrinks the file rather than only leaving room in it. A file created before auto_vacuum was
   * INCREMENTAL frees nothing here (its free pages are reused by new runs). Returns the pages freed.
   */
  vacuum(maxPages = 1000): number {
    const before = this.db.pragma("freelist_count", { simple: true }) as number;
    if (before === 0 || this.db.pragma("auto_vacuum", { simple: true }) !== 2) return 0;
    this.db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(maxPages))})`);
    return before - (this.db.pragma("freelist_count", { simple: true }) as number);
  }

  /** The file's size as SQLite sees it (the WAL aside), for the bench and support questions. */
  space(): { bytes: number; freeBytes: number; autoVacuum: "none" | "full" | "incremental" } {
    const pageSize = this.db.pragma("page_size", { simple: true }) as number;
    const pages = this.db.pragma("page_count", { simple: true }) as number;
    const free = this.db.pragma("freelist_count", { simple: true }) as number;
    const mode = this.db.pragma("auto_vacuum", { simple: true }) as number;
    return { bytes: pages * pageSize, freeBytes: free * pageSize, autoVacuum: mode === 2 ? "incremental" : mode === 1 ? "full" : "none" };
  }

  /** Deletes local runs (CLI, MCP, Action) queued longer ago than olderThanMs; the app's are its own to prune. */
  pruneLocal(olderThanMs: number): number {
    const cutoff = Date.now() - olderThanMs;
    return this.db
      .transaction(() => {
        this.sql.pruneLocalEvents.run(cutoff);
        return this.sql.pruneLocalRuns.run(cutoff).changes;
      })
      .immediate();
  }

  /**
   * Fails every run of the app still queued or running. Only for a non-durable queue at start-up: its jobs died
   * with the previous process, so their runs will never finish on their own.
   */
  failUnfinished(message: string): number {
    return this.sql.failUnfinished.run({ now: Date.now(), message }).changes;
  }

  close(): void {
    // The worker's own connection closes after ours; whichever is last checkpoints and removes the WAL.
    void this.releaseCheckpoints?.();
    if (this.ownsDb) this.db.close();
  }

  private mergedLinks(runId: string, links: RunLinks): RunLinks {
    const current = this.sql.links.get(runId) as string | undefined;
    if (current === undefined) throw new RunNotFoundError(`no run ${runId}`);
    const merged: RunLinks = { ...(JSON.parse(current) as RunLinks) };
    for (const [k, v] of Object.entries(links) as [keyof RunLinks, string | undefined][]) {
      if (typeof v === "string" && v.length > 0) merged[k] = v;
    }
    return merged;
  }

  private mustChange(changes: number, runId: string): void {
    if (changes === 0) throw new RunNotFoundError(`no run ${runId}`);
  }
}

function toSummary(row: RunRow): RunSummary {
  const phases: Partial<Record<RunPhase, number>> = {};
  for (const p of RUN_PHASES) {
    const v = row[`${p}_ms`];
    if (v !== null) phases[p] = v;
  }
  const app = row.source === "app";
  return {
    id: row.id,
    source: row.source,
    jobId: app ? row.job_id : null,
    deliveryId: app ? row.delivery_id : null,
    installationId: app ? row.installation_id : null,
    repo: row.repo,
    prNumber: app || row.pr_number > 0 ? row.pr_number : null,
    prTitle: row.pr_title,
    trigger: JSON.parse(row.trigger) as Trigger | null,
    mode: row.mode,
    executors: JSON.parse(row.executors) as string[],
    baseSha: row.base_sha,
    headSha: row.head_sha,
    status: row.status,
    attempts: row.attempts,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.started_at !== null && row.finished_at !== null ? Math.max(0, row.finished_at - row.started_at) : null,
    workdir: row.workdir,
    baseRef: row.base_ref,
    headRef: row.head_ref,
    patchOutput: row.patch_output,
    phases,
    usage: row.usage === null ? null : (JSON.parse(row.usage) as Usage),
    costUsd: row.cost_usd,
    findings: row.findings,
    links: JSON.parse(row.links) as RunLinks,
    error: row.error,
    checkRunId: row.check_run_id ?? null,
  };
}

function capLine(line: string, maxBytes: number): string {
  if (Buffer.byteLength(line) <= maxBytes) return line;
  const head = Buffer.from(line).subarray(0, maxBytes).toString("utf8").replace(/\uFFFD$/, "");
  return `${head}… [line cut at ${maxBytes} bytes]`;
}

let lastTime = 0;
let counter = 0;

/**
 * Sortable run ids: time (base 36, fixed width), a per-millisecond counter, then randomness so two
 * processes writing one file don't collide. Sorting by id is sorting by creation, which lets the list
 * page with a plain `id < before` cursor.
 */
export function newRunId(now = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    counter = 0;
  } else {
    counter++;
  }
  // 40 random bits, from randomUUID(): it draws from a cached pool, randomBytes() calls OpenSSL each time (~4 µs).
  const uuid = randomUUID();
  return `${lastTime.toString(36).padStart(9, "0")}${counter.toString(36).padStart(4, "0")}${uuid.slice(0, 8)}${uuid.slice(9, 11)}`;
}
