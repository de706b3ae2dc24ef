import { agentLabel } from "../fix/body.js";
import { autoReviewSkip } from "../config/auto-review.js";
import { severityToPriority } from "../config/schema.js";
import { CHECK_RUN_ACTIONS, CheckRun, type Conclusion } from "../github/checks.js";
import { botReviewBodies } from "../github/comments.js";
import { fetchPull } from "../github/pulls.js";
import { postReview } from "../github/reviews.js";
import { composeReview, quoteNotes } from "../review/compose.js";
import { extractFingerprints } from "../review/fingerprint.js";
import { buildAnnotations, formatCheckOutput, formatProgress, nothingToReviewSummary, unparsedFileLabel } from "../review/format.js";
import type { Finding } from "../types.js";
import type { JobContext } from "./context.js";
import { runReviewPipeline, type ReviewRun } from "../engine/review.js";
import { agentsTable, appWording, executorNames, pickAgents } from "./pick-agents.js";
import { agentTimeout } from "./pull-source.js";
import { ReviewScope } from "./review-scope.js";
import { scheduleRetry, splitAgreed } from "./retry-later.js";
import { canDefer, gitHubUnavailable } from "./defer.js";
import { findKeptReview, keepReview, postKeptReview } from "./kept-review.js";
import { resumeAutoFix, runAutoFix } from "./fix.js";
import { describeFailure, runStatusOf, spentOf } from "./outcome.js";
import { ProgressReporter } from "./progress.js";
import { queuedCheckRunOn } from "./first-signal.js";

export const CHECK_NAMES = { review: "codex-pr-bot / review", audit: "codex-pr-bot / audit" } as const;

/** Why an automatic review does not run, or null when it should. Commands skip these gates. */
export function autoReviewSkipReason(ctx: JobContext): string | null {
  if (ctx.job.trigger.kind !== "event") return null;
  return autoReviewSkip(ctx.config.auto_review, ctx.pull);
}

/**
 * The app's door into the review pipeline (engine/review.ts): the pull request checked out in the
 * pool is the source; one GitHub review plus a completed check run is the sink.
 */
export async function runReview(ctx: JobContext, mode: "review" | "audit"): Promise<void> {
  const skip = autoReviewSkipReason(ctx);
  if (skip) {
    ctx.log.info({ reason: skip }, "automatic review skipped");
    return;
  }
  const started = Date.now();
  const check = (await openCheckRun(ctx, mode))?.onCompleted(() => ctx.run.effects.completed("check_run", checkName(ctx, mode)));
  // An earlier attempt finished the review: only an automatic fix it may have left half done remains.
  if (!check) return resumeAutoFix(ctx);
  if (check.url) ctx.run.link({ checkRun: check.url });
  const kept = findKeptReview(ctx, mode);
  if (kept) {
    await postKeptReview(ctx, check, kept).catch((err: unknown) => fail(ctx, check, err, mode));
    return;
  }
  const progress = new ProgressReporter((title, summary) => check.progress(title, summary), formatProgress, {
    intervalMs: ctx.deps.settings.progressIntervalMs,
    mode,
    startedAt: started,
    log: ctx.log,
  });
  // Findings this run posted for the first time: the only ones an automatic fix may act on, or
  // every push would open another fix PR for the same unfixed finding.
  let newlyPosted: Finding[] = [];
  // The range (incremental on a push) and the conversation (open findings, people's decisions).
  const scope = new ReviewScope(ctx, mode);
  try {
    await runReviewPipeline(
      {
        mode,
        source: scope.source(),
        prompt: (tree) => scope.prompt(tree),
        pickAgents: () => pickAgents(ctx, mode),
        wording: appWording(ctx),
        minPriority: severityToPriority(ctx.config.review.min_severity),
        timeoutMs: agentTimeout(ctx),
        signal: ctx.signal,
        run: ctx.run,
        priceTable: ctx.deps.settings.priceTable,
        onProgress: (p) => progress.update(p),
      },
      {
        nothingToReview: async (tree) => {
          await progress.stop();
          await check.complete({
            conclusion: "success",
            title: "Nothing to review",
            summary: nothingToReviewSummary(tree.skipped, tree.unparsed, ctx.secrets),
          });
          return { value: undefined, findings: null };
        },
        publish: async (review) => {
          await progress.stop();
          const posted = await publishReview(ctx, mode, check, review, started, scope);
          newlyPosted = posted.newlyPosted;
          return { value: undefined, findings: posted.findings };
        },
        failed: async (err) => {
          await progress.stop();
          await fail(ctx, check, err, mode);
        },
      },
    );
  } finally {
    await progress.stop();
  }
  // After the release: the fix takes a worktree of its own (a pool of one would otherwise deadlock).
  if (newlyPosted.length > 0) await runAutoFix(ctx, newlyPosted);
}

/**
 * The job's check run: the `queued` one the intake created when the job was accepted (first-signal.ts),
 * turned `in_progress`; or the one an earlier attempt of this job created (the app died during it),
 * taken over and updated; else a new one, recorded in the run store as it is created. Null when an
 * earlier attempt already completed it: its result is on GitHub and posting again would duplicate it.
 */
async function openCheckRun(ctx: JobContext, mode: "review" | "audit"): Promise<CheckRun | null> {
  const { pull, coords, octokit, run } = ctx;
  const name = checkName(ctx, mode);
  // A job put back while GitHub was unavailable (jobs/defer.ts) carries on the check run of the job it continues.
  const resume = ctx.job.resume;
  // The intake's queued check run, on this head and untouched by an earlier attempt: in_progress as it is.
  const queued = queuedCheckRunOn(run, name, pull.headSha);
  if (queued !== null) {
    try {
      const check = CheckRun.existing(octokit, coords, queued);
      await check.begin("Starting…", `Checking out \`${pull.headSha.slice(0, 12)}\` and starting Codex.`);
      ctx.log.info({ checkRunId: queued }, "took over the queued check run");
      return check;
    } catch (err) {
      ctx.log.warn({ err, checkRunId: queued }, "could not start the queued check run; looking it up");
    }
  }
  // "intended": the intake's create may have reached GitHub without its answer reaching us.
  const intended = run.effects.get("check_run", name)?.state === "intended";
  if (run.checkRunId !== null || run.attempt > 1 || resume || intended) {
    try {
      const earlier = await CheckRun.find(octokit, coords, {
        name,
        headSha: pull.headSha,
        externalId: resume?.of ?? ctx.job.id,
        knownId: run.checkRunId ?? resume?.checkRunId ?? null,
      });
      if (earlier && earlier.status !== "completed" && earlier.headSha !== pull.headSha) {
        // A command's queued check run is on the head when it was accepted; the pull request moved on since.
        await earlier.check.complete({
          conclusion: "cancelled",
          title: `Moved on: reviewing ${pull.headSha.slice(0, 7)} instead`,
          summary: `The pull request moved from \`${earlier.headSha.slice(0, 12)}\` to \`${pull.headSha.slice(0, 12)}\` while this ${mode} waited in the queue; it runs on the new head, in the check run on that commit.`,
        });
        run.effects.completed("check_run", name, earlier.check.id);
        ctx.log.info({ checkRunId: earlier.check.id, from: earlier.headSha, to: pull.headSha }, "the queued check run's head moved: completed it, starting one on the new head");
      } else if (earlier && earlier.status === "queued") {
        if (earlier.check.id !== run.checkRunId) run.ownCheckRun(earlier.check.id, name);
        await earlier.check.begin("Starting…", `Checking out \`${pull.headSha.slice(0, 12)}\` and starting Codex.`);
        ctx.log.info({ checkRunId: earlier.check.id, attempt: run.attempt }, "took over the queued check run");
        return earlier.check;
      } else if (earlier && earlier.status !== "completed") {
        if (earlier.check.id !== run.checkRunId) run.ownCheckRun(earlier.check.id, name);
        await earlier.check.progress(
          "Starting again…",
          `The app stopped during an earlier attempt of this review; starting again on \`${pull.headSha.slice(0, 12)}\`.`,
        );
        ctx.log.info({ checkRunId: earlier.check.id, attempt: run.attempt }, "took over the check run of an earlier attempt");
        return earlier.check;
      }
      // Cancelled (a shutdown interrupted it, the job was put back; or its head moved): it stays as it is and this run gets a new one.
      else if (earlier && earlier.conclusion !== "cancelled") {
        ctx.log.info({ checkRunId: earlier.check.id, conclusion: earlier.conclusion }, "an earlier attempt already completed this review");
        return null;
      }
    } catch (err) {
      // Not finding it must not cost the review: a new check run, and the old one may stay behind.
      ctx.log.warn({ err }, "could not look up the check run of an earlier attempt");
    }
  }
  const check = await CheckRun.start(octokit, coords, {
    name,
    headSha: pull.headSha,
    title: "Starting…",
    summary: `Checking out \`${pull.headSha.slice(0, 12)}\` and starting Codex.`,
    externalId: ctx.job.id,
  });
  run.ownCheckRun(check.id, name);
  return check;
}

/** The GitHub sink: one review with inline comments, and the completed check run. */
async function publishReview(
  ctx: JobContext,
  mode: "review" | "audit",
  check: CheckRun,
  { tree: checkout, combined, reviewable: onReviewable, relevant: aboveThreshold }: ReviewRun,
  started: number,
  scope: ReviewScope,
): Promise<{ newlyPosted: Finding[]; findings: number | null }> {
  const { pull, coords, octokit } = ctx;
  const outcome = combined.outcome;
  // People's decisions stand: findings on threads a person resolved or dismissed are not raised again.
  const { kept: undecided, decided } = scope.keep(aboveThreshold);
  const { fresh: relevant, agreed } = splitAgreed(ctx.job, undecided);
  const belowThreshold = onReviewable.length - aboveThreshold.length;

  const retryNote = await scheduleRetry(ctx, combined.agents, relevant);
  const decidedNote = decided > 0 ? [`${decided} ${decided === 1 ? "finding was" : "findings were"} left out: a person resolved or dismissed ${decided === 1 ? "it" : "them"} earlier.`] : [];
  const allNotes = [...retryIntro(ctx, agreed), ...combined.notes, ...(retryNote ? [retryNote] : []), ...decidedNote];
  const notes = quoteNotes(allNotes);

  const posted = new Set(extractFingerprints((await botReviewBodies(octokit, coords, ctx.job.prNumber)).join("\n")));
  const composed = composeReview({
    outcome: { ...outcome, findings: relevant },
    mode,
    files: checkout.files,
    unparsed: checkout.unparsed,
    alreadyPosted: posted,
    maxInline: ctx.config.review.max_inline_comments,
    belowThreshold,
    headSha: pull.headSha,
    repoHtmlUrl: ctx.job.repo.htmlUrl,
    knownSecrets: ctx.secrets,
    agents: combined.agents.length > 1 ? combined.foundBy : null,
    bodyNote: overLimitNote(checkout.overLimit.length) + scope.bodyNote(),
    notes,
  });
  const { fresh, duplicatesSkipped, placement } = composed;
  // Comments on lines that changed since would sit on the wrong code: a moved head gets no review,
  // only the check run, which keeps the findings.
  const movedTo = await headMovedTo(ctx);
  const newlyPosted = movedTo === null ? fresh : [];
  // The open findings the agent says the new commits fixed: their threads resolved, one reply each.
  const threads = movedTo === null ? await scope.settleThreads(outcome.fixed ?? []) : { lines: [] };

  let reviewUrl: string | null = null;
  // An automatic run (or a retry) with nothing new stays quiet: the check run already says so.
  if (movedTo === null && (fresh.length > 0 || ((ctx.job.trigger.kind === "command" || ctx.job.trigger.kind === "button") && !ctx.job.retry))) {
    // An earlier attempt of this job may have posted it before the app died: found by its job marker, not posted twice.
    const lookFirst = ctx.run.attempt > 1 || ctx.run.effects.get("review", pull.headSha)?.state === "intended";
    ctx.run.effects.intend("review", pull.headSha);
    const review = await postReview(
      octokit,
      coords,
      { pullNumber: ctx.job.prNumber, commitId: pull.headSha, body: composed.body, comments: composed.comments, fallbackBody: composed.fallbackBody, jobId: ctx.job.id, lookFirst },
      ctx.log,
    ).catch((err: unknown) => {
      // The agent's work is not lost with the request: the next job for this head posts it (kept-review.ts).
      keepReview(ctx, {
        jobId: ctx.job.id,
        mode,
        commitId: pull.headSha,
        body: composed.body,
        comments: composed.comments,
        fallbackBody: composed.fallbackBody(),
        findings: relevant.length,
        conclusion: conclusionFor(relevant),
        error: err instanceof Error ? err.message.split("\n")[0]!.slice(0, 300) : String(err),
      });
      throw err;
    });
    ctx.run.effects.created("review", pull.headSha, { githubId: review.id, url: review.url });
    reviewUrl = review.url;
  }

  const output = formatCheckOutput({
    outcome: { ...outcome, findings: relevant },
    mode,
    durationMs: Date.now() - started,
    model: combined.model,
    usage: combined.usage,
    inlineCount: placement.inline.length,
    outsideCount: placement.outside.length,
    duplicatesSkipped,
    filesReviewed: checkout.files.length,
    filesSkipped: [
      ...checkout.skipped,
      ...checkout.overLimit.map((o) => `${o.path} (over the ${o.reason === "max-files" ? "file" : "diff size"} limit)`),
      ...checkout.unparsed.map((u) => unparsedFileLabel(u, ctx.secrets)),
    ],
  });
  await check.complete({
    conclusion: movedTo ? "neutral" : conclusionFor(relevant),
    title: movedTo ? `Outdated: the pull request moved to ${movedTo.slice(0, 7)} during the review` : output.title,
    summary: [
      ...(movedTo
        ? [
            `> This review of \`${pull.headSha.slice(0, 12)}\` finished after the pull request moved to \`${movedTo.slice(0, 12)}\`, so nothing was posted on the changed lines. The findings are below; a review of the new head follows the push, or ask with \`@codex review\`.`,
          ]
        : []),
      output.summary,
      scope.rangeNote(),
      ...threads.lines,
      ...(combined.agents.length > 1 || combined.costUsd !== null ? [`### Agents\n\n${agentsTable(combined.agents)}`] : []),
      ...allNotes,
      ...(relevant.length > ANNOTATION_LIMIT ? [`_Annotations show the ${ANNOTATION_LIMIT} most severe of ${relevant.length} findings._`] : []),
      ...(reviewUrl ? [`[Open the review](${reviewUrl})`] : []),
    ].join("\n\n"),
    // The check run belongs to the reviewed commit, so its annotations stay on the right lines.
    // One request's worth (50), most severe first: the review and summary list the rest, and a
    // request per 50 findings would make a noisy PR cost more API calls than a quiet one.
    annotations: buildAnnotations(bySeverity(relevant).slice(0, ANNOTATION_LIMIT), ctx.secrets),
    // Buttons (handlers/check-run-action.ts): "Fix findings" when there is something to fix, "Re-review" always.
    actions: movedTo ? [] : CHECK_RUN_ACTIONS.filter((a) => a.identifier !== "fix" || relevant.length > 0),
  });
  ctx.run.link(reviewUrl ? { review: reviewUrl } : {});
  ctx.log.info(
    {
      findings: outcome.findings.length,
      posted: fresh.length,
      inline: placement.inline.length,
      duplicatesSkipped,
      belowThreshold,
      agents: combined.agents.map((f) => `${f.name}:${f.status}`),
      durationMs: Date.now() - started,
    },
    "review finished",
  );
  if (movedTo) {
    // Nothing reached the pull request: not a reviewed head an incremental review may start from.
    ctx.run.settle({
      status: "cancelled",
      findings: relevant.length,
      usage: combined.usage,
      costUsd: combined.costUsd,
      error: `outdated: the pull request moved to ${movedTo.slice(0, 7)} during the review, so nothing was posted`,
    });
    return { newlyPosted, findings: null };
  }
  return { newlyPosted, findings: relevant.length };
}

const ANNOTATION_LIMIT = 50;

function bySeverity(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.priority - b.priority || b.confidence - a.confidence);
}

/** The PR's current head when it is no longer the reviewed one; null when unchanged or unknown. */
async function headMovedTo(ctx: JobContext): Promise<string | null> {
  try {
    const current = await fetchPull(ctx.octokit, ctx.coords, ctx.job.prNumber);
    return current.headSha === ctx.pull.headSha ? null : current.headSha;
  } catch (err) {
    // A failed re-check must not cost the review: post it as reviewed.
    ctx.log.warn({ err }, "could not re-check the pull request's head before posting");
    return null;
  }
}

/** Users must know when a large PR was only partly reviewed; the check run lists the files. */
function overLimitNote(count: number): string {
  return count === 0
    ? ""
    : `\n\n_This pull request is over the review size limits: ${count} lower-priority ${count === 1 ? "file was" : "files were"} not reviewed (listed in the check run)._`;
}

/** Findings are advice: the check run never blocks a merge on them, but P0/P1 stand out. */
function conclusionFor(findings: Finding[]): Conclusion {
  return findings.some((f) => f.priority <= 1) ? "neutral" : "success";
}

/**
 * Whose error ended the run when every agent failed: the first one that ran (the agents runner
 * rethrows the first failure in order), so `@claude review` failing does not read "Codex failed".
 */
function failedAgentLabel(ctx: JobContext, mode: "review" | "audit"): string {
  const first = executorNames(ctx, mode).find((n) => n === "codex" || ctx.deps.claude !== null);
  return agentLabel(first);
}

/** A retry gets a check run of its own, so it cannot overwrite the first run's result on the commit. */
export function checkName(ctx: Pick<JobContext, "job">, mode: "review" | "audit"): string {
  return ctx.job.retry ? `${CHECK_NAMES[mode]} (retry: ${ctx.job.retry.executors.join(", ")})` : CHECK_NAMES[mode];
}

function retryIntro(ctx: JobContext, agreed: number): string[] {
  const retry = ctx.job.retry;
  if (!retry) return [];
  const agreement = agreed > 0 ? ` It agrees with ${agreed} finding${agreed === 1 ? "" : "s"} of the first review, not repeated here.` : "";
  return [
    `This is a later run of ${retry.executors.map((e) => `**${e}**`).join(" and ")}, which did not finish in the first review (${retry.reason}); only findings not posted before are shown.${agreement}`,
  ];
}

async function fail(ctx: JobContext, check: CheckRun, err: unknown, mode: "review" | "audit"): Promise<void> {
  const unavailable = gitHubUnavailable(err);
  if (unavailable && canDefer(ctx.job) && ctx.deps.followUp) {
    // The job is put back (run-job.ts) and the later one takes this check run over: not completed here.
    await check
      .progress("Waiting for GitHub", `${unavailable.message}. The review continues when GitHub answers again.`)
      .catch(() => undefined);
    throw err;
  }
  const failed = describeFailure(err, ctx.secrets, ctx.job.id, failedAgentLabel(ctx, mode));
  // A retry that fails again leaves the first review standing: worth a look, not a red commit.
  const report =
    ctx.job.retry && failed.conclusion !== "cancelled"
      ? { ...failed, conclusion: "neutral" as const, summary: `${failed.summary}\n\nThe first review of this commit stands; ${ctx.job.retry.executors.join(" and ")} will not be retried again for it.` }
      : failed;
  ctx.log[report.unexpected ? "error" : "warn"]({ err }, "review failed");
  // The run record keeps what happened to the agent, whatever colour the check run shows.
  ctx.run.settle({ status: runStatusOf(failed.conclusion), error: report.title, ...spentOf(err) });
  try {
    await check.complete({ conclusion: report.conclusion, title: report.title, summary: report.summary });
  } catch (updateErr) {
    ctx.log.error({ err: updateErr }, "could not report the failure on the check run");
  }
}
