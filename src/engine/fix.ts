import type { ExecutorName } from "../config/schema.js";
import { WorkspaceError } from "../errors.js";
import type { PriceTable } from "../executors/pricing.js";
import type { AgentRunResult } from "../executors/types.js";
import { sumUsage } from "../executors/usage.js";
import { AGENT_ORDER, selectCandidate, type Candidate, type Selection } from "../fix/best-of-two.js";
import type { FileChange } from "../fix/collect.js";
import { checkChanges, secretViolations, type FixPolicy, type Violation } from "../fix/policy.js";
import type { VerifyOutcome } from "../fix/verify.js";
import { parseUnifiedDiff } from "../review/diff.js";
import type { CommandRun, Usage } from "../types.js";
import { commitWorktree, listChanges, patchBetween, type Identity } from "../workspace/commit.js";
import { costFor, everyAgentFailed, failedSpend, runAgents, throwIfCancelled, totalCost, type AgentSpec, type PickedAgents } from "./agents.js";
import { releaseAll } from "./review.js";
import type { RunOptions } from "./run.js";
import type { Source, WritableTree } from "./source.js";
import type { RunLinks, RunResult } from "../store/runs.js";

/**
 * The one fix/tests pipeline, for every door: an agent edits a tree of its own (a pool worktree of
 * the pull request, or a scratch worktree of the user's checkout), the pipeline commits its edits
 * (never on a ref), lists them, checks them against the safety rules and verifies them. With two
 * agents both write a candidate in parallel and the better one wins (best of two, fix/best-of-two.ts).
 * The sink gets the outcome: the app pushes a branch and opens a pull request (or posts a patch for
 * a fork); the local doors hand back or apply the patch.
 */

export type FixMode = "fix" | "tests";

export interface FixRequest extends RunOptions {
  mode: FixMode;
  source: Source<WritableTree>;
  prompt(tree: WritableTree): string | Promise<string>;
  pickAgents(): PickedAgents;
  /** Whether the door can hold a second tree for best of two; without it, the first agent runs alone. */
  secondTree: boolean;
  /** How the agent's edits are committed: on the head it started from, never on a ref. */
  commit: { parent: string; message: string; author: Identity };
  policy: FixPolicy;
  /** Refused in a change's added lines, and kept out of anything reported. */
  secrets: readonly string[];
  /** Runs the config's verify command in a tree; null when there is none (or it is skipped). */
  verify: ((dir: string) => Promise<VerifyOutcome>) | null;
  /** One line on why an agent failed, for the best-of-two notes (already free of secrets). */
  failureLine(agent: ExecutorName, err: unknown): string;
  /** Told when best of two was asked for but the door has no second tree. */
  onAlone?(): void;
}

/** A change that may be published: committed, listed, within the safety rules, verified. */
export interface ReadyChange {
  agent: ExecutorName;
  tree: WritableTree;
  commit: string;
  patch: string;
  changes: FileChange[];
  verify: VerifyOutcome | null;
  agentMessage: string;
}

export type FixOutcome =
  /** One agent finished without changing any file. */
  | { kind: "unchanged"; agent: ExecutorName; agentMessage: string }
  /** One agent's change breaks the safety rules (never recorded: it may hold a secret). */
  | { kind: "refused"; agent: ExecutorName; changes: FileChange[]; violations: Violation[]; agentMessage: string }
  /** Best of two with no candidate to publish. */
  | { kind: "none"; candidates: Candidate<ReadyChange>[] }
  /** The change to publish; `selection` when it won best of two. */
  | { kind: "ready"; change: ReadyChange; selection: Selection<ReadyChange> | null };

/** What the run spent and did, whatever became of the change. */
export interface FixSpend {
  usage: Usage;
  costUsd: number | null;
  model: string | null;
  /** Every command the agents ran. */
  commands: CommandRun[];
}

/** What the sink did; `result` settles the run record (usage and cost are added), null leaves it. */
export interface Delivered<T> {
  value: T;
  result: { status: RunResult["status"]; error?: string; links?: RunLinks } | null;
}

export interface FixSink<T> {
  deliver(outcome: FixOutcome, spend: FixSpend): Promise<Delivered<T>>;
  /** Git failed while committing or publishing (not while checking out): say so where the request came from. */
  publishFailed(err: WorkspaceError, spend: FixSpend): Promise<Delivered<T>>;
}

export async function runFixPipeline<T>(req: FixRequest, sink: FixSink<T>): Promise<T> {
  const { run } = req;
  const checkoutStarted = Date.now();
  const first = await run.timed("checkout", () => req.source.open());
  const checkoutMs = Date.now() - checkoutStarted;
  const trees: WritableTree[] = [first];
  try {
    let { agents } = req.pickAgents();
    if (agents.length > 1 && !req.secondTree) {
      req.onAlone?.();
      agents = agents.slice(0, 1);
    }
    if (agents.length > 1) {
      const secondStarted = Date.now();
      trees.push(await req.source.another());
      run.phase("checkout", checkoutMs + (Date.now() - secondStarted));
    }
    const onEvent = (line: string): void => {
      run.event(line);
      req.onEvent?.(line);
    };
    const prompt = await req.prompt(first);
    const settled = await run.timed("agent", () =>
      runAgents(
        agents,
        trees.map((t) => t.dir),
        { mode: req.mode, prompt, timeoutMs: req.timeoutMs, signal: req.signal, onEvent },
        req.onProgress,
      ),
    );
    throwIfCancelled(settled);
    const spend = spendOf(agents, settled, req.priceTable);
    const failed = settled.flatMap((s, i) => (s.status === "rejected" ? [{ name: agents[i]!.name, reason: s.reason as unknown }] : []));
    // One agent: its own error, as it was raised. Two: the first, carrying what both spent.
    if (failed.length === settled.length) throw agents.length === 1 ? failed[0]!.reason : everyAgentFailed(failed, req.priceTable);

    let delivered: Delivered<T>;
    const publishStarted = Date.now();
    try {
      const outcome = await decide(req, agents, trees, settled);
      // Only a change that passed the safety rules is kept with the run: a refused one may hold a secret.
      if (outcome.kind === "ready") run.diff(outcome.change.patch);
      delivered = await sink.deliver(outcome, spend);
    } catch (err) {
      if (!(err instanceof WorkspaceError)) throw err;
      delivered = await sink.publishFailed(err, spend);
    } finally {
      run.phase("publish", Date.now() - publishStarted);
    }
    if (delivered.result) run.settle({ ...delivered.result, usage: spend.usage, costUsd: spend.costUsd });
    return delivered.value;
  } finally {
    await releaseAll(trees);
  }
}

function spendOf(agents: readonly AgentSpec[], settled: readonly PromiseSettledResult<AgentRunResult>[], priceTable?: PriceTable): FixSpend {
  // A failed agent's tokens count too (what it used before it stopped).
  const figures = settled.map((s, i) =>
    s.status === "fulfilled"
      ? { usage: s.value.usage, costUsd: costFor(agents[i]!.name, s.value, priceTable), model: s.value.model }
      : failedSpend(agents[i]!.name, s.reason, priceTable),
  );
  return {
    usage: sumUsage(figures.map((f) => f.usage)),
    costUsd: totalCost(figures.map((f) => f.costUsd)),
    model: figures.map((f) => f.model).filter((m): m is string => !!m).join(", ") || null,
    commands: settled.flatMap((s) => (s.status === "fulfilled" ? s.value.commands : [])),
  };
}

/** Commits, checks and verifies every finished agent's edits, and picks what to publish. */
async function decide(
  req: FixRequest,
  agents: readonly AgentSpec[],
  trees: readonly WritableTree[],
  settled: readonly PromiseSettledResult<AgentRunResult>[],
): Promise<FixOutcome> {
  // Commits one after the other (one object store), then verifies the candidates in parallel.
  const snapped: (Candidate<ReadyChange> | { agent: ExecutorName; kind: "verify"; change: Omit<ReadyChange, "verify"> })[] = [];
  for (const [i, outcome] of settled.entries()) {
    const agent = agents[i]!.name;
    if (outcome.status === "rejected") {
      snapped.push({ agent, kind: "failed", error: req.failureLine(agent, outcome.reason) });
      continue;
    }
    const tree = trees[i]!;
    const snap = await snapshot(req, tree);
    if (snap === null) snapped.push({ agent, kind: "unchanged", message: outcome.value.finalMessage });
    else if (snap.violations.length > 0) snapped.push({ agent, kind: "refused", violations: snap.violations, changes: snap.changes });
    else snapped.push({ agent, kind: "verify", change: { agent, tree, commit: snap.commit, patch: snap.patch, changes: snap.changes, agentMessage: outcome.value.finalMessage } });
  }
  const candidates = await Promise.all(
    snapped.map(async (c): Promise<Candidate<ReadyChange>> => {
      if (c.kind !== "verify") return c;
      const verify = req.verify === null ? null : await req.verify(c.change.tree.dir);
      return { agent: c.agent, kind: "ready", changes: c.change.changes, verify, data: { ...c.change, verify } };
    }),
  );
  if (agents.length === 1) {
    const only = candidates[0]!;
    if (only.kind === "unchanged") return { kind: "unchanged", agent: only.agent, agentMessage: only.message };
    if (only.kind === "refused") {
      const agentMessage = settled[0]!.status === "fulfilled" ? settled[0]!.value.finalMessage : "";
      return { kind: "refused", agent: only.agent, changes: [...only.changes], violations: [...only.violations], agentMessage };
    }
    if (only.kind === "ready") return { kind: "ready", change: only.data, selection: null };
    throw new Error("a failed single agent is rethrown before its change is decided");
  }
  candidates.sort((a, b) => AGENT_ORDER.indexOf(a.agent) - AGENT_ORDER.indexOf(b.agent));
  const selection = selectCandidate(candidates);
  return selection === null ? { kind: "none", candidates } : { kind: "ready", change: selection.winner.data, selection };
}

/** The agent's edits as a commit on the starting head (null when nothing changed), with the safety check. */
async function snapshot(req: FixRequest, tree: WritableTree) {
  const { parent, message, author } = req.commit;
  const commit = await commitWorktree(tree.git, { parent, message, author, signal: req.signal });
  if (commit === null) return null;
  const changes = await listChanges(tree.git, parent, commit, req.signal);
  if (changes.length === 0) return null;
  const patch = await patchBetween(tree.git, parent, commit, req.signal);
  const violations = [...checkChanges(changes, req.policy), ...secretViolations(parseUnifiedDiff(patch), req.secrets)];
  return { commit, changes, patch, violations };
}

/** The repository config's safety rules for fix-ups. */
export function policyOf(config: { fix: { allow_workflow_changes: boolean; allow_binaries: boolean; max_file_bytes: number } }): FixPolicy {
  return {
    allowWorkflowChanges: config.fix.allow_workflow_changes,
    allowBinaries: config.fix.allow_binaries,
    maxFileBytes: config.fix.max_file_bytes,
  };
}
