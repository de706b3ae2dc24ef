import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Job } from "../../src/types.js";

let seq = 0;

export interface JobSpec extends Partial<Job> {
  head?: string;
  pr?: number;
  command?: boolean;
}

/** A job as the handlers would enqueue it: an automatic review unless `command` is set. */
export function makeJob(spec: JobSpec = {}): Job {
  seq++;
  const { head = "a".repeat(40), pr = 1, command = false, ...rest } = spec;
  const tag = randomUUID().slice(0, 8);
  return {
    id: `job-${seq}-${tag}`,
    deliveryId: `delivery-${seq}-${tag}`,
    installationId: 1,
    repo: { owner: "o", name: "r", defaultBranch: "main", cloneUrl: "/x", htmlUrl: "https://github.com/o/r" },
    prNumber: pr,
    mode: "review",
    trigger: command
      ? { kind: "command", commentId: seq, commentUrl: "u", sender: "s", executor: "codex" }
      : { kind: "event", event: "pull_request", action: "synchronize", sender: "s" },
    instruction: null,
    pull: command
      ? null
      : {
          headSha: head,
          headRef: "f",
          baseSha: "b".repeat(40),
          baseRef: "main",
          fromFork: false,
          isDraft: false,
          author: "a",
          title: "",
          body: "",
        },
    enqueuedAt: Date.now(),
    ...rest,
  };
}

/** A worker whose jobs finish only when the test says so. */
export function controlledWorker() {
  const started: string[] = [];
  const aborted: { id: string; reason: string }[] = [];
  const finishers = new Map<string, () => void>();
  const worker = (j: Job, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      started.push(j.id);
      finishers.set(j.id, resolve);
      signal.addEventListener("abort", () => {
        aborted.push({ id: j.id, reason: String((signal.reason as Error | undefined)?.message) });
        resolve();
      });
    });
  return {
    worker,
    started,
    aborted,
    abortedIds: () => aborted.map((a) => a.id),
    finish: (id: string) => finishers.get(id)?.(),
  };
}

/** Polls until the check passes (durable queues work across timers and connections). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

export interface ChildEvent {
  event: string;
  id?: string;
  attempts?: number | null;
  reason?: string;
}

/**
 * Runs test/helpers/queue-child.ts with the given config (a ChildConfig). The caller kills it with
 * SIGKILL to simulate a crash; `exited` resolves once the process is gone.
 */
export function spawnQueueChild(config: object) {
  const script = fileURLToPath(new URL("./queue-child.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  const events: ChildEvent[] = [];
  let stderr = "";
  let buffer = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) events.push(JSON.parse(line) as ChildEvent);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    events,
    exited,
    async waitForEvent(name: string, timeoutMs = 15_000): Promise<ChildEvent> {
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`queue child exited early (${child.exitCode}): ${stderr}`);
          return events.some((e) => e.event === name);
        },
        `queue child event ${name}`,
        timeoutMs,
      );
      return events.find((e) => e.event === name)!;
    },
    async crash(): Promise<void> {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
