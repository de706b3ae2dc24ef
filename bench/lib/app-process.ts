import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { PROJECT_ROOT, terminate, waitFor } from "./common.js";

export const APP_ID = 12345;
export const INSTALLATION_ID = 77;
export const WEBHOOK_SECRET = "bench-webhook-secret-0123456789";

let privateKey: string | null = null;
function appPrivateKey(): string {
  privateKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  return privateKey;
}

/** BENCH_CPU_PROF=1 writes a V8 CPU profile of the app into its data dir (for finding hot spots). */
function cpuProfile(dataDir: string): string[] {
  return process.env.BENCH_CPU_PROF === "1" ? ["--cpu-prof", `--cpu-prof-dir=${dataDir}`] : [];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface AppProcess {
  pid: number;
  url: string;
  logFile: string;
  /** Current and peak resident set size of the app process, in KiB (from /proc/<pid>/status). */
  memory(): { rssKiB: number; hwmKiB: number };
  /** Resets the kernel's peak-RSS counter (VmHWM) so the next phase's peak is its own. */
  resetPeak(): void;
  /** Samples VmRSS every `everyMs` until the returned stop() is called; stop() gives the max seen. */
  sample(everyMs?: number): () => { maxRssKiB: number; samples: number };
  /**
   * The app's own view (process.memoryUsage, bytes): mem("reset") starts a new peak window and
   * returns current values; mem("peak") returns the peaks since the reset (sampled every 20 ms).
   */
  mem(kind: "reset" | "peak"): Promise<MemoryReport>;
  /** SIGTERM (the app drains its queue and exits), SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

export interface MemoryReport {
  now: NodeJS.MemoryUsage;
  peaks?: Pick<NodeJS.MemoryUsage, "rss" | "heapTotal" | "heapUsed" | "external" | "arrayBuffers">;
}

export interface AppProcessOptions {
  dataDir: string;
  githubUrl: string;
  /** Extra environment for the app (CODEX_BIN, WORKER_CONCURRENCY, …). */
  env?: Record<string, string>;
}

/** Starts the real app (bench/lib/app-main.ts under tsx) in its own process and waits for /ping. */
export async function startAppProcess(options: AppProcessOptions): Promise<AppProcess> {
  const port = await freePort();
  const logFile = path.join(options.dataDir, "app.log");
  writeFileSync(logFile, "");
  // An explicit environment: nothing from the shell leaks into the app (as under a process manager).
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/",
    LANG: process.env.LANG ?? "C.UTF-8",
    NODE_ENV: "production",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    ...(process.env.BENCH_STALLS ? { BENCH_STALLS: process.env.BENCH_STALLS } : {}),
    APP_ID: String(APP_ID),
    PRIVATE_KEY: appPrivateKey(),
    WEBHOOK_SECRET,
    PORT: String(port),
    BENCH_GITHUB_URL: options.githubUrl,
    BENCH_LOG_FILE: logFile,
    DATA_DIR: options.dataDir,
    DATABASE_PATH: path.join(options.dataDir, "codex-pr-bot.sqlite"),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, [...cpuProfile(options.dataDir), "--import", "tsx", path.join(PROJECT_ROOT, "bench/lib/app-main.ts")], {
    cwd: PROJECT_ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  child.channel?.unref();
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "the app to answer /ping",
    async () => {
      if (exited) throw new Error(`the app exited during start-up:\n${output}`);
      try {
        const res = await fetch(`${url}/ping`);
        await res.text();
        return res.ok ? true : undefined;
      } catch {
        return undefined;
      }
    },
    60_000,
    50,
  );
  const pid = child.pid!;
  const status = (): Record<string, number> => {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
      const m = /^(Vm\w+):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
    return out;
  };
  return {
    pid,
    url,
    logFile,
    memory: () => {
      const s = status();
      return { rssKiB: s.VmRSS ?? 0, hwmKiB: s.VmHWM ?? 0 };
    },
    resetPeak: () => writeFileSync(`/proc/${pid}/clear_refs`, "5"),
    sample: (everyMs = 25) => {
      let max = 0;
      let samples = 0;
      const tick = (): void => {
        try {
          max = Math.max(max, status().VmRSS ?? 0);
          samples++;
        } catch {
          // exited
        }
      };
      tick();
      const timer = setInterval(tick, everyMs);
      return () => {
        clearInterval(timer);
        tick();
        return { maxRssKiB: max, samples };
      };
    },
    mem: (kind) =>
      new Promise<MemoryReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the app did not answer the memory probe")), 10_000);
        const onMessage = (msg: { type?: string } & MemoryReport): void => {
          if (msg.type !== `mem-${kind}`) return;
          clearTimeout(timer);
          child.off("message", onMessage);
          resolve(msg);
        };
        child.on("message", onMessage);
        child.send({ type: `mem-${kind}` });
      }),
    stop: async (graceMs = 40_000) => {
      if (exited) return;
      await terminate(child, new Promise<void>((resolve) => child.once("exit", () => resolve())), graceMs);
    },
  };
}
