import { statSync } from "node:fs";
import { pino } from "pino";
import { Probot, Server } from "probot";
import { createApp } from "../../src/app.js";

/**
 * The app as `probot run` starts it in production (its settings, durable SQLite queue, run store and
 * workspaces all come from the environment through createApp()), except that Octokit's baseUrl points
 * at the local GitHub stand-in (BENCH_GITHUB_URL) and logs go to a file as JSON. Run in its own
 * process by app-process.ts, so its memory is measured alone.
 */

const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const log = pino({ level: env.LOG_LEVEL ?? "info" }, pino.destination({ dest: required("BENCH_LOG_FILE"), sync: false, mkdir: true }));

const server = new Server({
  host: "127.0.0.1",
  port: Number(required("PORT")),
  log,
  Probot: Probot.defaults({
    appId: required("APP_ID"),
    privateKey: required("PRIVATE_KEY"),
    secret: required("WEBHOOK_SECRET"),
    baseUrl: required("BENCH_GITHUB_URL"),
    log,
  }),
});

// BENCH_APP=noop loads an app whose pull_request handler does nothing: Probot's own floor.
await server.load(
  env.BENCH_APP === "noop"
    ? (app: Probot) => {
        app.on("pull_request", async () => undefined);
      }
    : createApp(),
);
await server.start();
// The app's own handlers exit on SIGTERM after draining; the no-op app exits the same way, so that
// BENCH_CPU_PROF=1 writes its profile too (a process killed by the signal writes none).
if (env.BENCH_APP === "noop") process.once("SIGTERM", () => process.exit(0));

// Memory probe for bench/memory.ts over the IPC channel: peaks of process.memoryUsage() since the
// last reset, sampled every 20 ms (costs nothing when not spawned with IPC).
if (process.send) {
  const fields = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] as const;
  type Peaks = Record<(typeof fields)[number], number>;
  const zero = (): Peaks => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 });
  let peaks = zero();
  const sample = (): void => {
    const m = process.memoryUsage();
    for (const f of fields) peaks[f] = Math.max(peaks[f], m[f]);
  };
  setInterval(sample, 20).unref();
  process.on("message", (msg: { type?: string }) => {
    if (msg.type === "mem-reset") {
      peaks = zero();
      sample();
      process.send?.({ type: "mem-reset", now: process.memoryUsage() });
    } else if (msg.type === "mem-peak") {
      sample();
      process.send?.({ type: "mem-peak", peaks, now: process.memoryUsage() });
    }
  });
  process.channel?.unref();
}

// BENCH_STALLS=1 logs every event-loop stall over 100 ms with the WAL's size at that moment, to tell
// a checkpoint's stall from a garbage collector's or a burst of synchronous work.
if (env.BENCH_STALLS === "1") {
  const wal = `${env.DATABASE_PATH ?? ""}-wal`;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const lag = now - last - 20;
    last = now;
    if (lag > 100) {
      let walBytes = -1;
      try {
        walBytes = statSync(wal).size;
      } catch {
        // no WAL yet
      }
      log.warn({ stallMs: Math.round(lag), walMiB: Math.round(walBytes / 1048576), heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576) }, "bench: event loop stalled");
    }
  }, 20).unref();
}
