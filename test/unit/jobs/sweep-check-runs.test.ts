import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryQueue } from "../../../src/jobs/memory-queue.js";
import { SqliteQueue } from "../../../src/jobs/sqlite-queue.js";
import { queuedJobLookup, sweepCheckRuns, type QueuedJob } from "../../../src/jobs/sweep-check-runs.js";
import { RunStore } from "../../../src/store/runs.js";
import type { Job } from "../../../src/types.js";
import { makeTempDir } from "../../helpers/tmp.js";

/**
 * Issue 22, the start-up sweep: check runs left in progress by jobs that will not run again are
 * completed as "Interrupted"; those of jobs the queue still holds (or may hold) are left to them.
 */

const log = pino({ level: "silent" });
const NAME = "codex-pr-bot / review";
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function job(id: string, pr: number): Job {
  return {
    id,
    deliveryId: `d-${id}`,
    installationId: 77,
    repo: { owner: "octo", name: "demo", defaultBranch: "main", cloneUrl: "https://github.com/octo/demo.git", htmlUrl: "https://github.com/octo/demo" },
    prNumber: pr,
    mode: "review",
    trigger: { kind: "event", event: "pull_request", action: "synchronize", sender: "alice" },
    instruction: null,
    pull: { headSha: `${pr}`.repeat(40).slice(0, 40), headRef: "f", baseSha: "a".repeat(40), baseRef: "main", fromFork: false, isDraft: false, author: "alice", title: "t", body: "" },
    enqueuedAt: 0,
  };
}

/** A stand-in for GitHub's check runs API: status by id, the PATCHes it received. */
function github(status: Record<number, string>) {
  const patches: { check_run_id: number; status: string; conclusion: string; output: { title: string; summary: string } }[] = [];
  const octokit = {
    rest: {
      checks: {
        get: async (p: { owner: string; repo: string; check_run_id: number }) => {
          expect([p.owner, p.repo]).toEqual(["octo", "demo"]);
          const s = status[p.check_run_id];
          if (s === undefined) throw Object.assign(new Error("Not Found"), { status: 404 });
          return { data: { id: p.check_run_id, status: s } };
        },
        update: async (p: (typeof patches)[number]) => {
          patches.push(p);
          status[p.check_run_id] = p.status;
          return { data: {} };
        },
      },
    },
  };
  return { octokit, patches, auth: async () => ({ octokit: octokit as never, token: async () => "t" }) };
}

function store(): RunStore {
  const runs = new RunStore(path.join(makeTempDir("sweep"), "runs.sqlite"));
  closers.push(() => runs.close());
  return runs;
}

/** A job that started and created check run `checkRunId`; `end` finishes its run. */
function started(runs: RunStore, id: string, pr: number, checkRunId: number, end?: "succeeded" | "failed"): string {
  const runId = runs.create(job(id, pr));
  runs.start(runId);
  runs.recordCheckRun(runId, checkRunId, NAME);
  if (end) runs.finish(runId, { status: end, ...(end === "failed" ? { error: "Codex failed." } : {}) });
  return runId;
}

describe("sweepCheckRuns", () => {
  it("completes the check runs of jobs that ended or are gone, and leaves those of jobs that may still run", async () => {
    const runs = store();
    started(runs, "lost", 1, 1001);
    started(runs, "queued-again", 2, 1002);
    started(runs, "ended", 3, 1003, "failed");
    started(runs, "elsewhere", 4, 1004);
    started(runs, "done-on-github", 5, 1005, "succeeded");
    const abandonedNow = started(runs, "abandoned-now", 6, 1006);
    started(runs, "gone-from-github", 7, 1007, "succeeded");
    await new Promise((r) => setTimeout(r, 5));
    const since = Date.now();
    // Given up on by this start-up's queue recovery: its abandoned report completes it.
    runs.finish(abandonedNow, { status: "failed", error: "interrupted too often" });

    const queue: Record<string, QueuedJob> = { lost: "ended", "queued-again": "live", ended: "ended", elsewhere: "unknown", "done-on-github": "ended", "abandoned-now": "ended", "gone-from-github": "ended" };
    const gh = github({ 1001: "in_progress", 1002: "in_progress", 1003: "in_progress", 1004: "in_progress", 1005: "completed", 1006: "in_progress" });
    const result = await sweepCheckRuns({ runs, log, auth: gh.auth }, (id) => queue[id]!, since);

    expect(result).toEqual({ completed: 2, settled: 2, skipped: 3 });
    expect(gh.patches.map((p) => [p.check_run_id, p.status, p.conclusion, p.output.title])).toEqual([
      [1001, "completed", "failure", "Interrupted"],
      [1003, "completed", "failure", "Interrupted"],
    ]);
    expect(gh.patches[0]!.output.summary).toBe(
      "codex-pr-bot stopped working on this review of `111111111111` and will not come back to it: the job was lost when the app stopped and is no longer queued. " +
        "Comment `@codex review` on the pull request (or push a new commit) to run it again.",
    );
    expect(gh.patches[1]!.output.summary).toContain("the job ended (failed: Codex failed) without completing its check run");
    // The lost job's run record is over too; the ended one keeps its own result.
    expect(runs.byJob("lost")).toMatchObject({ status: "failed", error: "the job was lost when the app stopped and is no longer queued" });
    expect(runs.byJob("ended")).toMatchObject({ status: "failed", error: "Codex failed." });

    // What it completed (or found completed) is recorded: the next start looks only at the rest.
    expect(runs.effects.openCheckRuns().map((c) => c.jobId).sort()).toEqual(["abandoned-now", "elsewhere", "queued-again"]);
    const again = await sweepCheckRuns({ runs, log, auth: gh.auth }, (id) => queue[id]!, since);
    expect(again).toEqual({ completed: 0, settled: 0, skipped: 3 });
    expect(gh.patches).toHaveLength(2);
  });

  it("asks the SQLite queue (shared by every process on the file) and takes an in-memory queue's old jobs as gone", async () => {
    const dir = makeTempDir("sweep-queue");
    const sqlite = new SqliteQueue({ database: path.join(dir, "queue.sqlite"), concurrency: 1, log, durability: "process-crash" });
    closers.push(() => sqlite.close());
    await sqlite.enqueue(job("waiting", 1));
    const ask = queuedJobLookup(sqlite);
    expect(ask("waiting")).toBe("live");
    expect(ask("never-seen")).toBe("ended");
    expect(queuedJobLookup(new MemoryQueue({ concurrency: 1, log }))("anything")).toBe("ended");
    expect(queuedJobLookup({} as never)("anything")).toBe("unknown");
  });
});
