import path from "node:path";
import { severityToPriority, type RepoConfig } from "../config/schema.js";
import { Cancelled, WorkspaceError } from "../errors.js";
import { CodexSandbox } from "../executors/sandbox.js";
import {
  busyReply,
  commitMessage,
  fixBody,
  fixTitle,
  noChangeReply,
  OUTPUT_TAIL_CAP,
  openedReply,
  publishFailedReply,
  refusedReply,
  usageReply,
  verificationFailed,
  type FixMode,
  type FixReport,
  type Outdated,
  type VerifyOutcome,
} from "../fix/body.js";
import { openTargets, targetFromComment, targetFromFinding, type FixTarget } from "../fix/findings.js";
import { branchBase, branchPrefix, commitIdentity, isBotBranch, pickBranch } from "../fix/naming.js";
import { patchComment, suggestionBody, suggestionsFromPatch } from "../fix/patch-comment.js";
import { checkChanges, secretViolations, type FixPolicy } from "../fix/policy.js";
import { fixKey, runningFixes } from "../fix/registry.js";
import { replyToPull } from "../github/comments.js";
import { createFixPull, findingSources, findOpenFixPull } from "../github/fixups.js";
import { fetchPull } from "../github/pulls.js";
import { postReview, type ReviewComment } from "../github/reviews.js";
import { getReviewComment, replyInThread } from "../github/threads.js";
import { buildChangePrompt } from "../prompts/build.js";
import { parseUnifiedDiff } from "../review/diff.js";
import { redactSecrets } from "../review/sanitize.js";
import type { AgentRunResult } from "../executors/types.js";
import type { DiffFile, Finding } from "../types.js";
import type { Lease } from "../workspace/workspaces.js";
import { commitWorktree, fetchCommit, listChanges, mergeConflicts, patchBetween, pushBranch, remoteBranches, type WorktreeGit } from "../workspace/commit.js";
import { agentRequest, selectExecutors } from "./agents.js";
import { checkoutPull } from "./checkout.js";
import type { JobContext } from "./context.js";
import { describeFailure } from "./outcome.js";

/**
 * `@codex fix` / `@codex tests`, and automatic fixes after a review: Codex edits a fresh worktree
 * of the PR head (workspace-write sandbox, no credentials), then the bot takes the resulting diff,
 * checks it against the safety rules, optionally verifies it, commits it as the app and opens a PR
 * into the PR's head branch (or, for forks, posts it as a patch). The agent exits before the bot
 * touches git metadata or the token.
 */

interface FixRequest {
  mode: FixMode;
  targets: FixTarget[];
  instruction: string | null;
  /** Login of who asked; null for automatic fixes. */
  requestedBy: string | null;
  requestUrl: string | null;
  /** Posts a reply where the request was made (the thread, or the PR conversation). */
  reply(body: string): Promise<string>;
  /** Whether this fix is the job's own run (commands) or rides along in a review's run (auto-fix). */
  ownRun: boolean;
}

const VERIFY_TAIL_LINES = 60;

/** A command job of mode fix or tests. */
export async function runFix(ctx: JobContext, mode: FixMode): Promise<void> {
  const { job } = ctx;
  const trigger = job.trigger;
  if (trigger.kind !== "command") throw new Error("fix jobs are started by commands");
  const thread = trigger.reviewThread ?? null;
  // In a thread, replies go to its first comment: GitHub does not take replies to replies.
  const reply = (body: string): Promise<string> =>
    thread
      ? replyInThread(ctx.octokit, ctx.coords, job.prNumber, thread.parentId, body)
      : replyToPull(ctx.octokit, ctx.coords, job.prNumber, body);

  const key = fixKey(ctx.coords.owner, ctx.coords.repo, job.prNumber);
  const holder = runningFixes.claim(key, { jobId: job.id, mode, link: trigger.commentUrl, since: Date.now() });
  if (holder.jobId !== job.id) {
    await reply(busyReply({ requestedBy: trigger.sender, running: holder }));
    return;
  }
  try {
    const instruction = job.instruction?.trim() || null;
    let targets: FixTarget[] = [];
    if (thread) {
      const parent = await getReviewComment(ctx.octokit, ctx.coords, thread.parentId);
      const target = parent ? targetFromComment(parent) : null;
      if (!target) {
        await reply(
          `@${trigger.sender} \`@codex fix\` in a review thread fixes the finding that thread is about, but this thread does not start with one of my findings. ` +
            "Write `@codex fix <what to fix>` on the pull request instead.",
        );
        return;
      }
      targets = [target];
    } else if (mode === "fix" && instruction === null) {
      const { comments, reviews } = await findingSources(ctx.octokit, ctx.coords, job.prNumber);
      targets = openTargets(comments, reviews);
      if (targets.length === 0) {
        await reply(usageReply(trigger.sender));
        return;
      }
    }
    await performFix(ctx, { mode, targets, instruction, requestedBy: trigger.sender, requestUrl: trigger.commentUrl, reply, ownRun: true });
  } finally {
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

function policyOf(config: RepoConfig): FixPolicy {
  return {
    allowWorkflowChanges: config.fix.allow_workflow_changes,
    allowBinaries: config.fix.allow_binaries,
    maxFileBytes: config.fix.max_file_bytes,
  };
}

async function performFix(ctx: JobContext, req: FixRequest): Promise<void> {
  const { pull, config, signal } = ctx;
  const started = Date.now();
  const run = ctx.run;
  const timed = <T>(phase: "checkout" | "agent" | "publish", fn: () => Promise<T>): Promise<T> => (req.ownRun ? run.timed(phase, fn) : fn());
  const settle = (status: "succeeded" | "failed", links: { fixPr?: string; comment?: string }, error?: string): void => {
    if (req.ownRun) run.settle({ status, usage, links, ...(error !== undefined ? { error } : {}) });
    else if (links.fixPr !== undefined) run.link({ fixPr: links.fixPr });
  };
  let usage: AgentRunResult["usage"] | null = null;
  const checkout = await timed("checkout", () => checkoutPull(ctx));
  const lease = checkout.lease;
  try {
    // A fix is one agent's diff: the first of those selected for this mode.
    const { name: agentName, executor } = selectExecutors(ctx, req.mode).executors[0]!;
    const result = await timed("agent", () => executor.run({
      worktree: lease.dir,
      mode: req.mode,
      prompt: buildChangePrompt({
        mode: req.mode,
        repo: `${ctx.coords.owner}/${ctx.coords.repo}`,
        baseRef: pull.baseRef,
        baseSha: pull.baseSha,
        headRef: pull.headRef,
        headSha: pull.headSha,
        changedFiles: checkout.files.map((f) => ({ path: f.path, status: f.status })),
        skippedFiles: [...checkout.skipped, ...checkout.overLimit.map((o) => o.path)],
        instructions: config.review.instructions,
        prTitle: pull.title,
        prBody: pull.body,
        findings: req.targets,
        request: req.instruction,
      }),
      ...agentRequest(ctx, agentName),
      timeoutMs: Math.min(config.codex.timeout_minutes * 60_000, ctx.deps.settings.timeoutCapMs),
      signal,
      ...(req.ownRun ? { onEvent: (line: string) => run.event(line) } : {}),
    }));
    usage = result.usage;
    try {
      await timed("publish", () => publish(ctx, req, lease, checkout.files, result.finalMessage, started, settle));
    } catch (err) {
      // A git failure here is about committing or pushing, not about checking out: say so.
      if (!(err instanceof WorkspaceError)) throw err;
      ctx.log.warn({ err }, "fix could not be published");
      const url = await req.reply(publishFailedReply({ requestedBy: req.requestedBy, message: err.message, knownSecrets: ctx.secrets }));
      settle("failed", { comment: url }, "the fix could not be published");
    }
  } finally {
    await lease.release().catch((err: unknown) => ctx.log.warn({ err }, "worktree release failed"));
  }
}

type Settle = (status: "succeeded" | "failed", links: { fixPr?: string; comment?: string }, error?: string) => void;

/** From the agent's edits to a published fix: commit, check, verify, push and open (or post the patch). */
async function publish(
  ctx: JobContext,
  req: FixRequest,
  lease: Lease,
  prFiles: DiffFile[],
  agentMessage: string,
  started: number,
  settle: Settle,
): Promise<void> {
  const { job, pull, config, signal } = ctx;
  const base = {
    mode: req.mode,
    prNumber: job.prNumber,
    headSha: pull.headSha,
    targets: req.targets,
    instruction: req.instruction,
    requestedBy: req.requestedBy,
    knownSecrets: ctx.secrets,
  };
  const commit = await commitWorktree(lease.git, {
    parent: pull.headSha,
    message: commitMessage(base),
    author: commitIdentity(),
    signal,
  });
  if (commit === null) {
    ctx.log.info({ durationMs: Date.now() - started }, "fix produced no change");
    settle("succeeded", { comment: await req.reply(noChangeReply({ ...base, agentMessage })) });
    return;
  }

  const changes = await listChanges(lease.git, pull.headSha, commit, signal);
  const patch = await patchBetween(lease.git, pull.headSha, commit, signal);
  if (req.ownRun) ctx.run.diff(patch);
  const violations = [...checkChanges(changes, policyOf(config)), ...secretViolations(parseUnifiedDiff(patch), ctx.secrets)];
  if (violations.length > 0) {
    ctx.log.warn({ violations: violations.map((v) => ({ path: v.path, kind: v.kind })) }, "fix refused by the safety rules");
    const url = await req.reply(refusedReply({ requestedBy: req.requestedBy, violations, changes }));
    settle("failed", { comment: url }, "the change breaks the fix-up safety rules");
    return;
  }

  const verify = config.fix.verify === null ? null : await runVerify(ctx, lease.dir, config.fix.verify);
  const outdated = await checkOutdated(ctx, lease.git, commit);
  const report: FixReport = {
    ...base,
    headRef: pull.headRef,
    repoHtmlUrl: job.repo.htmlUrl,
    requestUrl: req.requestUrl,
    changes,
    agentMessage,
    verify,
    outdated,
  };

  if (pull.fromFork) {
    // Never push to a fork or open a PR against it: the patch goes in a comment instead.
    const url = await req.reply(patchComment(report, patch));
    await postSuggestions(ctx, patch, prFiles, url);
    settle("succeeded", { comment: url });
    ctx.log.info({ files: changes.length, durationMs: Date.now() - started }, "fix posted as a patch (fork)");
    return;
  }

  const token = await ctx.token();
  const wanted = branchBase(req.mode, job.prNumber, pull.headSha);
  const taken = await remoteBranches(lease.git, { url: job.repo.cloneUrl, token, prefix: wanted, signal });
  const branch = pickBranch(wanted, taken);
  await pushBranch(lease.git, { url: job.repo.cloneUrl, token, sha: commit, branch, signal });
  const opened = await createFixPull(ctx.octokit, ctx.coords, {
    title: fixTitle(report),
    body: fixBody(report),
    head: branch,
    base: pull.headRef,
    draft: verificationFailed(report),
  });
  settle("succeeded", { fixPr: opened.url, comment: await req.reply(openedReply(report, opened)) });
  ctx.log.info(
    { pull: opened.number, branch, files: changes.length, verified: verify?.passed ?? null, outdated: outdated !== null, durationMs: Date.now() - started },
    "fix pull request opened",
  );
}

/** Runs `fix.verify` in the worktree, sandboxed like the agent; never throws except on cancellation. */
async function runVerify(ctx: JobContext, dir: string, command: string): Promise<VerifyOutcome> {
  const { settings } = ctx.deps;
  const sandbox = new CodexSandbox({
    bin: settings.codexBin,
    homesRoot: path.join(settings.dataDir, "codex-homes"),
    // The same unprivileged user as the agent, when the operator set one (AGENT_USER).
    runAs: settings.agentUser ? { user: settings.agentUser, dataDir: settings.dataDir } : null,
  });
  const timeoutMs = Math.min(ctx.config.fix.verify_timeout_minutes * 60_000, ctx.deps.settings.timeoutCapMs);
  const started = Date.now();
  try {
    const r = await sandbox.run({ cwd: dir, command, timeoutMs, signal: ctx.signal });
    return {
      command,
      passed: r.exitCode === 0 && !r.timedOut,
      exitCode: r.exitCode,
      timedOut: r.timedOut,
      durationMs: r.durationMs,
      outputTail: tailOf(redactSecrets(r.output, ctx.secrets)),
    };
  } catch (err) {
    if (err instanceof Cancelled) throw err;
    ctx.log.warn({ err }, "verification could not run");
    const message = err instanceof Error ? err.message : String(err);
    return { command, passed: false, exitCode: null, timedOut: false, durationMs: Date.now() - started, outputTail: "", error: redactSecrets(message, ctx.secrets) };
  }
}

function tailOf(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").trimEnd().split("\n").slice(-VERIFY_TAIL_LINES).join("\n");
  return lines.length > OUTPUT_TAIL_CAP ? `…${lines.slice(-(OUTPUT_TAIL_CAP - 1))}` : lines;
}

/**
 * A push to the PR while the fix ran makes the fix one for an outdated head. It is still offered;
 * the PR then says which head it was made against and whether it still merges into the new one.
 */
async function checkOutdated(ctx: JobContext, git: WorktreeGit, commit: string): Promise<Outdated | null> {
  const latest = await fetchPull(ctx.octokit, ctx.coords, ctx.job.prNumber);
  if (latest.headSha === ctx.pull.headSha) return null;
  try {
    await fetchCommit(git, {
      url: ctx.job.repo.cloneUrl,
      token: await ctx.token(),
      ref: `refs/pull/${ctx.job.prNumber}/head`,
      sha: latest.headSha,
      repoName: `${ctx.coords.owner}/${ctx.coords.repo}`,
      signal: ctx.signal,
    });
    return { currentHead: latest.headSha, conflicts: await mergeConflicts(git, latest.headSha, commit, ctx.signal) };
  } catch (err) {
    if (err instanceof Cancelled) throw err;
    ctx.log.warn({ err }, "could not check the fix against the new head");
    return { currentHead: latest.headSha, conflicts: null };
  }
}

/** Fork PRs: the hunks that fit on the PR's diff lines, as one review of suggestions. Best effort. */
async function postSuggestions(ctx: JobContext, patch: string, prFiles: DiffFile[], patchUrl: string): Promise<void> {
  const comments: ReviewComment[] = [];
  for (const s of suggestionsFromPatch(patch, prFiles)) {
    const body = suggestionBody(s);
    if (body === null || redactSecrets(body, ctx.secrets) !== body) continue;
    comments.push(
      s.startLine === s.endLine
        ? { path: s.path, line: s.endLine, side: "RIGHT", body }
        : { path: s.path, line: s.endLine, start_line: s.startLine, side: "RIGHT", start_side: "RIGHT", body },
    );
  }
  if (comments.length === 0) return;
  const body = `Suggestions from the [suggested fix](${patchUrl}), for the hunks that sit on this pull request's changed lines.`;
  try {
    await postReview(
      ctx.octokit,
      ctx.coords,
      {
        pullNumber: ctx.job.prNumber,
        commitId: ctx.pull.headSha,
        body,
        comments,
        fallbackBody: () => `${body}\n\nGitHub did not accept them as inline suggestions; use the patch instead.`,
      },
      ctx.log,
    );
  } catch (err) {
    if (err instanceof Cancelled) throw err;
    ctx.log.warn({ err }, "could not post the fix's suggestions");
  }
}
