import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { APP_ID } from "./app-process.js";
import { killOnExit } from "./cleanup.js";
import { PROJECT_ROOT, sleep, terminate } from "./common.js";

/**
 * `codex-pr-bot worker` (src/cli.ts worker, under tsx) in its own process, as an operator starts it
 * beside a web process: it takes jobs from the shared Redis queue (QUEUE_URL) and serves no HTTP.
 * Its Probot reaches the GitHub stand-in the way it would reach GitHub Enterprise (GHE_HOST,
 * GHE_PROTOCOL=http; the stand-in strips the /api/v3 prefix). Output goes to `<dataDir>/<name>.log`.
 */

export interface WorkerCli {
  pid: number;
  logFile: string;
  /** SIGTERM (running jobs finish or go back to the queue), SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

let privateKey: string | null = null;

export async function startWorkerCli(options: {
  name: string;
  dataDir: string;
  githubUrl: string;
  env: Record<string, string>;
  args?: string[];
}): Promise<WorkerCli> {
  privateKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  const logFile = path.join(options.dataDir, `${options.name}.log`);
  const fd = openSync(logFile, "a");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/",
    LANG: process.env.LANG ?? "C.UTF-8",
    NODE_ENV: "production",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    APP_ID: String(APP_ID),
    PRIVATE_KEY: privateKey,
    GHE_HOST: new URL(options.githubUrl).host,
    GHE_PROTOCOL: "http",
    DATA_DIR: options.dataDir,
    ...options.env,
  };
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "src/cli.ts"), "worker", ...(options.args ?? [])], {
    cwd: PROJECT_ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const forget = killOnExit(child.pid!);
  let exited = false;
  const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void done.then(() => {
    exited = true;
    forget();
  });
  // Ready when it logs so (the queue has started taking jobs).
  const deadline = Date.now() + 60_000;
  while (!readFileSync(logFile, "utf8").includes("codex-pr-bot worker ready")) {
    if (exited) throw new Error(`worker ${options.name} exited during start-up:\n${readFileSync(logFile, "utf8").slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`worker ${options.name} not ready after 60 s:\n${readFileSync(logFile, "utf8").slice(-4000)}`);
    await sleep(50);
  }
  return {
    pid: child.pid!,
    logFile,
    stop: async (graceMs = 30_000) => {
      if (exited) return;
      await terminate(child, done, graceMs);
    },
  };
}
