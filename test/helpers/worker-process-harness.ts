import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { waitFor } from "./queue-fixtures.js";
import type { WorkerLogLine, WorkerProcessConfig } from "./worker-process.js";

export type { WorkerLogLine, WorkerProcessConfig };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A throwaway redis-server on a random loopback port, without persistence. CI installs redis-server
 * (.ci/run); without it this throws, on purpose, rather than skipping the test.
 */
export async function startRedis(): Promise<RedisServer> {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error("redis-server is not installed: run `apt-get install -y redis-server` (CI does)");
  }
  const port = await freePort();
  const server = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  server.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  server.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        if (server.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
        const probe = createServer();
        probe.once("error", () => resolve(true));
        probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(false)));
      }),
    "redis-server to listen",
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => killAndWait(server),
  };
}

export interface WorkerProcess {
  pid: number;
  ready(): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL if it has not exited after timeoutMs. */
  stop(timeoutMs?: number): Promise<void>;
  exitCode(): number | null;
  stderr(): string;
}

/** Starts test/helpers/worker-process.ts as a separate Node process. */
export function spawnWorkerProcess(config: WorkerProcessConfig): WorkerProcess {
  const script = fileURLToPath(new URL("./worker-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return {
    pid: child.pid!,
    ready: () =>
      waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`worker process ${config.name} exited (${child.exitCode}): ${stderr}`);
          return stdout.includes('"event":"ready"');
        },
        `worker process ${config.name} to start`,
        20_000,
      ),
    stop: async (timeoutMs = 8_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    exitCode: () => child.exitCode,
    stderr: () => stderr,
  };
}

/** The lines every worker process appended to the shared log, in file order. */
export function readWorkerLog(file: string): WorkerLogLine[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as WorkerLogLine);
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}
