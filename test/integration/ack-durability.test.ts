import { randomBytes } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { startAppProcess, INSTALLATION_ID, WEBHOOK_SECRET } from "../../bench/lib/app-process.js";
import { GitHubStandIn } from "../../bench/lib/github-stand-in.js";
import { killApp } from "../helpers/kill.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/queue-fixtures.js";
import { deliver, pullRequestPayload, type RepoFixture } from "../helpers/webhooks.js";

/**
 * "A 2xx means the job is durable", tested the hard way: the real app in its own process (its default
 * SQLite queue, group commit, synchronous=NORMAL; with the WAL fsynced off the event loop before the
 * answer by default, or not at all with QUEUE_DURABILITY=process-crash, where the WAL in the OS page
 * cache is what outlives the process) acknowledges
 * a burst of concurrent signed deliveries and is SIGKILLed the moment the last 2xx arrives. No
 * graceful shutdown runs. A second process on the same data directory must find and run every job.
 */

const REPO: RepoFixture = { owner: "octo", name: "durable", cloneUrl: "file:///nonexistent/octo/durable.git" };
const BURST = 60;
const opened: { close(): Promise<void> }[] = [];

afterAll(async () => {
  for (const o of opened.reverse()) await o.close();
});

describe.each(["power-loss", "process-crash"])("acknowledged deliveries survive a SIGKILL of the app (QUEUE_DURABILITY=%s)", (durability) => {
  it("finds every acknowledged job after a restart and runs each exactly once", async () => {
    const dataDir = makeTempDir(`ack-durability-${durability}`);
    const env = { WORKER_CONCURRENCY: "2", QUEUE_DURABILITY: durability };
    // Workers block on their first GitHub request, so the jobs are pending or running at the kill.
    const gh = new GitHubStandIn({ config: "auto_review:\n  enabled: false\n", keepBodies: false });
    await gh.start();
    opened.push({ close: () => (gh.release(), gh.close()) });
    gh.hold();
    const first = await startAppProcess({ dataDir, githubUrl: gh.url, env });
    opened.push({ close: () => first.stop(5_000) });

    const deliveries = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        deliver(
          first.url,
          "pull_request",
          pullRequestPayload(
            "synchronize",
            REPO,
            { number: i + 1, headSha: randomBytes(20).toString("hex"), baseSha: randomBytes(20).toString("hex") },
            INSTALLATION_ID,
          ),
          { secret: WEBHOOK_SECRET },
        ),
      ),
    );
    await killApp(first);
    const acknowledged = deliveries.filter((d) => d.status >= 200 && d.status < 300).map((d) => d.deliveryId);
    expect(acknowledged).toHaveLength(BURST);

    const file = path.join(dataDir, "codex-pr-bot.sqlite");
    const rowsAfterKill = readJobs(file);
    expect(acknowledged.filter((id) => !rowsAfterKill.has(id))).toEqual([]);

    // The restarted app takes over the jobs the dead one held and runs the rest.
    gh.release();
    const second = await startAppProcess({ dataDir, githubUrl: gh.url, env });
    opened.push({ close: () => second.stop(5_000) });
    let finished = new Map<string, { jobId: string; status: string }>();
    await waitFor(
      () => {
        finished = readJobs(file);
        return acknowledged.every((id) => finished.get(id)?.status === "done");
      },
      "every acknowledged job to run after the restart",
      90_000,
    );
    expect(new Set(acknowledged.map((id) => finished.get(id)!.jobId)).size).toBe(BURST);
    // One queue row per delivery: nothing was enqueued twice by the restart.
    expect(finished.size).toBe(BURST);

    // The workers recorded the repository's auto_review settings for the intake (first signals: no
    // queued check run on a push whose review the settings skip).
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const settings = db.prepare("SELECT settings FROM repo_auto_review WHERE repo = ?").pluck().get(`${REPO.owner}/${REPO.name}`) as string;
      expect(JSON.parse(settings)).toMatchObject({ enabled: false });
    } finally {
      db.close();
    }
  }, 180_000);
});

function readJobs(file: string): Map<string, { jobId: string; status: string }> {
  // A fresh read-write connection, like the restarted app's: it replays the WAL the dead one left.
  const db = new Database(file, { fileMustExist: true });
  try {
    const rows = db.prepare("SELECT delivery_id, id, status FROM queue_jobs").all() as { delivery_id: string; id: string; status: string }[];
    return new Map(rows.map((r) => [r.delivery_id, { jobId: r.id, status: r.status }]));
  } finally {
    db.close();
  }
}
