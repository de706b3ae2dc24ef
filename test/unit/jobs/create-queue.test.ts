import path from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createQueue, DurableSettingsError, readDurableSettings } from "../../../src/jobs/create-queue.js";
import { SqliteQueue } from "../../../src/jobs/sqlite-queue.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("create-queue");

describe("readDurableSettings", () => {
  it("defaults to the embedded queue in the data directory, runs pages off", () => {
    expect(readDurableSettings({}, { dataDir: "/data", concurrency: 3 })).toEqual({
      queueUrl: null,
      databasePath: path.join("/data", "codex-pr-bot.sqlite"),
      runsToken: null,
      runRetentionDays: 30,
      runLogRetentionDays: 14,
      maxJobAttempts: 2,
      perInstallationConcurrency: 3,
      workers: 3,
      queueDurability: "power-loss",
    });
  });

  it("reads every variable", () => {
    const env = {
      QUEUE_URL: "redis://user:pw@redis:6379/0",
      DATABASE_PATH: "/var/lib/bot/db.sqlite",
      RUNS_TOKEN: " tok ",
      RUN_RETENTION_DAYS: "7",
      RUN_LOG_RETENTION_DAYS: "2",
      MAX_JOB_ATTEMPTS: "3",
      PER_INSTALLATION_CONCURRENCY: "1",
      WORKERS: "0",
      QUEUE_DURABILITY: "process-crash",
    };
    expect(readDurableSettings(env, { dataDir: "/data", concurrency: 3 })).toEqual({
      queueUrl: "redis://user:pw@redis:6379/0",
      databasePath: "/var/lib/bot/db.sqlite",
      runsToken: "tok",
      runRetentionDays: 7,
      runLogRetentionDays: 2,
      maxJobAttempts: 3,
      perInstallationConcurrency: 1,
      workers: 0,
      queueDurability: "process-crash",
    });
  });

  it("rejects values that would misbehave later", () => {
    const d = { dataDir: "/data" };
    expect(() => readDurableSettings({ QUEUE_URL: "http://x" }, d)).toThrow(DurableSettingsError);
    expect(() => readDurableSettings({ MAX_JOB_ATTEMPTS: "0" }, d)).toThrow(/MAX_JOB_ATTEMPTS/);
    expect(() => readDurableSettings({ RUN_RETENTION_DAYS: "1.5" }, d)).toThrow(/RUN_RETENTION_DAYS/);
    expect(() => readDurableSettings({ QUEUE_DURABILITY: "none" }, d)).toThrow(/QUEUE_DURABILITY must be power-loss or process-crash/);
    expect(() => readDurableSettings({ WORKERS: "0" }, d)).toThrow(/needs QUEUE_URL/);
  });
});

describe("createQueue", () => {
  it("uses the SQLite queue when no QUEUE_URL is set", async () => {
    const q = createQueue({
      queueUrl: null,
      sqlitePath: path.join(dir, "q.sqlite"),
      concurrency: 1,
      perInstallation: 1,
      log: pino({ level: "silent" }),
    });
    expect(q).toBeInstanceOf(SqliteQueue);
    expect(await q.stats?.()).toEqual({ pending: 0, running: 0 });
    await q.close?.();
  });
});
