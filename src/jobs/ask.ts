import { runAskPipeline } from "../engine/ask.js";
import { agentLabel } from "../fix/body.js";
import { replyToPull } from "../github/comments.js";
import { listReviewThreads } from "../github/review-threads.js";
import { replyInThread } from "../github/threads.js";
import type { PromptThread } from "../prompts/build.js";
import { sanitizeAgentMarkdown } from "../review/sanitize.js";
import type { JobContext } from "./context.js";
import { pickAgents } from "./pick-agents.js";
import { agentTimeout, pullPrompt, pullSource } from "./pull-source.js";
import { mentionPrefix } from "./trigger.js";

const QUOTE_LIMIT = 500;

/**
 * `@codex ask <question>`: the ask pipeline on the pull request; the answer is posted as a reply. Asked
 * in a review thread (`@codex ask …` or `@codex <question>` as a reply), the thread's file, lines and
 * earlier comments go into the prompt and the answer goes into the thread.
 */
export async function runAsk(ctx: JobContext): Promise<void> {
  const question = ctx.job.instruction?.trim() ?? "";
  const mention = mentionPrefix(ctx.job.trigger);
  const parentId = ctx.job.trigger.kind === "command" ? (ctx.job.trigger.reviewThread?.parentId ?? null) : null;
  const reply = (body: string): Promise<string> =>
    parentId !== null ? replyInThread(ctx.octokit, ctx.coords, ctx.job.prNumber, parentId, body) : replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, body);
  if (question.length === 0) {
    await reply(`${mention}usage: \`@codex ask <your question about this pull request>\``);
    return;
  }
  const thread = parentId === null ? null : await threadOf(ctx, parentId);
  await runAskPipeline(
    {
      source: pullSource(ctx),
      prompt: (tree) => pullPrompt(ctx, "ask", tree, question, thread),
      pickAgents: () => pickAgents(ctx, "ask"),
      timeoutMs: agentTimeout(ctx),
      signal: ctx.signal,
      run: ctx.run,
      priceTable: ctx.deps.settings.priceTable,
    },
    {
      answer: async ({ name }, result) => {
        const answer = sanitizeAgentMarkdown(result.finalMessage, { maxLength: 60_000, known: ctx.secrets });
        const quoted = sanitizeAgentMarkdown(question.length > QUOTE_LIMIT ? `${question.slice(0, QUOTE_LIMIT)}…` : question, {
          maxLength: QUOTE_LIMIT + 10,
          known: ctx.secrets,
        })
          .split("\n")
          .map((l) => `> ${l}`)
          .join("\n");
        const body = `${quoted}\n\n${answer}\n\n<sub>Answered by ${agentLabel(name)} at \`${ctx.pull.headSha.slice(0, 12)}\`${mention ? ` for ${mention.trim()}` : ""}.</sub>`;
        ctx.run.link({ comment: await reply(body) });
      },
    },
  );
}

/**
 * The review thread whose first comment is `parentId`: its file, lines and comments before the
 * question (the command comment itself is the question). Without it (GraphQL unreachable, the thread
 * gone) the question is still answered in the thread, on the pull request as a whole.
 */
async function threadOf(ctx: JobContext, parentId: number): Promise<PromptThread | null> {
  const commentId = ctx.job.trigger.kind === "command" ? ctx.job.trigger.commentId : null;
  try {
    const threads = await listReviewThreads(ctx.octokit, ctx.coords, ctx.job.prNumber);
    const thread = threads.find((t) => t.comments[0]?.id === parentId);
    if (!thread) return null;
    const asked = thread.comments.findIndex((c) => c.id === commentId);
    const earlier = asked >= 0 ? thread.comments.slice(0, asked) : thread.comments.filter((c) => c.id !== commentId);
    return {
      path: thread.path,
      line: thread.line,
      startLine: thread.startLine,
      comments: earlier.map((c) => ({ author: c.author ?? "ghost", body: c.body })),
    };
  } catch (err) {
    ctx.log.warn({ err }, "could not read the review thread of the question");
    return null;
  }
}
