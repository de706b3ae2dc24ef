import type { Source, Tree, WritableTree } from "../engine/source.js";
import { leftOut } from "../engine/source.js";
import { botReviewBodies } from "../github/comments.js";
import { listReviewThreads, resolveReviewThread } from "../github/review-threads.js";
import { replyInThread } from "../github/threads.js";
import { buildPrompt } from "../prompts/build.js";
import {
  closedFingerprints,
  EMPTY_CONVERSATION,
  fixedReply,
  isDecided,
  readConversation,
  settleOpenFindings,
  type Conversation,
  type OpenFinding,
} from "../review/conversation.js";
import { fingerprint } from "../review/fingerprint.js";
import type { Finding } from "../types.js";
import { changedPaths, isAncestor, mergeBase } from "../workspace/ancestry.js";
import type { JobContext } from "./context.js";
import { pullSource } from "./pull-source.js";

/**
 * What a review of a pull request looks at, given the conversation on it (issue 17):
 *
 * - **The range.** On a push (`synchronize`) with `review.incremental`, the change since the head the
 *   bot reviewed last (the run store, else the marker in its last review body), when that head is
 *   still in the branch's history and the branch still leaves its base where it did. Otherwise, and
 *   for commands, the whole pull request.
 * - **The open findings.** The bot's unresolved threads, handed to the agent to re-check; the ones it
 *   reports fixed get their thread resolved and one "Fixed in" reply after the review.
 * - **People's decisions.** Findings on threads a person resolved or dismissed are not raised again.
 *
 * The door (jobs/review.ts) takes `source` and `prompt` from here into the engine, and asks the rest
 * while it composes what it posts. A failure to read the conversation costs the narrowing, never the review.
 */

/** In the review body: the head this review covered, for the next push when the run store has no record. */
const REVIEWED_MARKER = /<!-- codex-pr-bot:reviewed:([0-9a-f]{40,64}) -->/g;

export function reviewedMarker(headSha: string): string {
  return `<!-- codex-pr-bot:reviewed:${headSha} -->`;
}

/** The newest reviewed-head marker in the bot's review bodies (oldest first, as GitHub lists them). */
export function lastReviewedMarker(bodies: readonly string[]): string | null {
  let last: string | null = null;
  for (const body of bodies) for (const m of body.matchAll(REVIEWED_MARKER)) last = m[1]!;
  return last;
}

export interface Range {
  /** The head reviewed last: this review covers since..head. Null: the whole pull request. */
  since: string | null;
  /** Why the review is full, when it is and an incremental one was possible in principle. */
  fullBecause: string | null;
  /** Files the reviewed range changes (all of the PR's when full). */
  files: number;
}

export interface SettledThreads {
  fixed: OpenFinding[];
  outdated: OpenFinding[];
  /** Lines for the check run summary. */
  lines: string[];
}

export class ReviewScope {
  private tree: WritableTree | null = null;
  conversation: Conversation = EMPTY_CONVERSATION;
  range: Range = { since: null, fullBecause: null, files: 0 };

  constructor(
    private readonly ctx: JobContext,
    private readonly mode: "review" | "audit",
  ) {}

  /** The pull request checked out in the pool; the first tree is kept to ask git about the range. */
  source(): Source<WritableTree> {
    const inner = pullSource(this.ctx);
    return {
      open: async () => (this.tree = await inner.open()),
      another: () => inner.another(),
    };
  }

  /** The prompt: decided once the tree is open (the range needs its git). */
  async prompt(tree: Tree): Promise<string> {
    const { ctx } = this;
    this.conversation = await this.readConversation();
    const since = await this.incrementalFrom();
    let changedFiles: { path: string; status: string }[] = tree.files.map((f) => ({ path: f.path, status: f.status }));
    if (since !== null && this.tree) {
      const reviewable = new Set(tree.files.map((f) => f.path));
      changedFiles = (await changedPaths(this.tree.git, since, ctx.pull.headSha)).filter((f) => reviewable.has(f.path));
    }
    this.range = { ...this.range, since, files: changedFiles.length };
    const { pull, coords, config } = ctx;
    return buildPrompt({
      mode: this.mode,
      repo: `${coords.owner}/${coords.repo}`,
      baseRef: pull.baseRef,
      baseSha: pull.baseSha,
      headRef: pull.headRef,
      headSha: pull.headSha,
      changedFiles,
      skippedFiles: leftOut(tree),
      instructions: config.review.instructions,
      prTitle: pull.title,
      prBody: pull.body,
      question: null,
      since: since === null ? null : { sha: since, prFiles: tree.files.length },
      // Re-checked by reviews only: an audit looks for something else.
      openFindings: this.mode === "review" ? this.conversation.open.map((f) => ({ id: f.id, path: f.path, line: f.outdated ? null : f.line, title: f.title })) : [],
    });
  }

  /** Threads are read on every run but the first review of a new pull request (there are none yet). */
  private async readConversation(): Promise<Conversation> {
    const { ctx } = this;
    const trigger = ctx.job.trigger;
    if (trigger.kind === "event" && trigger.action === "opened") return EMPTY_CONVERSATION;
    try {
      return readConversation(await listReviewThreads(ctx.octokit, ctx.coords, ctx.job.prNumber));
    } catch (err) {
      ctx.log.warn({ err }, "could not read the review threads; reviewing without them");
      return EMPTY_CONVERSATION;
    }
  }

  /** The head to review from, or null for a full review (with the reason in `range.fullBecause`). */
  private async incrementalFrom(): Promise<string | null> {
    const { ctx } = this;
    const trigger = ctx.job.trigger;
    if (this.mode !== "review" || !ctx.config.review.incremental || ctx.job.retry) return null;
    if (trigger.kind !== "event" || trigger.action !== "synchronize" || !this.tree) return null;
    const full = (why: string): null => {
      this.range = { ...this.range, fullBecause: why };
      ctx.log.info({ reason: why }, "full review");
      return null;
    };
    const last = await this.lastReviewedHead();
    if (last === null) return full("no earlier review of this pull request is on record");
    const head = ctx.pull.headSha;
    if (last === head) return full("this head was reviewed before");
    const git = this.tree.git;
    if (!(await isAncestor(git, last, head))) return full(`the reviewed head ${last.slice(0, 7)} is no longer in the branch (force-push or rebase)`);
    const forkPoint = await mergeBase(git, ctx.pull.baseSha, head);
    if (forkPoint === null || !(await isAncestor(git, forkPoint, last))) return full("the base changed since the last review");
    return last;
  }

  private async lastReviewedHead(): Promise<string | null> {
    const { ctx } = this;
    const recorded = ctx.deps.runs?.lastReviewed(`${ctx.coords.owner}/${ctx.coords.repo}`, ctx.job.prNumber, ctx.job.id) ?? null;
    if (recorded) return recorded.headSha;
    try {
      return lastReviewedMarker(await botReviewBodies(ctx.octokit, ctx.coords, ctx.job.prNumber));
    } catch (err) {
      ctx.log.warn({ err }, "could not read the earlier reviews for the last reviewed head");
      return null;
    }
  }

  /** Findings people already decided on are dropped: never raised again. */
  keep(findings: readonly Finding[]): { kept: Finding[]; decided: number } {
    const decisions = this.conversation.decisions;
    if (decisions.length === 0) return { kept: [...findings], decided: 0 };
    const kept = findings.filter((f) => !isDecided(f, fingerprint(f), decisions));
    return { kept, decided: findings.length - kept.length };
  }

  /** Said in the review body and the check run: which range this review covered. */
  rangeNote(): string {
    const { pull } = this.ctx;
    const head = pull.headSha.slice(0, 7);
    if (this.range.since !== null) {
      const n = this.range.files;
      return `Reviewed the changes since the last review: \`${this.range.since.slice(0, 7)}..${head}\` (${n} ${n === 1 ? "file" : "files"}), with the whole pull request as context.`;
    }
    const why = this.range.fullBecause ? ` (a full review: ${this.range.fullBecause})` : "";
    return `Reviewed the whole pull request: \`${pull.baseSha.slice(0, 7)}...${head}\`${why}.`;
  }

  /** Appended to the review body: the range, and the reviewed head for the next push. */
  bodyNote(): string {
    return `\n\n<sub>${this.rangeNote()}</sub>\n${reviewedMarker(this.ctx.pull.headSha)}`;
  }

  /**
   * After the review: the open findings the agent reported fixed get their thread resolved and one
   * "Fixed in" reply; those whose code changed without a fix are reported outdated and stay open.
   * A failed write is logged and said in the check run; it never fails the review.
   */
  async settleThreads(fixedIds: readonly string[]): Promise<SettledThreads> {
    const { ctx } = this;
    const settled = settleOpenFindings(this.mode === "review" ? this.conversation.open : [], fixedIds);
    const failed: OpenFinding[] = [];
    for (const f of settled.fixed) {
      try {
        await resolveReviewThread(ctx.octokit, f.threadId);
        await replyInThread(ctx.octokit, ctx.coords, ctx.job.prNumber, f.rootCommentId, fixedReply(ctx.pull.headSha));
      } catch (err) {
        ctx.log.warn({ err, thread: f.threadId }, "could not resolve a fixed finding's thread");
        failed.push(f);
      }
    }
    const where = (f: OpenFinding): string => `\`${f.path}${f.line === null ? "" : `:${f.line}`}\` ${f.title}`;
    const lines: string[] = [];
    if (settled.fixed.length > 0) {
      lines.push(
        `**Fixed since the last review** (threads resolved):\n${settled.fixed.map((f) => `- ${where(f)}${failed.includes(f) ? " _(could not resolve the thread)_" : ""}`).join("\n")}`,
      );
    }
    if (settled.outdated.length > 0) {
      lines.push(`**Outdated, not confirmed fixed** (the code changed; threads left open):\n${settled.outdated.map((f) => `- ${where(f)}`).join("\n")}`);
    }
    if (fixedIds.length > 0 || settled.fixed.length > 0) ctx.log.info({ fixed: settled.fixed.length, outdated: settled.outdated.length }, "open findings re-checked");
    return { fixed: settled.fixed, outdated: settled.outdated, lines };
  }
}

/**
 * Fingerprints of the bot's findings whose threads are closed: resolved (by a person, or by the bot
 * as fixed) or dismissed. Empty when the threads cannot be read: then nothing is held back.
 */
export async function closedThreadFingerprints(ctx: JobContext): Promise<Set<string>> {
  try {
    return closedFingerprints(readConversation(await listReviewThreads(ctx.octokit, ctx.coords, ctx.job.prNumber)));
  } catch (err) {
    ctx.log.warn({ err }, "could not read the review threads; fixing every open finding");
    return new Set();
  }
}
