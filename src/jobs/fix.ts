import path from "node:path";
import { severityToPriority, type ExecutorName, type RepoConfig } from "../config/schema.js";
import { Cancelled, WorkspaceError } from "../errors.js";
import { appJail } from "../jail/for-settings.js";
import { CodexSandbox } from "../executors/sandbox.js";
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
  type VerifyOutcome,
} from "../fix/body.js";
import { AGENT_ORDER, changedLines, selectCandidate, type Candidate, type ReadyCandidate } from "../fix/best-of-two.js";
import type { FileChange } from "../fix/collect.js";
import { openTargets, targetFromComment, targetFromFinding, type FixTarget } from "../fix/findings.js";
import { branchBase, branchPrefix, commitIdentity, isBotBranch, pickBranch } from "../fix/naming.js";
import { patchComment, suggestionBody, suggestionsFromPatch } from "../fix/patch-comment.js";
import { checkChanges, secretViolations, type FixPolicy } from "../fix/policy.js";
import { runVerifyCommand } from "../fix/verify.js";
import { fixKey, runningFixes } from "../fix/registry.js";
import { replyToPull } from "../github/comments.js";
import { createFixPull, findingSources, findOpenFixPull } from "../github/fixups.js";
import { fetchPull } from "../github/pulls.js";
import { postReview, type ReviewComment } from "../github/reviews.js";
import { getReviewComment, replyInThread } from "../github/threads.js";
import { buildChangePrompt } from "../prompts/build.js";
import { parseUnifiedDiff } from "../review/diff.js";
import { redactSecrets } from "../review/sanitize.js";
import type { AgentRunRequest, AgentRunResult, Executor } from "../executors/types.js";
import type { DiffFile, Finding, Usage } from "../types.js";
import type { Lease } from "../workspace/workspaces.js";
import { commitWorktree, fetchCommit, listChanges, mergeConflicts, patchBetween, pushBranch, remoteBranches, type WorktreeGit } from "../workspace/commit.js";
import { agentRequest, everyAgentFailed, failedSpend, selectExecutors } from "./agents.js";
import { checkoutPull, type CheckedOut } from "./checkout.js";
import type { JobContext } from "./context.js";
import { describeFailure } from "./outcome.js";
import { mentionPrefix } from "./trigger.js";
import { sumUsage } from "../executors/usage.js";

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

function policyOf(config: RepoConfig): FixPolicy {
  return {
    allowWorkflowChanges: config.fix.allow_workflow_changes,
    allowBinaries: config.fix.allow_binaries,
    maxFileBytes: config.fix.max_file_bytes,
  };
}

async function performFix(ctx: JobContext, req: FixRequest): Promise<void> {
  const { signal } = ctx;
  const started = Date.now();
  const run = ctx.run;
  const timed = <T>(phase: "checkout" | "agent" | "publish", fn: () => Promise<T>): Promise<T> => (req.ownRun ? run.timed(phase, fn) : fn());
  const settle = (status: "succeeded" | "failed", links: { fixPr?: string; comment?: string }, error?: string): void => {
    if (req.ownRun) run.settle({ status, usage, links, ...(error !== undefined ? { error } : {}) });
    else if (links.fixPr !== undefined) run.link({ fixPr: links.fixPr });
  };
  let usage: AgentRunResult["usage"] | null = null;
  const checkout = await timed("checkout", () => checkoutPull(ctx));
  const checkoutMs = Date.now() - started;
  const lease = checkout.lease;
  try {
    const { executors } = selectExecutors(ctx, req.mode);
    // A pool of one worktree per repository cannot hold two candidates at once: then the first agent alone.
    const twoTrees = !(ctx.deps.settings.poolSize < 2);
    if (executors.length > 1 && !twoTrees) ctx.log.warn({ poolSize: ctx.deps.settings.poolSize }, "best of two needs two worktrees; running the first agent only");
    if (executors.length > 1 && twoTrees) {
      // Best of two: each agent writes a candidate on its own worktree; one becomes the fix PR.
      await bestOfTwo(ctx, req, checkout, executors, { started, checkoutMs, timed, settle, setUsage: (u) => (usage = u) });
      return;
    }
    // One agent: its diff is the fix.
    const { name: agentName, executor } = executors[0]!;
    const result = await timed("agent", () =>
      executor.run({ ...agentRunRequest(ctx, req, checkout, agentName), ...(req.ownRun ? { onEvent: (line: string) => run.event(line) } : {}), signal }),
    );
    usage = result.usage;
    try {
      await timed("publish", () => publish(ctx, req, agentName, lease, checkout.files, result.finalMessage, started, settle));
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

/** What an agent is asked to do on a worktree (everything but the signal and the event hook). */
function agentRunRequest(ctx: JobContext, req: FixRequest, checkout: CheckedOut, name: ExecutorName): Omit<AgentRunRequest, "signal" | "onEvent" | "onProgress"> {
  const { pull, config } = ctx;
  return {
    worktree: checkout.lease.dir,
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
    ...agentRequest(ctx, name),
    timeoutMs: Math.min(config.codex.timeout_minutes * 60_000, ctx.deps.settings.timeoutCapMs),
  };
}

type Settle = (status: "succeeded" | "failed", links: { fixPr?: string; comment?: string }, error?: string) => void;

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

/** The agent's edits as a commit on the PR head (null when nothing changed), with what changed and the safety check. */
async function snapshot(ctx: JobContext, req: FixRequest, git: WorktreeGit) {
  const { pull, config, signal } = ctx;
  const commit = await commitWorktree(git, {
    parent: pull.headSha,
    message: commitMessage(reportBase(ctx, req)),
    author: commitIdentity(),
    signal,
  });
  if (commit === null) return null;
  const changes = await listChanges(git, pull.headSha, commit, signal);
  const patch = await patchBetween(git, pull.headSha, commit, signal);
  const violations = [...checkChanges(changes, policyOf(config)), ...secretViolations(parseUnifiedDiff(patch), ctx.secrets)];
  return { commit, changes, patch, violations };
}

/** From the agent's edits to a published fix: commit, check, verify, push and open (or post the patch). */
async function publish(
  ctx: JobContext,
  req: FixRequest,
  agent: ExecutorName,
  lease: Lease,
  prFiles: DiffFile[],
  agentMessage: string,
  started: number,
  settle: Settle,
): Promise<void> {
  const { job, pull, config } = ctx;
  const base = reportBase(ctx, req);
  const snap = await snapshot(ctx, req, lease.git);
  if (snap === null) {
    ctx.log.info({ durationMs: Date.now() - started }, "fix produced no change");
    settle("succeeded", { comment: await req.reply(noChangeReply({ ...base, agentMessage })) });
    return;
  }
  const { commit, changes, patch, violations } = snap;
  if (req.ownRun) ctx.run.diff(patch);
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
    agent,
  };
  await deliver(ctx, req, { report, patch, commit, git: lease.git, prFiles, started, settle, alternative: null });
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
    settle: Settle;
    alternative: PendingAlternative | null;
  },
): Promise<void> {
  const { job, pull, signal } = ctx;
  const { report, patch, commit, git, settle } = d;
  if (pull.fromFork) {
    // Never push to a fork or open a PR against it: the patch goes in a comment instead.
    const url = await req.reply(patchComment(report, patch));
    await postSuggestions(ctx, patch, d.prFiles, url);
    settle("succeeded", { comment: url });
    ctx.log.info({ files: report.changes.length, durationMs: Date.now() - d.started }, "fix posted as a patch (fork)");
    return;
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
  settle("succeeded", { fixPr: opened.url, comment: await req.reply(openedReply(report, opened)) });
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
}

interface Phases {
  started: number;
  /** How long the first checkout took (the second adds to it). */
  checkoutMs: number;
  timed: <T>(phase: "checkout" | "agent" | "publish", fn: () => Promise<T>) => Promise<T>;
  settle: Settle;
  setUsage(usage: Usage): void;
}

/** A publishable candidate's commit, and where it was made. */
interface Made {
  checkout: CheckedOut;
  commit: string;
  patch: string;
  agentMessage: string;
}

/**
 * Best of two: both agents edit their own worktree of the same head in parallel (one abort signal
 * for both); each diff is committed, checked against the safety rules and verified on its own; the
 * winner (see fix/best-of-two.ts) becomes the fix PR and the runner-up a second branch linked from
 * its body. One agent failing leaves the other's candidate, with a note; both failing fails the run.
 */
async function bestOfTwo(
  ctx: JobContext,
  req: FixRequest,
  first: CheckedOut,
  executors: { name: ExecutorName; executor: Executor }[],
  phases: Phases,
): Promise<void> {
  const { run } = ctx;
  const secondStarted = Date.now();
  const second = await checkoutPull(ctx, { extra: true });
  if (req.ownRun) run.phase("checkout", phases.checkoutMs + (Date.now() - secondStarted));
  try {
    const trees = [first, second];
    const settled = await phases.timed("agent", () =>
      Promise.allSettled(
        executors.map(({ name, executor }, i) =>
          executor.run({
            ...agentRunRequest(ctx, req, trees[i]!, name),
            signal: ctx.signal,
            ...(req.ownRun ? { onEvent: (line: string) => run.event(line) } : {}),
          }),
        ),
      ),
    );
    const cancelled = settled.find((s): s is PromiseRejectedResult => s.status === "rejected" && s.reason instanceof Cancelled);
    if (cancelled) throw cancelled.reason;
    // A failed agent's tokens count too (what it used before it stopped).
    const agentFailures = settled.flatMap((s, i) => (s.status === "rejected" ? [{ name: executors[i]!.name, reason: s.reason as unknown }] : []));
    phases.setUsage(
      sumUsage([
        ...settled.flatMap((s) => (s.status === "fulfilled" ? [s.value.usage] : [])),
        ...agentFailures.map((f) => failedSpend(ctx, f.name, f.reason).usage),
      ]),
    );
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed.length === settled.length) throw everyAgentFailed(ctx, agentFailures);

    try {
      await phases.timed("publish", () => pickAndPublish(ctx, req, executors.map((e) => e.name), trees, settled, phases));
    } catch (err) {
      if (!(err instanceof WorkspaceError)) throw err;
      ctx.log.warn({ err }, "fix could not be published");
      const url = await req.reply(publishFailedReply({ requestedBy: req.requestedBy, message: err.message, knownSecrets: ctx.secrets }));
      phases.settle("failed", { comment: url }, "the fix could not be published");
    }
  } finally {
    await second.lease.release().catch((err: unknown) => ctx.log.warn({ err }, "worktree release failed"));
  }
}

async function pickAndPublish(
  ctx: JobContext,
  req: FixRequest,
  names: ExecutorName[],
  trees: CheckedOut[],
  settled: PromiseSettledResult<AgentRunResult>[],
  phases: Phases,
): Promise<void> {
  const { job, pull, config } = ctx;
  // Commits one after the other (same mirror), then verifies the candidates in parallel.
  const snapped: (Candidate<Made> | { agent: ExecutorName; kind: "verify"; changes: FileChange[]; made: Made })[] = [];
  for (const [i, outcome] of settled.entries()) {
    const agent = names[i]!;
    if (outcome.status === "rejected") {
      snapped.push({ agent, kind: "failed", error: failureLine(ctx, agent, outcome.reason) });
      continue;
    }
    const checkout = trees[i]!;
    const snap = await snapshot(ctx, req, checkout.lease.git);
    if (snap === null) {
      snapped.push({ agent, kind: "unchanged", message: outcome.value.finalMessage });
    } else if (snap.violations.length > 0) {
      ctx.log.warn({ agent, violations: snap.violations.map((v) => ({ path: v.path, kind: v.kind })) }, "candidate refused by the safety rules");
      snapped.push({ agent, kind: "refused", violations: snap.violations, changes: snap.changes });
    } else {
      const made: Made = { checkout, commit: snap.commit, patch: snap.patch, agentMessage: outcome.value.finalMessage };
      snapped.push({ agent, kind: "verify", changes: snap.changes, made });
    }
  }
  const verifyCommand = config.fix.verify;
  const candidates: Candidate<Made>[] = await Promise.all(
    snapped.map(async (c): Promise<Candidate<Made>> => {
      if (c.kind !== "verify") return c;
      const verify = verifyCommand === null ? null : await runVerify(ctx, c.made.checkout.lease.dir, verifyCommand);
      return { agent: c.agent, kind: "ready", changes: c.changes, verify, data: c.made };
    }),
  );
  candidates.sort((a, b) => AGENT_ORDER.indexOf(a.agent) - AGENT_ORDER.indexOf(b.agent));

  const selection = selectCandidate(candidates);
  if (selection === null) {
    const refused = candidates.some((c) => c.kind === "refused");
    ctx.log.info({ candidates: candidates.map((c) => ({ agent: c.agent, kind: c.kind })) }, "no candidate fix to publish");
    const url = await req.reply(noCandidateReply({ mode: req.mode, requestedBy: req.requestedBy, headSha: pull.headSha, candidates, knownSecrets: ctx.secrets }));
    if (refused) phases.settle("failed", { comment: url }, "the change breaks the fix-up safety rules");
    else phases.settle("succeeded", { comment: url });
    return;
  }

  const { winner, runnerUp } = selection;
  ctx.log.info(
    {
      candidates: candidates.map((c) => ({
        agent: c.agent,
        kind: c.kind,
        ...(c.kind === "ready" ? { lines: changedLines(c.changes), verified: c.verify?.passed ?? null } : {}),
      })),
      winner: winner.agent,
    },
    "best of two: candidate chosen",
  );
  if (req.ownRun) ctx.run.diff(winner.data.patch);
  const alternative: PendingAlternative | null = runnerUp && alternativeOf(runnerUp);
  const outdated = await checkOutdated(ctx, winner.data.checkout.lease.git, winner.data.commit);
  const report: FixReport = {
    ...reportBase(ctx, req),
    headRef: pull.headRef,
    repoHtmlUrl: job.repo.htmlUrl,
    requestUrl: req.requestUrl,
    changes: winner.changes,
    agentMessage: winner.data.agentMessage,
    verify: winner.verify,
    outdated,
    agent: winner.agent,
    bestOfTwo: { reason: selection.reason, alternative: alternative?.report ?? null, notes: selection.notes },
  };
  await deliver(ctx, req, {
    report,
    patch: winner.data.patch,
    commit: winner.data.commit,
    git: winner.data.checkout.lease.git,
    prFiles: winner.data.checkout.files,
    started: phases.started,
    settle: phases.settle,
    alternative,
  });
}

function alternativeOf(c: ReadyCandidate<Made>): PendingAlternative {
  return { report: { agent: c.agent, branch: null, verify: c.verify, changes: c.changes }, commit: c.data.commit, git: c.data.checkout.lease.git };
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
