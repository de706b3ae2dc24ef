import os from "node:os";
import path from "node:path";
import { DATABASE_FILE } from "../store/db.js";
import { BullQueue } from "./bullmq-queue.js";
import type { DurableQueueOptions, JobQueue } from "./queue.js";
import { SqliteQueue } from "./sqlite-queue.js";

/**
 * The durable-queue and run-history settings, read from the environment (docs/operations.md).
 * Plain parsing without zod so the worker entry point and scripts can read them cheaply.
 */
export interface DurableSettings {
  /** QUEUE_URL: redis://… selects BullMQ; null keeps the embedded SQLite queue. */
  queueUrl: string | null;
  /** DATABASE_PATH: the SQLite file (queue when embedded, run history always). */
  databasePath: string;
  /** RUNS_TOKEN: enables the runs pages; null keeps them off. */
  runsToken: string | null;
  /** RUN_RETENTION_DAYS: runs older than this are pruned. */
  runRetentionDays: number;
  /** RUN_LOG_RETENTION_DAYS: agent event logs and diffs of finished runs older than this are pruned (the run record stays). */
  runLogRetentionDays: number;
  /** MAX_JOB_ATTEMPTS: starts allowed per job before it is reported as failed. */
  maxJobAttempts: number;
  /** PER_INSTALLATION_CONCURRENCY: running jobs per installation. */
  perInstallationConcurrency: number;
  /** WORKERS: jobs this process runs at once; 0 for a web-only process (with QUEUE_URL). */
  workers: number;
  /**
   * QUEUE_DURABILITY (embedded queue): what an acknowledged webhook survives. "power-loss" (default)
   * waits for an fsync of the WAL (off the event loop, one per group of webhooks); "process-crash"
   * answers once the job is in the OS page cache: it survives the app's crash or SIGKILL, not a power cut.
   */
  queueDurability: "power-loss" | "process-crash";
}

export class DurableSettingsError extends Error {
  override readonly name = "DurableSettingsError";
}

/** Reads DurableSettings; `dataDir` and `concurrency` are the app's DATA_DIR and WORKER_CONCURRENCY. */
export function readDurableSettings(
  env: NodeJS.ProcessEnv,
  defaults: { dataDir: string; concurrency?: number },
): DurableSettings {
  const concurrency = defaults.concurrency ?? Math.max(1, os.availableParallelism());
  const queueUrl = text(env.QUEUE_URL);
  if (queueUrl !== null && !/^rediss?:\/\//.test(queueUrl)) {
    throw new DurableSettingsError("QUEUE_URL must start with redis:// or rediss://");
  }
  const workers = int(env, "WORKERS", concurrency, 0);
  if (workers === 0 && queueUrl === null) {
    throw new DurableSettingsError("WORKERS=0 needs QUEUE_URL: without a shared queue nothing would run the jobs");
  }
  return {
    queueUrl,
    databasePath: text(env.DATABASE_PATH) ?? path.join(defaults.dataDir, DATABASE_FILE),
    runsToken: text(env.RUNS_TOKEN),
    runRetentionDays: int(env, "RUN_RETENTION_DAYS", 30, 1),
    runLogRetentionDays: int(env, "RUN_LOG_RETENTION_DAYS", 14, 1),
    maxJobAttempts: int(env, "MAX_JOB_ATTEMPTS", 2, 1),
    perInstallationConcurrency: int(env, "PER_INSTALLATION_CONCURRENCY", concurrency, 1),
    workers,
    queueDurability: durability(env.QUEUE_DURABILITY),
  };
}

function durability(value: string | undefined): DurableSettings["queueDurability"] {
  const v = text(value);
  if (v === null) return "power-loss";
  if (v === "power-loss" || v === "process-crash") return v;
  throw new DurableSettingsError(`QUEUE_DURABILITY must be power-loss or process-crash, got "${v}"`);
}

export interface CreateQueueOptions extends DurableQueueOptions {
  queueUrl: string | null;
  sqlitePath: string;
  /** The embedded queue's QUEUE_DURABILITY (Redis's persistence is Redis's configuration). */
  durability?: DurableSettings["queueDurability"];
}

/** QUEUE_URL set: BullMQ on Redis, shared by every process. Otherwise the embedded SQLite queue. */
export function createQueue(options: CreateQueueOptions): JobQueue {
  const { queueUrl, sqlitePath, durability, ...common } = options;
  if (queueUrl) return new BullQueue({ url: queueUrl, ...common });
  if (options.concurrency < 1) throw new DurableSettingsError("the embedded queue needs at least one worker");
  return new SqliteQueue({ database: sqlitePath, ...common, ...(durability ? { durability } : {}) });
}

function text(value: string | undefined): string | null {
  const v = value?.trim();
  return v ? v : null;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = text(env[name]);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new DurableSettingsError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return n;
}
