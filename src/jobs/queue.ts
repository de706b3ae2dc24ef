import type { Logger } from "pino";
import type { Job, JobKind } from "../types.js";

/** Runs one job. The signal fires when the job is superseded or the app shuts down. */
export type JobWorker = (job: Job, signal: AbortSignal) => Promise<void>;

export type EnqueueResult =
  | { accepted: true }
  | { accepted: false; reason: "duplicate-delivery" | "duplicate-request" };

/**
 * Where handlers put work. Kept behind this interface so the in-process queue can be replaced by a
 * durable one (SQLite, BullMQ) without touching handlers or the pipeline.
 */
export interface JobQueue {
  enqueue(job: Job): Promise<EnqueueResult>;
  /** Starts delivering jobs to the worker. */
  start(worker: JobWorker): void;
  /** Stops taking jobs; waits up to graceMs for running ones, then aborts them. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves once nothing is pending or running (tests, graceful shutdown). */
  idle(): Promise<void>;
  /** Counts for the health endpoint. Durable queues count every process's jobs, not only this one's. */
  stats?(): Promise<QueueStats>;
  /** Releases connections and file handles after stop() (durable queues only). */
  close?(): Promise<void>;
  /**
   * Where a pending job stands among its installation's pending jobs; null once it started, ended or
   * was dropped (or the queue does not know it). Read from an index, cheap enough per delivery.
   */
  position?(job: PositionOf): Promise<QueuePosition | null>;
  /** Who sends a job's first signal (jobs/first-signal.ts): the intake or, when it started first, its worker. */
  readonly signals?: SignalClaims;
}

/**
 * A pending job's place. Counted per installation: PER_INSTALLATION_CONCURRENCY is what holds an
 * installation's jobs back, and another installation's backlog is none of its business.
 */
export interface QueuePosition {
  /** Pending jobs of the same installation that start before this one (0: it is next). */
  ahead: number;
  /** Jobs of the same installation running now. */
  running: number;
  /**
   * The first few of `ahead` in the same repository, oldest first. Only these are named: a check run
   * on one repository must not name another (possibly private) repository's pull requests.
   */
  aheadInRepo: { prNumber: number; mode: JobKind }[];
}

/** What a position is asked for: a job, or a run record's job (the runs page and CLI). */
export type PositionOf = Pick<Job, "id" | "installationId"> & { repo: Pick<Job["repo"], "owner" | "name"> };

/** "next", "2nd", …: a pending job's place for people (ahead = 0 is next). */
export function placeLabel(ahead: number): string {
  if (ahead === 0) return "next";
  const n = ahead + 1;
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix}`;
}

/** How many of `ahead` a position names at most. */
export const NAMED_AHEAD = 5;

/** What the intake sent for a job before a worker took it. */
export interface SentSignal {
  checkRunId: number | null;
  checkRunName: string | null;
  /** The head it is on (a command's is read at intake; the pull request may move before the worker starts). */
  checkRunHead?: string | null;
  /** The 👀 on the command's comment was sent. */
  reacted: boolean;
}

/**
 * The hand-over of a job's first signal between the intake (which sends it while the job waits) and
 * the worker (which takes it over), possibly in another process. Exactly one of them creates the
 * check run: the intake claims the job before it writes; a worker that starts first marks it taken,
 * so the intake sends nothing and the worker creates its check run as it always did.
 */
export interface SignalClaims {
  /** The intake's claim; false when a worker (or a supersede) already took the job. */
  claim(jobId: string): Promise<boolean>;
  /** The intake says what it sent (after a claim). */
  publish(jobId: string, sent: SentSignal): Promise<void>;
  /**
   * Marks the job taken and returns what the intake sent, waiting up to waitMs while it is still
   * sending. null: the intake sent nothing; "unknown": it was still sending after waitMs.
   */
  takeOver(jobId: string, waitMs: number): Promise<SentSignal | null | "unknown">;
  /** True once takeOver() ran for the job (the intake stops updating its check run). */
  taken(jobId: string): Promise<boolean>;
}

export interface QueueStats {
  pending: number;
  running: number;
}

/**
 * Told when a job will never run to completion (its process died too often while running it), so the
 * app can fail the check run with a message instead of leaving it "in progress" forever.
 */
export type AbandonedHandler = (job: Job, reason: string) => void | Promise<void>;

/**
 * Told when a pending automatic review is dropped because a newer head arrived before it ran (the
 * worker never sees it), so the app can close its run record. Running reviews that are cancelled
 * see their abort signal instead.
 */
export type SupersededHandler = (job: Job, reason: string) => void | Promise<void>;

/** What every durable queue backend is configured with; each adds its own storage options. */
export interface DurableQueueOptions {
  /** Jobs this process runs at once (0 for an enqueue-only web process, where the backend allows it). */
  concurrency: number;
  /** Jobs one installation may have running at once, across every process sharing the queue. Default: concurrency. */
  perInstallation?: number;
  /** Starts allowed per job; a job whose process died this many times is failed and reported. Default 2. */
  maxAttempts?: number;
  log: Logger;
  onAbandoned?: AbandonedHandler;
  /** With BullMQ, called by the worker process that skips the outdated job, not the one that enqueued the push. */
  onSuperseded?: SupersededHandler;
}

/** Same repo, PR, head and mode means the same logical request, whatever delivery carried it. */
export function logicalKey(job: Job): string {
  const head = job.pull?.headSha ?? `comment:${job.trigger.kind === "command" ? job.trigger.commentId : "?"}`;
  // A retry of failed agents is its own request, although it reviews the same head in the same mode.
  const retry = job.retry ? `:retry-of-${job.retry.of}` : "";
  // Put back while the job it continues is still finishing: not a duplicate of it.
  const resume = job.resume ? `:resume-of-${job.resume.of}-${job.resume.deferrals}` : "";
  // Each dispatch is a request of its own, like a comment: never merged into an automatic review of the same head.
  const dispatch = job.trigger.kind === "dispatch" ? `:dispatch-${job.id}` : "";
  // A second click on the same button of the same check run is the same request.
  const button = job.trigger.kind === "button" ? `:button-${job.trigger.checkRunId}-${job.trigger.action}` : "";
  return `${job.repo.owner}/${job.repo.name}#${job.prNumber}@${head}:${job.mode}${retry}${resume}${dispatch}${button}`;
}

export function prKey(job: Job): string {
  return `${job.repo.owner}/${job.repo.name}#${job.prNumber}`;
}

/** Automatic reviews (from PR events) may be superseded by a newer head; commands and dispatches never are. */
export function isAutomatic(job: Job): boolean {
  return job.trigger.kind === "event";
}
