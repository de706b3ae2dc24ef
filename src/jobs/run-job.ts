import { formatHelp } from "../commands/help.js";
import { DEFAULT_CONFIG, type RepoConfig } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import { fixKey, runningFixes } from "../fix/registry.js";
import { CheckRun } from "../github/checks.js";
import { reactToComment, replyToPull } from "../github/comments.js";
import { canTrigger } from "../github/permissions.js";
import { fetchPull } from "../github/pulls.js";
import { reactToCommand } from "../github/threads.js";
import type { Logger } from "pino";
import type { Job } from "../types.js";
import { executorNames, namedAgentLabel } from "./pick-agents.js";
import { runAsk } from "./ask.js";
import { loadRepoConfig } from "./config.js";
import type { JobContext } from "./context.js";
import { runFix } from "./fix.js";
import type { PipelineDeps } from "./deps.js";
import { describeFailure, runStatusOf, spentOf } from "./outcome.js";
import type { JobWorker } from "./queue.js";
import { trackRun, type JobRunTracker } from "./run-tracker.js";
import { canDefer, deferredJob, gitHubUnavailable, waitingSentence } from "./defer.js";
import { autoReviewSkipReason, CHECK_NAMES, runReview } from "./review.js";
import { adoptFirstSignal, completeFirstCheckRun, firstSignalCheckName, takeOverFirstSignal } from "./first-signal.js";
import { expectsReply, mentionPrefix, requestNote } from "./trigger.js";

/** Secrets of the app itself, known before any token is minted. */
function appSecrets(deps: PipelineDeps): string[] {
  const env = process.env;
  return [deps.settings.codexApiKey, env.WEBHOOK_SECRET, env.PRIVATE_KEY].filter(
    (s): s is string => typeof s === "string" && s.length >= 8,
  );
}

/**
 * GitHub could not be used (rate limit, outage past the client's retry budget): the work goes back on
 * the queue for when GitHub should answer (jobs/defer.ts) instead of failing. False when it can't.
 */
async function putBack(deps: PipelineDeps, job: Job, run: JobRunTracker, err: unknown, log: Logger): Promise<boolean> {
  const unavailable = gitHubUnavailable(err);
  if (!unavailable || !canDefer(job) || !deps.followUp) return false;
  const next = deferredJob(job, unavailable, run.checkRunId);
  try {
    const result = await deps.followUp(next);
    if (!result.accepted) return false;
  } catch (queueErr) {
    log.error({ err: queueErr }, "could not put the job back on the queue");
    return false;
  }
  run.effects.handOver("check_run", next.id);
  const sentence = waitingSentence(unavailable, next.notBefore!);
  run.settle({ status: "cancelled", error: `Put back on the queue: ${sentence}` });
  log.warn({ nextJobId: next.id, notBefore: next.notBefore, deferrals: next.resume!.deferrals, err: unavailable.message }, "GitHub unavailable: job put back");
  return true;
}

/** The queue's worker: authorise, load config, dispatch by mode, and turn any failure into a message. */
export function createWorker(deps: PipelineDeps): JobWorker {
  runningFixes.markWorkerProcess();
  return async (job: Job, signal: AbortSignal) => {
    const log = deps.log.child({ jobId: job.id, repo: `${job.repo.owner}/${job.repo.name}`, pr: job.prNumber, mode: job.mode });
    const coords = { owner: job.repo.owner, repo: job.repo.name };
    const secrets = appSecrets(deps);
    const access = await deps.auth(job.installationId);
    const { octokit } = access;
    const token = async (): Promise<string> => {
      const t = await access.token();
      if (!secrets.includes(t)) secrets.push(t);
      return t;
    };
    const trigger = job.trigger;
    // The intake's queued check run and 👀 (first-signal.ts) are this job's: taken over before the run is read.
    const firstSignal = await takeOverFirstSignal(deps.signals, job, log);
    const run = trackRun(deps.runs, job, log);
    run.begin();
    const { reacted } = adoptFirstSignal(firstSignal, job, run);

    try {
      // A dispatch needs no check: whoever dispatched it holds the app's private key.
      if (trigger.kind === "command" || trigger.kind === "button") {
        // An allow-listed automation bot (commands.allow_bots) is trusted by configuration: GitHub's
        // permission API does not report app bots as collaborators.
        if (!job.policy?.allowedBot && !(await canTrigger(octokit, coords, trigger.sender))) {
          log.info({ sender: trigger.sender }, "command refused: no write access");
          await replyToPull(
            octokit,
            coords,
            job.prNumber,
            `@${trigger.sender} sorry, only people with write access to this repository can run codex-pr-bot commands.`,
          );
          await completeFirstCheckRun(octokit, coords, job, run, {
            conclusion: "cancelled",
            title: "Not run: no write access",
            summary: `@${trigger.sender} has no write access to this repository, so the command was not run.`,
          });
          return;
        }
      }

      let config: RepoConfig = DEFAULT_CONFIG;
      let configSource = "defaults";
      let configError: ConfigError | null = null;
      try {
        ({ config, source: configSource } = await loadRepoConfig(octokit, coords, job.repo.defaultBranch));
        rememberAutoReview(deps, job, config, log);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        configError = err;
      }

      if (job.mode === "help") {
        const help = formatHelp({
          handles: deps.settings.handles,
          claudeConfigured: deps.settings.claude !== null,
          config,
          configSource: configError ? "defaults (the configuration file is invalid, see below)" : configSource,
          ...(trigger.kind === "command" && trigger.unknownWord !== undefined ? { unknownWord: trigger.unknownWord } : {}),
        });
        const problem = configError ? `\n\n${describeFailure(configError, secrets, job.id).summary}` : "";
        if (trigger.kind === "command" && trigger.unknownWord === undefined && !reacted) await reactToComment(octokit, coords, trigger.commentId, "eyes");
        await replyToPull(octokit, coords, job.prNumber, help + problem);
        return;
      }

      if (trigger.kind === "command" && !reacted) await reactToCommand(octokit, coords, trigger, "eyes");
      const pull = job.pull ?? (await fetchPull(octokit, coords, job.prNumber));

      if (configError) {
        const report = describeFailure(configError, secrets, job.id);
        log.warn({ details: configError.details }, "invalid repository configuration");
        const output = { conclusion: report.conclusion, title: report.title, summary: report.summary };
        // The queued check run from the intake is completed with the report; without one, a completed one.
        if ((job.mode === "review" || job.mode === "audit") && !(await completeFirstCheckRun(octokit, coords, job, run, output))) {
          await CheckRun.conclude(octokit, coords, {
            name: CHECK_NAMES[job.mode],
            headSha: pull.headSha,
            conclusion: report.conclusion,
            title: report.title,
            summary: report.summary,
          });
        }
        if (expectsReply(trigger)) {
          await replyToPull(octokit, coords, job.prNumber, `**${report.title}**\n\n${report.summary}${requestNote(trigger)}`);
        }
        return;
      }

      const ctx: JobContext = { job, deps, log, octokit, token, coords, signal, pull, config, configSource, secrets, run };
      const skip = job.mode === "review" || job.mode === "audit" ? autoReviewSkipReason(ctx) : null;
      if (skip) {
        // runReview skips it too; the queued check run from the intake must not stay queued.
        await completeFirstCheckRun(octokit, coords, job, run, {
          conclusion: "neutral",
          title: `Skipped: ${skip}`,
          summary: `No automatic review of \`${pull.headSha.slice(0, 12)}\`: ${skip} (the repository's \`auto_review\` settings). Ask with \`@codex review\` to review it anyway.`,
        });
      }
      // The agents the job asks for (a command's or dispatch's choice, else the routing), not always codex.
      run.describe({ baseSha: pull.baseSha, headSha: pull.headSha, prTitle: pull.title, executors: executorNames(ctx, job.mode) });
      switch (job.mode) {
        case "review":
        case "audit":
          await runReview(ctx, job.mode);
          return;
        case "ask":
          await runAsk(ctx);
          return;
        case "fix":
        case "tests":
          await runFix(ctx, job.mode);
          return;
        default:
          throw new Error(`mode ${job.mode} is not handled`);
      }
    } catch (err) {
      if (await putBack(deps, job, run, err, log)) return;
      const report = describeFailure(err, secrets, job.id, namedAgentLabel(job));
      log[report.unexpected ? "error" : "warn"]({ err }, "job failed");
      run.settle({ status: runStatusOf(report.conclusion), error: report.title, ...spentOf(err) });
      // Failed before the review completed its check run (the pull request could not be read, …): the
      // queued one from the intake says so instead of staying queued.
      const checkName = firstSignalCheckName(job);
      if (checkName !== null && run.effects.get("check_run", checkName)?.state === "created") {
        await completeFirstCheckRun(octokit, coords, job, run, { conclusion: report.conclusion, title: report.title, summary: report.summary }).catch(
          (checkErr: unknown) => log.error({ err: checkErr }, "could not complete the job's check run"),
        );
      }
      if (expectsReply(trigger)) {
        const body = `${mentionPrefix(trigger)}**${report.title}**\n\n${report.summary}${requestNote(trigger)}`;
        await replyToPull(octokit, coords, job.prNumber, body).catch((replyErr: unknown) =>
          log.error({ err: replyErr }, "could not report the failure"),
        );
      }
    } finally {
      run.end({ status: "succeeded" });
      // The handler registered the fix when it accepted the command; whatever happened, it is over.
      if (job.mode === "fix" || job.mode === "tests") runningFixes.release(fixKey(job.repo.owner, job.repo.name, job.prNumber), job.id);
    }
  };
}

/** For the intake's first signals: whether this repository reviews automatically (store/auto-review-memo.ts). */
function rememberAutoReview(deps: PipelineDeps, job: Job, config: RepoConfig, log: Logger): void {
  try {
    deps.runs?.autoReview.remember(`${job.repo.owner}/${job.repo.name}`, config.auto_review);
  } catch (err) {
    log.warn({ err }, "could not record the repository's auto_review settings");
  }
}
