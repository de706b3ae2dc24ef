import type { Finding, Priority } from "../types.js";
import { combineReviews, runAgents, type AgentWording, type CombinedReview, type PickedAgents } from "./agents.js";
import type { RunOptions } from "./run.js";
import type { Source, Tree } from "./source.js";

/**
 * The one review pipeline (review and audit), for every door: open the source's tree, build the
 * prompt, run the picked agents in parallel (a tree each), combine their reviews, keep the findings
 * the config wants, and hand the result to the sink. Where the work came from (a pull request, the
 * user's checkout, an Action's event) is the source's business; where it goes (a GitHub review and
 * check run, a terminal report, SARIF) the sink's.
 */

export interface ReviewRequest extends RunOptions {
  mode: "review" | "audit";
  source: Source;
  /** The prompt for the opened tree (the source knows the pull request or range it shows). */
  prompt(tree: Tree): string | Promise<string>;
  /** Called once the tree is open: a door that cannot run any of its agents fails the run there. */
  pickAgents(): PickedAgents;
  wording: AgentWording;
  /** Findings less severe than this are counted, not reported. */
  minPriority: Priority;
}

/** A finished review, before the sink decides what to post. */
export interface ReviewRun {
  tree: Tree;
  combined: CombinedReview;
  /** Findings on files the config does not exclude. */
  reviewable: Finding[];
  /** Of those, the ones at or above the minimum severity. */
  relevant: Finding[];
}

/** What a sink published; `findings` is what the run record counts (null: record no result). */
export interface Published<T> {
  value: T;
  findings: number | null;
}

export interface ReviewSink<T> {
  /** Every changed file is excluded (or nothing changed): no agent runs. */
  nothingToReview(tree: Tree): Promise<Published<T>>;
  publish(review: ReviewRun): Promise<Published<T>>;
  /** Reports a failure where the door's users see it; rethrows when the door's caller should. */
  failed(err: unknown): Promise<T>;
}

export async function runReviewPipeline<T>(req: ReviewRequest, sink: ReviewSink<T>): Promise<T> {
  const { run } = req;
  let tree: Tree | null = null;
  const extra: Tree[] = [];
  try {
    tree = await run.timed("checkout", () => req.source.open());
    if (tree.files.length === 0) {
      const done = await sink.nothingToReview(tree);
      if (done.findings !== null) run.settle({ status: "succeeded", findings: done.findings, usage: null, costUsd: null });
      return done.value;
    }
    const first = tree;
    const prompt = await req.prompt(first);
    const { agents, unavailable } = req.pickAgents();
    const started = Date.now();
    const combined = await run.timed("agent", async () => {
      let settled;
      try {
        for (let i = 1; i < agents.length; i++) extra.push(await req.source.another());
        const dirs = [first, ...extra].map((t) => t.dir);
        const onEvent = (line: string): void => {
          run.event(line);
          req.onEvent?.(line);
        };
        settled = await runAgents(agents, dirs, { mode: req.mode, prompt, timeoutMs: req.timeoutMs, signal: req.signal, onEvent }, req.onProgress);
      } finally {
        // The other agents' trees go back before publishing: only the first one's files are needed.
        await releaseAll(extra.splice(0));
      }
      return combineReviews(
        agents.map((a) => a.name),
        settled,
        { wording: req.wording, unavailable, priceTable: req.priceTable, elapsedMs: Date.now() - started },
      );
    });
    // Files the config excludes stay excluded even if an agent commented on them anyway.
    const ignored = new Set(first.skipped);
    const reviewable = combined.outcome.findings.filter((f) => !ignored.has(f.path));
    const relevant = reviewable.filter((f) => f.priority <= req.minPriority);
    const publishStarted = Date.now();
    const done = await sink.publish({ tree: first, combined, reviewable, relevant });
    run.phase("publish", Date.now() - publishStarted);
    if (done.findings !== null) run.settle({ status: "succeeded", findings: done.findings, usage: combined.usage, costUsd: combined.costUsd });
    return done.value;
  } catch (err) {
    return await sink.failed(err);
  } finally {
    await releaseAll([...extra, ...(tree ? [tree] : [])]);
  }
}

/** Trees go back whatever happened; a failed release must not hide the run's own outcome. */
export async function releaseAll(trees: readonly Tree[]): Promise<void> {
  await Promise.all(trees.map((t) => t.release().catch(() => undefined)));
}
