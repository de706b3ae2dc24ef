import path from "node:path";
import { severityToPriority, type ExecutorName } from "../config/schema.js";
import { policyOf, runFixPipeline } from "../engine/fix.js";
import type { RunTracker } from "../engine/run.js";
import { Cancelled } from "../errors.js";
import { CodexSandbox } from "../executors/sandbox.js";
import { appJail } from "../jail/for-settings.js";
import { agentLabel, busyReply, commitMessage, usageReply, type FixMode } from "../fix/body.js";
import { openTargets, targetFromComment, targetFromFinding, type FixTarget } from "../fix/findings.js";
import { branchPrefix, commitIdentity, isBotBranch } from "../fix/naming.js";
import { fixKey, runningFixes } from "../fix/registry.js";
import { runVerifyCommand, type VerifyOutcome } from "../fix/verify.js";
import { replyToPull } from "../github/comments.js";
import { findingSources, findOpenFixPull } from "../github/fixups.js";
import { getReviewComment, replyInThread } from "../github/threads.js";
import { redactSecrets } from "../review/sanitize.js";
import type { Finding } from "../types.js";
import type { JobContext } from "./context.js";
import { openFixCheck } from "./fix-check.js";
import { githubFixSink, reportBase, resumePushedFix, type FixRequest } from "./fix-sink.js";
import { describeFailure } from "./outcome.js";
import { pickAgents } from "./pick-agents.js";
import { agentTimeout, pullChangePrompt, pullSource } from "./pull-source.js";
import { closedThreadFingerprints } from "./review-scope.js";
import { mentionPrefix } from "./trigger.js";

/**
 * `@codex fix` / `@codex tests`, and automatic fixes after a review: the app's door into the fix
 * pipeline (engine/fix.ts). It works out what to fix (the thread's finding, the open findings, the
 * instruction), holds the per-PR fix slot, and hands the pipeline the pull request as its source
 * and the GitHub sink (fix-sink.ts: the fix PR, or a patch comment for a fork). With two agents
 * selected for the mode (routing or `executors`, i.e. not a `@codex`/`@claude` command), both write
 * a candidate and the better one is published (best of two, fix/best-of-two.ts).
 */

/** A command job of mode fix or tests. */
export async function runFix(ctx: JobContext, mode: FixMode): Promise<void> {
  const { job } = ctx;
  const trigger = job.trigger;
  if (trigger.kind !== "command" && trigger.kind !== "dispatch" && trigger.kind !== "button") {
    throw new Error("fix jobs are started by commands, buttons or dispatches");
  }
  // A dispatch (MCP fix_pr) has no comment: its replies go to the PR conversation, mentioning no one.
  const command = trigger.kind === "command" ? trigger : null;
  // Who asked, to mention in replies: a command's author or whoever clicked "Fix findings".
  const asker = trigger.kind === "command" || trigger.kind === "button" ? trigger.sender : null;
  const thread = command?.reviewThread ?? null;
  // In a thread, replies go to its first comment: GitHub does not take replies to replies.
  const reply = (body: string): Promise<string> =>
    thread
      ? replyInThread(ctx.octokit, ctx.coords, job.prNumber, thread.parentId, body)
      : replyToPull(ctx.octokit, ctx.coords, job.prNumber, body);

  const key = fixKey(ctx.coords.owner, ctx.coords.repo, job.prNumber);
  const link = command?.commentUrl ?? (trigger.kind === "button" ? trigger.checkRunUrl : `${job.repo.htmlUrl}/pull/${job.prNumber}`);
  const holder = runningFixes.claim(key, { jobId: job.id, mode, link, since: Date.now() });
  if (holder.jobId !== job.id) {
    if (asker) await reply(busyReply({ requestedBy: asker, running: holder }));
    else ctx.run.settle({ status: "failed", error: `a ${holder.mode} run for this pull request is already in progress (${holder.link}); dispatch again once it has finished` });
    return;
  }
  // The job's own check run (fix-check.ts), taken over from an earlier attempt, completed on every way out.
  const check = await openFixCheck(ctx, mode);
  try {
    // The app died during an earlier attempt (or GitHub stopped one, which this job carries on): a
    // branch it pushed gets its PR, not a second agent run.
    if (ctx.run.attempt > 1 || job.resume) {
      const resumed = await resumePushedFix(ctx, { mode, requestedBy: asker, reply });
      if (resumed) {
        if (resumed.result) ctx.run.settle(resumed.result);
        return;
      }
    }
    const instruction = job.instruction?.trim() || null;
    let targets: FixTarget[] = [];
    if (thread) {
      const parent = await getReviewComment(ctx.octokit, ctx.coords, thread.parentId);
      const target = parent ? targetFromComment(parent) : null;
      if (!target) {
        await reply(
          `${mentionPrefix(trigger)}\`@codex fix\` in a review thread fixes the finding that thread is about, but this thread does not start with one of my findings. ` +
            "Write `@codex fix <what to fix>` on the pull request instead.",
        );
        return;
      }
      targets = [target];
    } else if (mode === "fix" && instruction === null) {
      const { comments, reviews } = await findingSources(ctx.octokit, ctx.coords, job.prNumber);
      // Only unresolved findings: what a person resolved or dismissed, or the bot saw fixed, stays as it is.
      targets = openTargets(comments, reviews, await closedThreadFingerprints(ctx));
      if (targets.length === 0) {
        if (command) await reply(usageReply(command.sender));
        else if (asker) await reply(`@${asker} there are no open findings of mine on this pull request to fix (people resolved them, or later commits fixed them).`);
        else ctx.run.settle({ status: "failed", error: "there are no open findings of the bot on this pull request to fix: dispatch fix_pr with an instruction" });
        return;
      }
    }
    const requestUrl = command?.commentUrl ?? (trigger.kind === "button" ? trigger.checkRunUrl : null);
    await performFix(ctx, { mode, targets, instruction, requestedBy: asker, requestUrl, reply, ownRun: true, check });
  } catch (err) {
    await check.finish(err);
    throw err;
  } finally {
    await check.finish();
    runningFixes.release(key, job.id);
  }
}

/**
 * The auto-fix hook for the review flow: call it after an automatic review has posted (and released
 * its worktree) with the findings that review reported. It opens a fix PR (or a patch comment for a
 * fork) when `fix.auto.enabled` is set and a finding is at or above `fix.auto.min_severity`.
 * Never throws: a failure is logged and reported in a comment; a cancellation is only logged.
 */
export async function runAutoFix(ctx: JobContext, findings: readonly Finding[]): Promise<void> {
  const auto = ctx.config.fix.auto;
  if (!auto.enabled || ctx.job.trigger.kind !== "event") return;
  // Forks and first-time contributors get read-only automatic reviews (auto_review policy): no fixes.
  if (ctx.job.policy?.readOnly) return;
  const min = severityToPriority(auto.min_severity);
  const due = findings.filter((f) => f.priority <= min);
  if (due.length === 0) return;
  const log = ctx.log.child({ autoFix: true });
  if (isBotBranch(ctx.pull.headRef)) {
    log.info("automatic fix skipped: the pull request is itself a fix-up");
    return;
  }
  const key = fixKey(ctx.coords.owner, ctx.coords.repo, ctx.job.prNumber);
  const link = `${ctx.job.repo.htmlUrl}/pull/${ctx.job.prNumber}`;
  const holder = runningFixes.claim(key, { jobId: ctx.job.id, mode: "fix", link, since: Date.now() });
  if (holder.jobId !== ctx.job.id) {
    log.info({ running: holder.jobId }, "automatic fix skipped: a fix is running");
    return;
  }
  try {
    if (!ctx.pull.fromFork) {
      const open = await findOpenFixPull(ctx.octokit, ctx.coords, {
        base: ctx.pull.headRef,
        branchPrefix: branchPrefix("fix", ctx.job.prNumber),
      });
      if (open) {
        log.info({ pull: open.number }, "automatic fix skipped: a fix pull request is already open");
        return;
      }
    }
    const targets = [...due].sort((a, b) => a.priority - b.priority).map(targetFromFinding);
    await performFix(ctx, {
      mode: "fix",
      targets,
      instruction: null,
      requestedBy: null,
      requestUrl: null,
      reply: (body) => replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, body),
      ownRun: false,
    });
  } catch (err) {
    const report = describeFailure(err, ctx.secrets, ctx.job.id);
    log[report.unexpected ? "error" : "warn"]({ err }, "automatic fix failed");
    if (!(err instanceof Cancelled)) {
      await replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, `**Automatic fix failed: ${report.title}**\n\n${report.summary}`).catch(
        (replyErr: unknown) => log.error({ err: replyErr }, "could not report the failure"),
      );
    }
  } finally {
    runningFixes.release(key, ctx.job.id);
  }
}

/**
 * The app's door into the fix pipeline (engine/fix.ts): the pull request in the pool is the source;
 * the sink replies where the request was made and opens the fix pull request (or, for a fork, posts
 * the patch). An automatic fix rides along in its review's run: it records only the fix PR's link.
 */
async function performFix(ctx: JobContext, req: FixRequest): Promise<void> {
  const started = Date.now();
  const run = req.ownRun ? ctx.run : ridingAlong(ctx.run);
  const base = reportBase(ctx, req);
  const { settings } = ctx.deps;
  // A requested fix reports progress on its own check run; an automatic one rides in its review's.
  const check = req.check ?? null;
  await runFixPipeline(
    {
      mode: req.mode,
      source: pullSource(ctx),
      prompt: (tree) => pullChangePrompt(ctx, req.mode, tree, req.targets, req.instruction),
      pickAgents: () => pickAgents(ctx, req.mode),
      // A pool of one worktree per repository cannot hold two candidates at once: then the first agent alone.
      secondTree: !(settings.poolSize < 2),
      onAlone: () => ctx.log.warn({ poolSize: settings.poolSize }, "best of two needs two worktrees; running the first agent only"),
      commit: { parent: ctx.pull.headSha, message: commitMessage(base), author: commitIdentity() },
      policy: policyOf(ctx.config),
      secrets: ctx.secrets,
      verify: ctx.config.fix.verify === null ? null : (dir) => runVerify(ctx, dir, ctx.config.fix.verify!),
      failureLine: (agent, err) => failureLine(ctx, agent, err),
      timeoutMs: agentTimeout(ctx),
      signal: ctx.signal,
      run,
      priceTable: settings.priceTable,
      ...(check ? { onProgress: check.onProgress } : {}),
    },
    githubFixSink(ctx, req, started),
  );
}

/**
 * A review's retry whose earlier attempt completed the review and died in its automatic fix, after
 * the fix branch was pushed (issue 22): the fix PR for that branch, reported on the pull request,
 * instead of a branch left without one. Nothing when no earlier attempt pushed one. Never throws.
 */
export async function resumeAutoFix(ctx: JobContext): Promise<void> {
  if (ctx.job.trigger.kind !== "event" || ctx.run.attempt < 2) return;
  try {
    const resumed = await resumePushedFix(ctx, {
      mode: "fix",
      requestedBy: null,
      reply: (body) => replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, body),
    });
    const fixPr = resumed?.result?.links?.fixPr;
    if (fixPr !== undefined) ctx.run.link({ fixPr });
  } catch (err) {
    ctx.log.warn({ err }, "could not open the fix pull request of an earlier attempt");
  }
}

/** A tracker for a fix that rides along in another run: only the fix PR's link is kept. */
function ridingAlong(run: RunTracker): RunTracker {
  return {
    phase: () => undefined,
    timed: (_name, fn) => fn(),
    link: (links) => {
      if (links.fixPr !== undefined) run.link({ fixPr: links.fixPr });
    },
    describe: () => undefined,
    event: () => undefined,
    diff: () => undefined,
    settle: (result) => {
      if (result.links?.fixPr !== undefined) run.link({ fixPr: result.links.fixPr });
    },
    get result() {
      return null;
    },
  };
}

/** One line on why an agent's run failed, for the PR body: redacted, without the stack. */
function failureLine(ctx: JobContext, agent: ExecutorName, err: unknown): string {
  const report = describeFailure(err, ctx.secrets, ctx.job.id, agentLabel(agent));
  const message = redactSecrets(err instanceof Error ? err.message : String(err), ctx.secrets).split("\n")[0]!.slice(0, 300);
  return `${report.title}: ${message}`;
}

/** Runs `fix.verify` in the worktree, sandboxed like the agent; never throws except on cancellation. */
async function runVerify(ctx: JobContext, dir: string, command: string): Promise<VerifyOutcome> {
  const { settings } = ctx.deps;
  const sandbox = new CodexSandbox({
    bin: settings.codexBin,
    homesRoot: path.join(settings.dataDir, "codex-homes"),
    // The same unprivileged user as the agent, when the operator set one (AGENT_USER).
    runAs: settings.agentUser ? { user: settings.agentUser, dataDir: settings.dataDir } : null,
    jail: appJail(settings),
  });
  const timeoutMs = Math.min(ctx.config.fix.verify_timeout_minutes * 60_000, ctx.deps.settings.timeoutCapMs);
  return runVerifyCommand(sandbox, {
    dir,
    command,
    timeoutMs,
    secrets: ctx.secrets,
    signal: ctx.signal,
    onError: (err) => ctx.log.warn({ err }, "verification could not run"),
  });
}
