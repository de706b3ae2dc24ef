import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
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
  // freePort's port may be taken by another test's server before redis binds it: redis then exits
  // ("Address already in use") and a fresh port is tried.
  let lastOutput = "";
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    server.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    server.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<"exited">((resolve) => server.once("exit", () => resolve("exited")));
    const ready = (async () => {
      // A PONG from this port while our child is alive: a port merely held by someone else is not enough.
      await waitFor(async () => server.exitCode !== null || (await pings(port)), "redis-server to answer PING");
      return server.exitCode === null ? ("ready" as const) : ("exited" as const);
    })();
    const result = await Promise.race([ready, exited]);
    if (result === "ready") {
      return { url: `redis://127.0.0.1:${port}`, stop: () => killAndWait(server) };
    }
    lastOutput = output;
    await ready.catch(() => undefined);
  }
  throw new Error(`redis-server did not start after 5 ports: ${lastOutput}`);
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d: Buffer) => {
      reply += d.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}
