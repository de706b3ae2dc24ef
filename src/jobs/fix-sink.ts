import type { Delivered, FixOutcome, FixSink, ReadyChange } from "../engine/fix.js";
import { Cancelled } from "../errors.js";
import {
  fixBody,
  fixTitle,
  noCandidateReply,
  noChangeReply,
  openedReply,
  publishFailedReply,
  refusedReply,
  verificationFailed,
  type AlternativeReport,
  type FixMode,
  type FixReport,
  type Outdated,
} from "../fix/body.js";
import { changedLines, type ReadyCandidate } from "../fix/best-of-two.js";
import type { FixTarget } from "../fix/findings.js";
import { branchBase, pickBranch } from "../fix/naming.js";
import { patchComment, suggestionBody, suggestionsFromPatch } from "../fix/patch-comment.js";
import { branchHead, createFixPull, findFixPull, type OpenedPull } from "../github/fixups.js";
import { fetchPull } from "../github/pulls.js";
import { postReview, type ReviewComment } from "../github/reviews.js";
import { redactSecrets } from "../review/sanitize.js";
import type { Effect } from "../store/effects.js";
import type { DiffFile } from "../types.js";
import { fetchCommit, mergeConflicts, pushBranch, remoteBranches, type WorktreeGit } from "../workspace/commit.js";
import type { JobContext } from "./context.js";
import type { FixCheck } from "./fix-check.js";

/** A fix or tests request on a pull request, and where its replies go. */
export interface FixRequest {
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
  /** The job's own check run (requested fixes: jobs/fix-check.ts), fed the agent's progress. */
  check?: FixCheck;
}

/** The parts of a report that come from the request, not from the change. */
export function reportBase(ctx: JobContext, req: FixRequest) {
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

/**
 * The GitHub fix sink: the pipeline's outcome as replies where the request was made, and, for a
 * change to publish, a branch pushed as the app and a pull request into the PR's head branch (for a
 * fork: the patch in a comment, and suggestions on the PR's lines).
 */
export function githubFixSink(ctx: JobContext, req: FixRequest, started: number): FixSink<void> {
  return {
    deliver: (outcome) => deliverOutcome(ctx, req, outcome, started),
    publishFailed: async (err) => {
      ctx.log.warn({ err }, "fix could not be published");
      const body = publishFailedReply({ requestedBy: req.requestedBy, message: err.message, knownSecrets: ctx.secrets });
      return reportOnce(ctx, req, body, { status: "failed", error: "the fix could not be published" });
    },
  };
}

/** What the pipeline's outcome becomes on the pull request. */
async function deliverOutcome(ctx: JobContext, req: FixRequest, outcome: FixOutcome, started: number): Promise<Settled> {
  const { pull } = ctx;
  const base = reportBase(ctx, req);
  switch (outcome.kind) {
    case "unchanged":
      ctx.log.info({ durationMs: Date.now() - started }, "fix produced no change");
      return reportOnce(ctx, req, noChangeReply({ ...base, agentMessage: outcome.agentMessage }), { status: "succeeded" });
    case "refused": {
      ctx.log.warn({ violations: outcome.violations.map((v) => ({ path: v.path, kind: v.kind })) }, "fix refused by the safety rules");
      const body = refusedReply({ requestedBy: req.requestedBy, violations: outcome.violations, changes: outcome.changes });
      return reportOnce(ctx, req, body, { status: "failed", error: "the change breaks the fix-up safety rules" });
    }
    case "none": {
      const { candidates } = outcome;
      ctx.log.info({ candidates: candidates.map((c) => ({ agent: c.agent, kind: c.kind })) }, "no candidate fix to publish");
      const body = noCandidateReply({ mode: req.mode, requestedBy: req.requestedBy, headSha: pull.headSha, candidates, knownSecrets: ctx.secrets });
      return reportOnce(
        ctx,
        req,
        body,
        candidates.some((c) => c.kind === "refused") ? { status: "failed", error: "the change breaks the fix-up safety rules" } : { status: "succeeded" },
      );
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
    const url = await replyOnce(ctx, req, patchComment(report, patch), { reported: { status: "succeeded" } });
    await postSuggestions(ctx, patch, d.prFiles, url);
    ctx.log.info({ files: report.changes.length, durationMs: Date.now() - d.started }, "fix posted as a patch (fork)");
    return settled("succeeded", { comment: url });
  }

  const token = await ctx.token();
  const effects = ctx.run.effects;
  const wanted = branchBase(req.mode, job.prNumber, pull.headSha);
  const taken = await remoteBranches(git, { url: job.repo.cloneUrl, token, prefix: wanted, signal });
  // An earlier attempt of this job that chose a name and died before its push reached GitHub: the same name.
  const earlier = ownFixBranch(ctx);
  const branch = earlier && !taken.includes(earlier.key) ? earlier.key : pickBranch(wanted, taken);
  const alt = d.alternative;
  const altName = alt ? pickBranch(`${branch}-alt`, [...taken, branch]) : null;
  // The report's alternative is the same object the body renders: it links the branch (unless its push fails).
  if (alt) alt.report.branch = altName;
  const opening = (): PendingFixPull => ({
    title: fixTitle(report),
    body: fixBody(report),
    base: pull.headRef,
    draft: verificationFailed(report),
    report: { ...report, knownSecrets: [] },
  });
  // Before anything is pushed: what a retry needs to open and report this PR without the agent.
  let pending = opening();
  effects.intend("fix_pr", branch, pending);
  effects.intend("fix_branch", branch, { role: "fix" } satisfies BranchDetail);
  await pushBranch(git, { url: job.repo.cloneUrl, token, sha: commit, branch, signal });
  effects.created("fix_branch", branch, { githubId: commit });
  let altBranch: string | null = null;
  if (alt && altName) {
    effects.intend("fix_branch", altName, { role: "alternative" } satisfies BranchDetail);
    try {
      await pushBranch(alt.git, { url: job.repo.cloneUrl, token, sha: alt.commit, branch: altName, signal });
      effects.created("fix_branch", altName, { githubId: alt.commit });
      altBranch = altName;
    } catch (err) {
      alt.report.branch = null;
      effects.failed("fix_branch", altName, { role: "alternative" } satisfies BranchDetail);
      pending = opening();
      effects.intend("fix_pr", branch, pending);
      if (err instanceof Cancelled) throw err;
      // The fix itself is pushed: the PR still opens, and says the alternative is not available.
      ctx.log.warn({ err, agent: alt.report.agent }, "the alternative candidate could not be pushed");
    }
  }
  const opened = await openFixPull(ctx, branch, pending);
  const done = settled("succeeded", { fixPr: opened.url, comment: await replyOnce(ctx, req, openedReply(report, opened)) });
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

/** What the ledger keeps with a pushed fix branch (effect "fix_branch"). */
interface BranchDetail {
  /** The fix PR's head, or the runner-up of best of two pushed beside it. */
  role: "fix" | "alternative";
}

/** What the ledger keeps with the fix PR's intent (effect "fix_pr"): enough to open and report it again. */
interface PendingFixPull {
  title: string;
  body: string;
  base: string;
  draft: boolean;
  /** The report the reply is written from, without the secrets it is redacted against; null when lost. */
  report: FixReport | null;
}

function isPendingFixPull(detail: unknown): detail is PendingFixPull {
  const d = detail as Partial<PendingFixPull> | null;
  return typeof d?.title === "string" && typeof d.body === "string" && typeof d.base === "string" && typeof d.report === "object";
}

/** The fix branch this job chose (the newest one), as the ledger has it. */
function ownFixBranch(ctx: JobContext): Effect | null {
  const own = ctx.run.effects.list("fix_branch").filter((e) => (e.detail as Partial<BranchDetail> | null)?.role === "fix");
  return own.at(-1) ?? null;
}

/** Opens the fix PR for `branch`, recorded in the ledger as it is (an intent stays until GitHub answers). */
async function openFixPull(ctx: JobContext, branch: string, pending: PendingFixPull): Promise<OpenedPull> {
  const opened = await createFixPull(ctx.octokit, ctx.coords, { title: pending.title, body: pending.body, head: branch, base: pending.base, draft: pending.draft });
  ctx.run.effects.created("fix_pr", branch, { githubId: opened.number, url: opened.url });
  return opened;
}

/** The reply where the request was made, recorded so a retry does not post it twice. */
async function replyOnce(ctx: JobContext, req: Pick<FixRequest, "reply">, body: string, detail?: ReplyDetail): Promise<string> {
  const recorded = ctx.run.effects.get("reply", "");
  if (recorded?.state === "created" && recorded.url) return recorded.url;
  ctx.run.effects.intend("reply", "", detail);
  const url = await req.reply(body);
  ctx.run.effects.created("reply", "", { githubId: url, url });
  return url;
}

/** What the ledger keeps with a reply that reports the job's outcome (effect "reply"). */
interface ReplyDetail {
  reported: { status: "succeeded" | "failed"; error?: string };
}

function isReplyDetail(detail: unknown): detail is ReplyDetail {
  const status = (detail as Partial<ReplyDetail> | null)?.reported?.status;
  return status === "succeeded" || status === "failed";
}

/**
 * The job's last word on the pull request (no change, refused, nothing to publish, a fork's patch,
 * publishing failed), posted once: the ledger keeps the outcome it reports, and a retry after a
 * crash settles from it (resumePushedFix) instead of running the agent again and posting twice. A
 * fork's patch is such a report too; its suggestions, posted after it, are not retried.
 */
async function reportOnce(ctx: JobContext, req: Pick<FixRequest, "reply">, body: string, outcome: ReplyDetail["reported"]): Promise<Settled> {
  const url = await replyOnce(ctx, req, body, { reported: outcome });
  return settled(outcome.status, { comment: url }, outcome.error);
}

/**
 * A retried fix job (issue 22) whose earlier attempt pushed its branch and died before the PR was
 * opened or reported: it opens the PR for that branch (or finds the one already there) and reports it
 * as the first attempt would have, instead of running the agent again and pushing a second branch.
 * An earlier attempt that already reported how it ended (reportOnce: a fork's patch, no change, a
 * refusal) settles from that report. Null when neither: the job runs as usual (and pushes to the
 * name the earlier attempt chose).
 */
export async function resumePushedFix(ctx: JobContext, req: Pick<FixRequest, "mode" | "requestedBy" | "reply">): Promise<Settled | null> {
  const effects = ctx.run.effects;
  // An earlier attempt already told the pull request how it ended (a fork's patch among others).
  const reported = effects.get("reply", "");
  if (reported?.state === "created" && reported.url && isReplyDetail(reported.detail)) {
    ctx.log.info({ attempt: ctx.run.attempt, comment: reported.url }, "fix reported by an earlier attempt; not run again");
    return settled(reported.detail.reported.status, { comment: reported.url }, reported.detail.reported.error);
  }
  if (!ownFixBranch(ctx) && ctx.job.resume) carryOver(ctx, ctx.job.resume.of);
  const pushed = ownFixBranch(ctx);
  if (!pushed || pushed.state === "failed") return null;
  const branch = pushed.key;
  if (pushed.state === "intended") {
    // The push may or may not have reached GitHub before the app died.
    const sha = await branchHead(ctx.octokit, ctx.coords, branch);
    if (sha === null) return null;
    effects.created("fix_branch", branch, { githubId: sha });
  }
  const intent = effects.get("fix_pr", branch);
  const pending = isPendingFixPull(intent?.detail) ? intent.detail : null;
  let opened: OpenedPull;
  let how: "recorded" | "found" | "opened";
  if (intent?.state === "created" && intent.githubId !== null && intent.url !== null) {
    opened = { number: Number(intent.githubId), url: intent.url, draft: pending?.draft ?? false };
    how = "recorded";
  } else {
    // The POST may have reached GitHub before the app died: look before opening a second one.
    const found = await findFixPull(ctx.octokit, ctx.coords, branch);
    if (found) {
      opened = { number: found.number, url: found.html_url, draft: found.draft ?? false };
      effects.created("fix_pr", branch, { githubId: found.number, url: found.html_url });
      how = "found";
    } else {
      opened = await openFixPull(ctx, branch, pending ?? lostPull(ctx, req, branch));
      how = "opened";
    }
  }
  const text = pending?.report
    ? openedReply({ ...pending.report, knownSecrets: ctx.secrets }, opened)
    : `${req.requestedBy ? `@${req.requestedBy} ` : ""}I opened #${opened.number} with ${req.mode === "tests" ? "tests" : "a fix"}: ${opened.url}`;
  const comment = await replyOnce(ctx, req, text);
  ctx.log.info({ pull: opened.number, branch, attempt: ctx.run.attempt, how }, "fix pull request of an earlier attempt reported");
  return settled("succeeded", { fixPr: opened.url, comment });
}

/**
 * A job put back while GitHub was unavailable (jobs/defer.ts) carries on the work of the job `of`:
 * what that one pushed, opened and replied is copied into this job's ledger, to be taken over.
 */
function carryOver(ctx: JobContext, of: string): void {
  let earlier: Effect[] = [];
  try {
    earlier = ctx.deps.runs?.effects.forJob(of) ?? [];
  } catch (err) {
    ctx.log.warn({ err, of }, "could not read the effects of the job this one carries on");
  }
  const effects = ctx.run.effects;
  for (const e of earlier) {
    if (e.kind !== "fix_branch" && e.kind !== "fix_pr" && e.kind !== "reply") continue;
    effects.intend(e.kind, e.key, e.detail ?? undefined);
    if (e.state === "created" && e.githubId !== null) effects.created(e.kind, e.key, { githubId: e.githubId, url: e.url });
    else if (e.state === "failed") effects.failed(e.kind, e.key, e.detail);
  }
}

/** The PR for a branch pushed by an attempt that died before it wrote down the PR's text (older versions). */
function lostPull(ctx: JobContext, req: Pick<FixRequest, "mode">, branch: string): PendingFixPull {
  const what = req.mode === "tests" ? "Tests" : "Fix";
  return {
    title: `${what} for #${ctx.job.prNumber}`,
    body:
      `Merging this pull request updates #${ctx.job.prNumber}.\n\n` +
      `The app stopped after pushing \`${branch}\` and before it opened this pull request; the description it had written was lost. The commits say what changed.`,
    base: ctx.pull.headRef,
    draft: false,
    report: null,
  };
}

function alternativeOf(c: ReadyCandidate<ReadyChange>): PendingAlternative {
  return { report: { agent: c.agent, branch: null, verify: c.verify, changes: c.changes }, commit: c.data.commit, git: c.data.tree.git };
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
