import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { waitFor } from "./queue-fixtures.js";
import type { WorkerLogLine, WorkerProcessConfig } from "./worker-process.js";

export type { WorkerLogLine, WorkerProcessConfig };

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
