import { CheckRun } from "../github/checks.js";
import { httpStatus, type Octokit } from "../github/client.js";
import type { OpenCheckRun } from "../store/effects.js";
import type { PipelineDeps } from "./deps.js";
import { MemoryQueue } from "./memory-queue.js";
import type { JobQueue } from "./queue.js";
import { SqliteQueue } from "./sqlite-queue.js";

/**
 * The start-up sweep of check runs (issue 22): a check run some job created and nothing completed,
 * because the job's process died and the job will never run again (its queue entry is gone or ended),
 * is completed as a failure that says why and what to do, instead of spinning "in progress" on the
 * pull request for ever.
 *
 * What is left alone: a job the queue still holds (pending or running, in this process or another
 * sharing the queue): it takes over its own check run when it runs again (jobs/review.ts), or the
 * queue reports it abandoned (jobs/abandoned.ts). A job the queue cannot say anything about (BullMQ)
 * is left alone unless its run record is over. And whatever this process did since it started: a job
 * abandoned at this start-up is completed by its abandoned report, not twice.
 */

/** What the queue says about a job: still to run or running (in any process), ended or gone, or it cannot tell. */
export type QueuedJob = "live" | "ended" | "unknown";

/** How the sweep asks `queue` about a job (the queue itself, not a RecordingQueue around it). */
export function queuedJobLookup(queue: JobQueue): (jobId: string) => QueuedJob {
  if (queue instanceof SqliteQueue) {
    // Every process sharing the file sees the same rows; a pruned row is a job that ended long ago.
    return (id) => {
      const state = queue.jobState(id);
      return state && (state.status === "pending" || state.status === "running") ? "live" : "ended";
    };
  }
  // Nothing in an in-process queue outlives the process: a job from before this start is gone.
  if (queue instanceof MemoryQueue) return () => "ended";
  return () => "unknown";
}

export interface SweepResult {
  /** Check runs completed as interrupted. */
  completed: number;
  /** Already completed on GitHub (or gone from it): only the record was brought up to date. */
  settled: number;
  /** Left alone: their jobs may still run. */
  skipped: number;
}

/**
 * Completes the check runs left behind by jobs that will not run again. Call it after the queue has
 * recovered its jobs (queue.start()); `since` is when this process started (what it did since is left alone).
 * Never throws: a failure is logged and the check run is looked at again at the next start.
 */
export async function sweepCheckRuns(
  deps: Pick<PipelineDeps, "runs" | "auth" | "log">,
  queued: (jobId: string) => QueuedJob,
  since: number,
): Promise<SweepResult> {
  const result: SweepResult = { completed: 0, settled: 0, skipped: 0 };
  const runs = deps.runs;
  if (!runs) return result;
  let open: OpenCheckRun[];
  try {
    open = runs.effects.openCheckRuns();
  } catch (err) {
    deps.log.warn({ err }, "check run sweep: could not read the effect ledger");
    return result;
  }
  const clients = new Map<number, Promise<Octokit>>();
  for (const check of open) {
    const log = deps.log.child({ jobId: check.jobId, checkRunId: check.checkRunId, repo: check.repo, pr: check.prNumber });
    try {
      const why = leftBehind(deps, check, queued(check.jobId), since);
      if (why === null) {
        result.skipped++;
        continue;
      }
      if (!clients.has(check.installationId)) clients.set(check.installationId, deps.auth(check.installationId).then((a) => a.octokit));
      const octokit = await clients.get(check.installationId)!;
      const [owner = "", repo = ""] = check.repo.split("/");
      const coords = { owner, repo };
      const status = await checkRunStatus(octokit, coords, check.checkRunId);
      if (status !== "completed" && status !== "gone") {
        await CheckRun.existing(octokit, coords, check.checkRunId).complete({ conclusion: "failure", title: "Interrupted", summary: why.summary });
        result.completed++;
        log.warn({ reason: why.reason }, "completed a check run left in progress by an interrupted job");
      } else {
        result.settled++;
      }
      runs.effects.completed(check.jobId, "check_run", check.name);
      if (why.finishRun) runs.finish(why.finishRun, { status: "failed", error: why.reason });
    } catch (err) {
      log.warn({ err }, "check run sweep: could not complete a check run left in progress");
    }
  }
  if (result.completed + result.settled > 0) deps.log.info({ ...result }, "check run sweep finished");
  return result;
}

/** Why `check` was left behind for good, or null when its job may still complete it. */
function leftBehind(
  deps: Pick<PipelineDeps, "runs">,
  check: OpenCheckRun,
  queued: QueuedJob,
  since: number,
): { reason: string; summary: string; finishRun: string | null } | null {
  if (queued === "live") return null;
  const run = deps.runs!.byJob(check.jobId);
  const effect = deps.runs!.effects.get(check.jobId, "check_run", check.name);
  // Recorded by this process since it started: a job it runs now, or one it just gave up on and reports.
  if (effect && effect.updatedAt >= since) return null;
  if (run?.finishedAt != null && run.finishedAt >= since) return null;
  const over = run !== null && run.status !== "queued" && run.status !== "running";
  // Another process may be running it, and nothing here can tell.
  if (queued === "unknown" && !over) return null;
  const what = run?.mode === "audit" ? "audit" : "review";
  const head = check.headSha ? ` of \`${check.headSha.slice(0, 12)}\`` : "";
  const reason = over
    ? `the job ended (${run.status}${run.error ? `: ${run.error.replace(/\.+$/, "")}` : ""}) without completing its check run`
    : "the job was lost when the app stopped and is no longer queued";
  const summary =
    `codex-pr-bot stopped working on this ${what}${head} and will not come back to it: ${reason}. ` +
    `Comment \`@codex ${what}\` on the pull request (or push a new commit) to run it again.`;
  return { reason, summary, finishRun: over || !run ? null : run.id };
}

/** The check run's status on GitHub, or "gone" when GitHub no longer has it (deleted, or the repository went). */
async function checkRunStatus(octokit: Octokit, coords: { owner: string; repo: string }, id: number): Promise<string> {
  try {
    const { data } = await octokit.rest.checks.get({ ...coords, check_run_id: id });
    return data.status;
  } catch (err) {
    if (httpStatus(err) === 404) return "gone";
    throw err;
  }
}
