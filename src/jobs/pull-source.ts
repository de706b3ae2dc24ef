import type { Source, Tree, WritableTree } from "../engine/source.js";
import { leftOut } from "../engine/source.js";
import { buildChangePrompt, buildPrompt, type PromptFinding, type PromptThread } from "../prompts/build.js";
import { checkoutPull, type CheckedOut } from "./checkout.js";
import type { JobContext } from "./context.js";

/**
 * The app's source: the job's pull request, checked out at its head in the workspace pool. Every
 * agent gets a worktree of its own (the second one without waiting for the pool: see
 * CheckoutOptions.extra), so two agents never share a directory.
 */
export function pullSource(ctx: JobContext): Source<WritableTree> {
  return {
    open: async () => treeOf(await checkoutPull(ctx)),
    another: async () => treeOf(await checkoutPull(ctx, { extra: true })),
  };
}

function treeOf(c: CheckedOut): WritableTree {
  return { dir: c.lease.dir, git: c.lease.git, files: c.files, skipped: c.skipped, overLimit: c.overLimit, unparsed: c.unparsed, release: () => c.lease.release() };
}

/** The pull request's side of every prompt: where it is, what it changes, what it says. */
function pullContext(ctx: JobContext, tree: Tree) {
  const { pull, coords, config } = ctx;
  return {
    repo: `${coords.owner}/${coords.repo}`,
    baseRef: pull.baseRef,
    baseSha: pull.baseSha,
    headRef: pull.headRef,
    headSha: pull.headSha,
    changedFiles: tree.files.map((f) => ({ path: f.path, status: f.status })),
    skippedFiles: leftOut(tree),
    instructions: config.review.instructions,
    prTitle: pull.title,
    prBody: pull.body,
  };
}

/** Review, audit or ask (with `question`, and the review `thread` it was asked in) of the pull request. */
export function pullPrompt(ctx: JobContext, mode: "review" | "audit" | "ask", tree: Tree, question: string | null, thread: PromptThread | null = null): string {
  return buildPrompt({ mode, ...pullContext(ctx, tree), question, thread });
}

/** Fix or tests on the pull request. */
export function pullChangePrompt(ctx: JobContext, mode: "fix" | "tests", tree: Tree, findings: PromptFinding[], request: string | null): string {
  return buildChangePrompt({ mode, ...pullContext(ctx, tree), findings, request });
}

/** The repository's timeout, capped by the operator's. */
export function agentTimeout(ctx: JobContext): number {
  return Math.min(ctx.config.codex.timeout_minutes * 60_000, ctx.deps.settings.timeoutCapMs);
}
