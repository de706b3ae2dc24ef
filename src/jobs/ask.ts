import { agentLabel } from "../fix/body.js";
import { replyToPull } from "../github/comments.js";
import { buildPrompt } from "../prompts/build.js";
import { sanitizeAgentMarkdown } from "../review/sanitize.js";
import type { JobContext } from "./context.js";
import { agentRequest, selectExecutors } from "./agents.js";
import { checkoutPull } from "./checkout.js";
import { mentionPrefix } from "./trigger.js";

const QUOTE_LIMIT = 500;

/** `@codex ask <question>`: a read-only run whose answer is posted as a reply. */
export async function runAsk(ctx: JobContext): Promise<void> {
  const question = ctx.job.instruction?.trim() ?? "";
  const mention = mentionPrefix(ctx.job.trigger);
  if (question.length === 0) {
    await replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, `${mention}usage: \`@codex ask <your question about this pull request>\``);
    return;
  }
  const checkout = await ctx.run.timed("checkout", () => checkoutPull(ctx));
  try {
    // An answer comes from one agent: the first of those selected for `ask`.
    const { name, executor } = selectExecutors(ctx, "ask").executors[0]!;
    const result = await ctx.run.timed("agent", () => executor.run({
      worktree: checkout.lease.dir,
      mode: "ask",
      prompt: buildPrompt({
        mode: "ask",
        repo: `${ctx.coords.owner}/${ctx.coords.repo}`,
        baseRef: ctx.pull.baseRef,
        baseSha: ctx.pull.baseSha,
        headRef: ctx.pull.headRef,
        headSha: ctx.pull.headSha,
        changedFiles: checkout.files.map((f) => ({ path: f.path, status: f.status })),
        skippedFiles: [...checkout.skipped, ...checkout.overLimit.map((o) => o.path)],
        instructions: ctx.config.review.instructions,
        prTitle: ctx.pull.title,
        prBody: ctx.pull.body,
        question,
      }),
      ...agentRequest(ctx, name),
      timeoutMs: Math.min(ctx.config.codex.timeout_minutes * 60_000, ctx.deps.settings.timeoutCapMs),
      signal: ctx.signal,
      onEvent: (line) => ctx.run.event(line),
    }));
    const answer = sanitizeAgentMarkdown(result.finalMessage, { maxLength: 60_000, known: ctx.secrets });
    const quoted = sanitizeAgentMarkdown(question.length > QUOTE_LIMIT ? `${question.slice(0, QUOTE_LIMIT)}…` : question, {
      maxLength: QUOTE_LIMIT + 10,
      known: ctx.secrets,
    })
      .split("\n")
      .map((l) => `> ${l}`)
      .join("\n");
    const body = `${quoted}\n\n${answer}\n\n<sub>Answered by ${agentLabel(name)} at \`${ctx.pull.headSha.slice(0, 12)}\`${mention ? ` for ${mention.trim()}` : ""}.</sub>`;
    ctx.run.link({ comment: await replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, body) });
    ctx.run.settle({ status: "succeeded", usage: result.usage });
  } finally {
    await checkout.lease.release().catch((err: unknown) => ctx.log.warn({ err }, "worktree release failed"));
  }
}
