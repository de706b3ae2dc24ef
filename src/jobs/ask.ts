import { runAskPipeline } from "../engine/ask.js";
import { agentLabel } from "../fix/body.js";
import { replyToPull } from "../github/comments.js";
import { sanitizeAgentMarkdown } from "../review/sanitize.js";
import type { JobContext } from "./context.js";
import { pickAgents } from "./pick-agents.js";
import { agentTimeout, pullPrompt, pullSource } from "./pull-source.js";
import { mentionPrefix } from "./trigger.js";

const QUOTE_LIMIT = 500;

/** `@codex ask <question>`: the ask pipeline on the pull request; the answer is posted as a reply. */
export async function runAsk(ctx: JobContext): Promise<void> {
  const question = ctx.job.instruction?.trim() ?? "";
  const mention = mentionPrefix(ctx.job.trigger);
  if (question.length === 0) {
    await replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, `${mention}usage: \`@codex ask <your question about this pull request>\``);
    return;
  }
  await runAskPipeline(
    {
      source: pullSource(ctx),
      prompt: (tree) => pullPrompt(ctx, "ask", tree, question),
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
        ctx.run.link({ comment: await replyToPull(ctx.octokit, ctx.coords, ctx.job.prNumber, body) });
      },
    },
  );
}
