import type { AgentRunResult } from "../executors/types.js";
import { costFor, type AgentSpec, type PickedAgents } from "./agents.js";
import { releaseAll } from "./review.js";
import type { RunOptions } from "./run.js";
import type { Source, Tree } from "./source.js";

/**
 * The one ask pipeline: a read-only run of one agent (the first picked) whose final message is the
 * answer. The sink decides where the answer goes (a reply on the pull request).
 */

export interface AskRequest extends Omit<RunOptions, "onProgress"> {
  source: Source;
  prompt(tree: Tree): string | Promise<string>;
  pickAgents(): PickedAgents;
}

export interface AskSink<T> {
  answer(agent: AgentSpec, result: AgentRunResult, tree: Tree): Promise<T>;
}

export async function runAskPipeline<T>(req: AskRequest, sink: AskSink<T>): Promise<T> {
  const { run } = req;
  const tree = await run.timed("checkout", () => req.source.open());
  try {
    // An answer comes from one agent: the first of those picked for `ask`.
    const agent = req.pickAgents().agents[0]!;
    const prompt = await req.prompt(tree);
    const result = await run.timed("agent", () =>
      agent.executor.run({
        worktree: tree.dir,
        mode: "ask",
        prompt,
        ...agent.request,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        onEvent: (line) => {
          run.event(line);
          req.onEvent?.(line);
        },
      }),
    );
    const value = await sink.answer(agent, result, tree);
    run.settle({ status: "succeeded", usage: result.usage, costUsd: costFor(agent.name, result, req.priceTable) });
    return value;
  } finally {
    await releaseAll([tree]);
  }
}
