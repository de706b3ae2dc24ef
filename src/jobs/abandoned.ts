import { CheckRun, type Conclusion } from "../github/checks.js";
import type { Octokit, RepoCoords } from "../github/client.js";
import { replyToPull } from "../github/comments.js";
import type { Job } from "../types.js";
import type { PipelineDeps } from "./deps.js";
import { firstSignalCheckName, takeOverFirstSignal } from "./first-signal.js";
import { checkName } from "./review.js";
import { expectsReply, mentionPrefix, requestNote } from "./trigger.js";

/**
 * A job whose process died too often while running it will never finish: say so where its author
 * looks (a failed check run, or a reply to the command or dispatch) instead of leaving "in progress" forever.
 */
export async function reportAbandoned(deps: PipelineDeps, job: Job, reason: string): Promise<void> {
  const log = deps.log.child({ jobId: job.id, pr: job.prNumber });
  log.warn({ reason }, "job abandoned");
  let checkRunId: number | null = null;
  try {
    const run = deps.runs?.byJob(job.id);
    checkRunId = run?.checkRunId ?? null;
    if (run && (run.status === "queued" || run.status === "running")) deps.runs!.finish(run.id, { status: "failed", error: reason });
  } catch (err) {
    log.warn({ err }, "could not record the abandoned run");
  }
  try {
    const { octokit } = await deps.auth(job.installationId);
    const coords = { owner: job.repo.owner, repo: job.repo.name };
    const again = job.trigger.kind === "dispatch" ? "Dispatch it again" : "Ask again with a command";
    const message = `codex-pr-bot stopped working on this and will not retry: ${reason.replace(/\.+$/, "")}. ${again} if it is still needed.`;
    if ((job.mode === "review" || job.mode === "audit") && job.pull) {
      // The check run the job created before it died is the one to complete; a new one only when it made none.
      const input = { name: checkName({ job }, job.mode), headSha: job.pull.headSha, conclusion: "failure" as const, title: "Interrupted", summary: message };
      const completed = await completeOwnCheckRun(octokit, coords, job, checkRunId, input).catch((err: unknown) => {
        log.warn({ err }, "could not look up the abandoned job's check run");
        return "none" as const;
      });
      if (completed === "none") await CheckRun.conclude(octokit, coords, input);
    } else if (expectsReply(job.trigger)) {
      await replyToPull(octokit, coords, job.prNumber, `${mentionPrefix(job.trigger)}${message}${requestNote(job.trigger)}`);
    }
  } catch (err) {
    log.error({ err }, "could not report the abandoned job");
  }
}

/**
 * A pending job replaced by a newer push: close its run as cancelled, and complete the check run it
 * has as cancelled: the queued one its intake created (first-signal.ts), or the one an attempt that
 * started before the app went down created (it was put back to run again).
 */
export async function recordSuperseded(deps: PipelineDeps, job: Job, reason: string): Promise<void> {
  // Taken first: the intake sends nothing more for it, and a first signal still being sent is waited for.
  const sent = await takeOverFirstSignal(deps.signals, job, deps.log);
  let started = false;
  let checkRunId: number | null = null;
  const name = firstSignalCheckName(job) ?? (job.mode === "review" || job.mode === "audit" ? checkName({ job }, job.mode) : null);
  let recorded = false;
  try {
    const run = deps.runs?.byJob(job.id);
    started = (run?.attempts ?? 0) > 0;
    checkRunId = run?.checkRunId ?? null;
    const effect = name !== null ? deps.runs?.effects.get(job.id, "check_run", name) : null;
    recorded = effect?.state === "intended" || effect?.state === "created";
    if (checkRunId === null && effect?.state === "created" && effect.githubId !== null) checkRunId = Number(effect.githubId);
    if (run && (run.status === "queued" || run.status === "running")) deps.runs!.finish(run.id, { status: "cancelled", error: reason });
  } catch (err) {
    deps.log.warn({ err, jobId: job.id }, "could not record the superseded run");
  }
  if (sent !== null && sent !== "unknown" && sent.checkRunId !== null) checkRunId ??= sent.checkRunId;
  const queued = checkRunId !== null || recorded || sent === "unknown";
  if ((!started && !queued) || name === null || !job.pull) return;
  const head = `\`${job.pull.headSha.slice(0, 12)}\``;
  try {
    const { octokit } = await deps.auth(job.installationId);
    const completed = await completeOwnCheckRun(octokit, { owner: job.repo.owner, repo: job.repo.name }, job, checkRunId, {
      name,
      headSha: job.pull.headSha,
      conclusion: "cancelled",
      title: "Cancelled: the pull request moved on",
      summary: started
        ? `This review of ${head} was interrupted when the app stopped, and will not run again: ${reason}. The new head is reviewed instead.`
        : `This review of ${head} was still waiting in the queue when the pull request moved on (${reason}), so it will not run. The new head is reviewed instead.`,
    });
    if (completed === "completed") deps.runs?.effects.completed(job.id, "check_run", name, checkRunId ?? undefined);
  } catch (err) {
    deps.log.error({ err, jobId: job.id }, "could not complete the superseded job's check run");
  }
}

/**
 * Completes the check run `job` created (by its recorded id, else its external_id) unless it already is.
 * "none" when the job created none.
 */
async function completeOwnCheckRun(
  octokit: Octokit,
  coords: RepoCoords,
  job: Job,
  knownId: number | null,
  input: { name: string; headSha: string; conclusion: Conclusion; title: string; summary: string },
): Promise<"completed" | "already" | "none"> {
  const found = await CheckRun.find(octokit, coords, { name: input.name, headSha: input.headSha, externalId: job.id, knownId });
  if (!found) return "none";
  if (found.status === "completed") return "already";
  await found.check.complete({ conclusion: input.conclusion, title: input.title, summary: input.summary });
  return "completed";
}
