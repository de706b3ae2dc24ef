import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { freePort } from "./ports.js";
import { waitFor } from "./queue-fixtures.js";
import { REDIS } from "./services.js";

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A throwaway redis-server on a random loopback port, without persistence. CI installs redis-server
 * (.ci/run); without it this throws: callers skip first with skipWithout(REDIS, …) (services.ts),
 * which never skips with CI=true, so there a missing redis-server fails loudly here.
 */
export async function startRedis(): Promise<RedisServer> {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error(`redis-server is not installed: run \`${REDIS.install}\` (.ci/run does)`);
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

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}
