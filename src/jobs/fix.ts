import path from "node:path";
import { severityToPriority, type ExecutorName } from "../config/schema.js";
import { runFixPipeline, policyOf, type Delivered, type FixOutcome, type ReadyChange } from "../engine/fix.js";
import type { RunTracker } from "../engine/run.js";
import { Cancelled } from "../errors.js";
import { CodexSandbox } from "../executors/sandbox.js";
import { appJail } from "../jail/for-settings.js";
import {
  agentLabel,
  busyReply,
  commitMessage,
  fixBody,
  fixTitle,
  noCandidateReply,
  noChangeReply,
  openedReply,
  publishFailedReply,
  refusedReply,
  usageReply,
  verificationFailed,
  type AlternativeReport,
  type FixMode,
  type FixReport,
  type Outdated,
} from "../fix/body.js";
import { changedLines, type ReadyCandidate } from "../fix/best-of-two.js";
import { openTargets, targetFromComment, targetFromFinding, type FixTarget } from "../fix/findings.js";
import { branchBase, branchPrefix, commitIdentity, isBotBranch, pickBranch } from "../fix/naming.js";
import { patchComment, suggestionBody, suggestionsFromPatch } from "../fix/patch-comment.js";
import { runVerifyCommand, type VerifyOutcome } from "../fix/verify.js";
import { fixKey, runningFixes } from "../fix/registry.js";
import { replyToPull } from "../github/comments.js";
import { createFixPull, findingSources, findOpenFixPull } from "../github/fixups.js";
import { fetchPull } from "../github/pulls.js";
import { postReview, type ReviewComment } from "../github/reviews.js";
import { getReviewComment, replyInThread } from "../github/threads.js";
import { redactSecrets } from "../review/sanitize.js";
import type { DiffFile, Finding } from "../types.js";
import { fetchCommit, mergeConflicts, pushBranch, remoteBranches, type WorktreeGit } from "../workspace/commit.js";
import type { JobContext } from "./context.js";
import { describeFailure } from "./outcome.js";
import { pickAgents } from "./pick-agents.js";
import { agentTimeout, pullChangePrompt, pullSource } from "./pull-source.js";
import { mentionPrefix } from "./trigger.js";

/**
 * `@codex fix` / `@codex tests`, and automatic fixes after a review: Codex edits a fresh worktree
 * of the PR head (workspace-write sandbox, no credentials), then the bot takes the resulting diff,
 * checks it against the safety rules, optionally verifies it, commits it as the app and opens a PR
 * into the PR's head branch (or, for forks, posts it as a patch). The agent exits before the bot
 * touches git metadata or the token. With two agents selected for the mode (routing or `executors`,
 * i.e. not a `@codex`/`@claude` command), both write a candidate and the better one is published
 * (best of two, see bestOfTwo below and fix/best-of-two.ts).
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

/** A command job of mode fix or tests. */
export async function runFix(ctx: JobContext, mode: FixMode): Promise<void> {
  const { job } = ctx;
  const trigger = job.trigger;
  if (trigger.kind !== "command" && trigger.kind !== "dispatch") throw new Error("fix jobs are started by commands or dispatches");
  // A dispatch (MCP fix_pr) has no comment: its replies go to the PR conversation, mentioning no one.
  const command = trigger.kind === "command" ? trigger : null;
  const thread = command?.reviewThread ?? null;
  // In a thread, replies go to its first comment: GitHub does not take replies to replies.
  const reply = (body: string): Promise<string> =>
    thread
      ? replyInThread(ctx.octokit, ctx.coords, job.prNumber, thread.parentId, body)
      : replyToPull(ctx.octokit, ctx.coords, job.prNumber, body);

  const key = fixKey(ctx.coords.owner, ctx.coords.repo, job.prNumber);
  const link = command?.commentUrl ?? `${job.repo.htmlUrl}/pull/${job.prNumber}`;
  const holder = runningFixes.claim(key, { jobId: job.id, mode, link, since: Date.now() });
  if (holder.jobId !== job.id) {
    if (command) await reply(busyReply({ requestedBy: command.sender, running: holder }));
    else ctx.run.settle({ status: "failed", error: `a ${holder.mode} run for this pull request is already in progress (${holder.link}); dispatch again once it has finished` });
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
          `${mentionPrefix(trigger)}\`@codex fix\` in a review thread fixes the finding that thread is about, but this thread does not start with one of my findings. ` +
            "Write `@codex fix <what to fix>` on the pull request instead.",
        );
        return;
      }
      targets = [target];
    } else if (mode === "fix" && instruction === null) {
      const { comments, reviews } = await findingSources(ctx.octokit, ctx.coords, job.prNumber);
      targets = openTargets(comments, reviews);
      if (targets.length === 0) {
        if (command) await reply(usageReply(command.sender));
        else ctx.run.settle({ status: "failed", error: "there are no open findings of the bot on this pull request to fix: dispatch fix_pr with an instruction" });
        return;
      }
    }
    const requestedBy = command?.sender ?? null;
    await performFix(ctx, { mode, targets, instruction, requestedBy, requestUrl: command?.commentUrl ?? null, reply, ownRun: true });
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
    },
    {
      deliver: (outcome) => deliverOutcome(ctx, req, outcome, started),
      publishFailed: async (err) => {
        ctx.log.warn({ err }, "fix could not be published");
        const url = await req.reply(publishFailedReply({ requestedBy: req.requestedBy, message: err.message, knownSecrets: ctx.secrets }));
        return { value: undefined, result: { status: "failed", links: { comment: url }, error: "the fix could not be published" } };
      },
    },
  );
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

/** The parts of a report that come from the request, not from the change. */
function reportBase(ctx: JobContext, req: FixRequest) {
  return {
    mode: req.mode,
    prNumber: ctx.job.prNumber,
    headSha: ctx.pull.headSha,
    targets: req.targets,
    instruction: req.instruction,
    requestedBy: req.requestedBy,
    ...(ctx.job.trigger.kind === "dispatch" ? { dispatchedBy: ctx.job.trigger.requestedBy } : {}),
    knownSecrets: ctx.secrets,
  };
}

type Settled = Delivered<void>;

function settled(status: "succeeded" | "failed", links: { fixPr?: string; comment?: string }, error?: string): Settled {
  return { value: undefined, result: { status, links, ...(error !== undefined ? { error } : {}) } };
}

/** What the pipeline's outcome becomes on the pull request. */
async function deliverOutcome(ctx: JobContext, req: FixRequest, outcome: FixOutcome, started: number): Promise<Settled> {
  const { pull } = ctx;
  const base = reportBase(ctx, req);
  switch (outcome.kind) {
    case "unchanged":
      ctx.log.info({ durationMs: Date.now() - started }, "fix produced no change");
      return settled("succeeded", { comment: await req.reply(noChangeReply({ ...base, agentMessage: outcome.agentMessage })) });
    case "refused": {
      ctx.log.warn({ violations: outcome.violations.map((v) => ({ path: v.path, kind: v.kind })) }, "fix refused by the safety rules");
      const url = await req.reply(refusedReply({ requestedBy: req.requestedBy, violations: outcome.violations, changes: outcome.changes }));
      return settled("failed", { comment: url }, "the change breaks the fix-up safety rules");
    }
    case "none": {
      const { candidates } = outcome;
      ctx.log.info({ candidates: candidates.map((c) => ({ agent: c.agent, kind: c.kind })) }, "no candidate fix to publish");
      const url = await req.reply(noCandidateReply({ mode: req.mode, requestedBy: req.requestedBy, headSha: pull.headSha, candidates, knownSecrets: ctx.secrets }));
      return candidates.some((c) => c.kind === "refused")
        ? settled("failed", { comment: url }, "the change breaks the fix-up safety rules")
        : settled("succeeded", { comment: url });
    }
    case "ready":
      break;
  }
  const { change, selection } = outcome;
  if (selection) {
    ctx.log.info(
      {
        candidates: [selection.winner, ...(selection.runnerUp ? [selection.runnerUp] : [])].map((c) => ({
          agent: c.agent,
          kind: c.kind,
          lines: changedLines(c.changes),
          verified: c.verify?.passed ?? null,
        })),
        winner: selection.winner.agent,
      },
      "best of two: candidate chosen",
    );
  }
  const alternative: PendingAlternative | null = selection?.runnerUp ? alternativeOf(selection.runnerUp) : null;
  const outdated = await checkOutdated(ctx, change.tree.git, change.commit);
  const report: FixReport = {
    ...base,
    headRef: pull.headRef,
    repoHtmlUrl: ctx.job.repo.htmlUrl,
    requestUrl: req.requestUrl,
    changes: change.changes,
    agentMessage: change.agentMessage,
    verify: change.verify,
    outdated,
    agent: change.agent,
    ...(selection ? { bestOfTwo: { reason: selection.reason, alternative: alternative?.report ?? null, notes: selection.notes } } : {}),
  };
  return deliver(ctx, req, { report, patch: change.patch, commit: change.commit, git: change.tree.git, prFiles: change.tree.files, started, alternative });
}

/** The runner-up of best of two, pushed next to the fix PR's branch. */
interface PendingAlternative {
  report: AlternativeReport;
  commit: string;
  git: WorktreeGit;
}

/**
 * The last step: for a fork, the patch in a comment (and suggestions); otherwise a branch pushed as
 * the app and a PR into the PR's head branch, plus the runner-up's branch when there is one.
 */
async function deliver(
  ctx: JobContext,
  req: FixRequest,
  d: {
    report: FixReport;
    patch: string;
    commit: string;
    git: WorktreeGit;
    prFiles: DiffFile[];
    started: number;
    alternative: PendingAlternative | null;
  },
): Promise<Settled> {
  const { job, pull, signal } = ctx;
  const { report, patch, commit, git } = d;
  if (pull.fromFork) {
    // Never push to a fork or open a PR against it: the patch goes in a comment instead.
    const url = await req.reply(patchComment(report, patch));
    await postSuggestions(ctx, patch, d.prFiles, url);
    ctx.log.info({ files: report.changes.length, durationMs: Date.now() - d.started }, "fix posted as a patch (fork)");
    return settled("succeeded", { comment: url });
  }

  const token = await ctx.token();
  const wanted = branchBase(req.mode, job.prNumber, pull.headSha);
  const taken = await remoteBranches(git, { url: job.repo.cloneUrl, token, prefix: wanted, signal });
  const branch = pickBranch(wanted, taken);
  await pushBranch(git, { url: job.repo.cloneUrl, token, sha: commit, branch, signal });
  let altBranch: string | null = null;
  if (d.alternative) {
    const alt = d.alternative;
    const name = pickBranch(`${branch}-alt`, [...taken, branch]);
    try {
      await pushBranch(alt.git, { url: job.repo.cloneUrl, token, sha: alt.commit, branch: name, signal });
      // The report's alternative is the same object the body renders: it now links the branch.
      altBranch = alt.report.branch = name;
    } catch (err) {
      if (err instanceof Cancelled) throw err;
      // The fix itself is pushed: the PR still opens, and says the alternative is not available.
      ctx.log.warn({ err, agent: alt.report.agent }, "the alternative candidate could not be pushed");
    }
  }
  const opened = await createFixPull(ctx.octokit, ctx.coords, {
    title: fixTitle(report),
    body: fixBody(report),
    head: branch,
    base: pull.headRef,
    draft: verificationFailed(report),
  });
  const done = settled("succeeded", { fixPr: opened.url, comment: await req.reply(openedReply(report, opened)) });
  ctx.log.info(
    {
      pull: opened.number,
      branch,
      files: report.changes.length,
      verified: report.verify?.passed ?? null,
      outdated: report.outdated !== null,
      durationMs: Date.now() - d.started,
      ...(report.agent !== undefined ? { agent: report.agent } : {}),
      ...(d.alternative ? { alternative: altBranch } : {}),
    },
    "fix pull request opened",
  );
  return done;
}

function alternativeOf(c: ReadyCandidate<ReadyChange>): PendingAlternative {
  return { report: { agent: c.agent, branch: null, verify: c.verify, changes: c.changes }, commit: c.data.commit, git: c.data.tree.git };
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
