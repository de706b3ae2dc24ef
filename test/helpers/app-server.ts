import { generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { pino, type Logger } from "pino";
import { Probot, ProbotOctokit, Server } from "probot";
import { createApp } from "../../src/app.js";
import type { Executor } from "../../src/executors/types.js";
import { MemoryQueue } from "../../src/jobs/memory-queue.js";
import type { JobQueue } from "../../src/jobs/queue.js";
import { defaultCodexBin, type Settings } from "../../src/settings.js";
import { RunStore } from "../../src/store/runs.js";
import { freePort } from "./ports.js";
import { WEBHOOK_SECRET } from "./webhooks.js";

export const APP_ID = 12345;
export const INSTALLATION_ID = 77;

/** One RSA key for the whole run: Probot signs real app JWTs with it. */
export const PRIVATE_KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
  type: "pkcs1",
  format: "pem",
}) as string;

export function testSettings(dataDir: string, overrides: Partial<Settings> = {}): Settings {
  return {
    dataDir,
    codexBin: defaultCodexBin(),
    codexApiKey: null,
    codexHomeTemplate: path.join(dataDir, "codex-template"),
    codexModel: null,
    codexPassEnv: [],
    handles: ["codex"],
    concurrency: 2,
    poolSize: 2,
    progressIntervalMs: 60_000,
    maxDiffBytes: 2 * 1024 * 1024,
    maxFiles: 300,
    timeoutCapMs: 60 * 60 * 1000,
    ...overrides,
  };
}

export interface RunningApp<Q extends JobQueue = MemoryQueue> {
  url: string;
  queue: Q;
  runs: RunStore;
  close(): Promise<void>;
}

interface StartOptions {
  executor?: Executor;
  runsToken?: string;
  /** The app's SQLite file (runs, and the queue a factory may open). Default DATA_DIR/runs.sqlite. */
  databasePath?: string;
}

/** The queue the app runs on; default an in-memory one. */
type QueueFactory<Q extends JobQueue> = (log: Logger, databasePath: string) => Q;

/** Starts the real Probot server with our app on a loopback port, as `npm start` would. */
export async function startApp<Q extends JobQueue = MemoryQueue>(
  settings: Settings,
  options: StartOptions & { queue?: QueueFactory<Q> } = {},
): Promise<RunningApp<Q>> {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const databasePath = options.databasePath ?? path.join(settings.dataDir, "runs.sqlite");
  // Without a factory Q is its default, MemoryQueue.
  const queue = (options.queue ? options.queue(log, databasePath) : new MemoryQueue({ concurrency: settings.concurrency, log })) as Q;
  const port = await freePort();
  const runs = new RunStore(databasePath);
  const server = new Server({
    host: "127.0.0.1",
    port,
    log,
    Probot: Probot.defaults({
      appId: APP_ID,
      privateKey: PRIVATE_KEY,
      secret: WEBHOOK_SECRET,
      log,
      // No retries or throttling: tests assert exact request sequences. The function form is needed:
      // Probot passes its own throttle options per client and would overwrite a plain object.
      Octokit: ProbotOctokit.defaults((options: Record<string, unknown>) => ({
        ...options,
        retry: { enabled: false },
        throttle: { ...(options.throttle as object | undefined), enabled: false },
      })),
    }),
  });
  await server.load(
    createApp({
      settings,
      queue,
      runs,
      durable: {
        queueUrl: null,
        databasePath,
        runsToken: options.runsToken ?? null,
        runRetentionDays: 30,
        runLogRetentionDays: 14,
        maxJobAttempts: 2,
        perInstallationConcurrency: settings.concurrency,
        workers: settings.concurrency,
        queueDurability: "power-loss",
      },
      handleSignals: false,
      ...(options.executor ? { executor: options.executor } : {}),
    }),
  );
  await server.start();
  return {
    url: `http://127.0.0.1:${port}`,
    queue,
    runs,
    close: async () => {
      await queue.stop(1000);
      await queue.close?.();
      await server.stop();
      runs.close();
    },
  };
}
