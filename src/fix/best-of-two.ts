/**
 * Best of two: when both agents write a fix, which candidate becomes the fix pull request and what
 * the pull request says about the other one. Pure: fix.ts runs the agents, commits and verifies
 * each candidate, and hands the outcomes here.
 *
 * A candidate that passes `fix.verify` wins over one that fails it; otherwise (both pass, both fail,
 * or no verification) the smaller change wins, by lines added plus removed; a tie goes to Codex.
 */
import { codeSpan } from "../review/sanitize.js";
import type { VerifyOutcome } from "./verify.js";
import type { FileChange } from "./collect.js";
import type { Violation } from "./policy.js";

export type AgentName = "codex" | "claude";

/** Codex first: the order ties are broken in, and the order candidates are listed in. */
export const AGENT_ORDER: readonly AgentName[] = ["codex", "claude"];

/** What one agent's run came to, after the bot committed, checked and verified it. */
export type Candidate<T> =
  /** The agent run failed (an error, a timeout, a limit); `error` is one line, already redacted. */
  | { agent: AgentName; kind: "failed"; error: string }
  /** The agent finished without changing any file. */
  | { agent: AgentName; kind: "unchanged"; message: string }
  /** The change breaks the safety rules: it is dropped. */
  | { agent: AgentName; kind: "refused"; violations: readonly Violation[]; changes: readonly FileChange[] }
  /** A change that may be published; `data` is the caller's (the commit, the worktree, the patch). */
  | { agent: AgentName; kind: "ready"; changes: readonly FileChange[]; verify: VerifyOutcome | null; data: T };

export type ReadyCandidate<T> = Extract<Candidate<T>, { kind: "ready" }>;

export interface Selection<T> {
  winner: ReadyCandidate<T>;
  /** The other publishable candidate, offered as a second branch; null when there is none. */
  runnerUp: ReadyCandidate<T> | null;
  /** Why the winner won, in a sentence fragment ("its verification passed; codex's failed"); null without a contest. */
  reason: string | null;
  /** What became of the candidates that could not be used: failed, unchanged or refused. */
  notes: string[];
}

/** Lines added plus lines removed: how big a change is, for choosing between two. */
export function changedLines(changes: readonly FileChange[]): number {
  return changes.reduce((n, c) => n + c.additions + c.deletions, 0);
}

function passed(c: ReadyCandidate<unknown>): boolean {
  return c.verify === null || c.verify.passed;
}

function order(agent: AgentName): number {
  return AGENT_ORDER.indexOf(agent);
}

/** Negative when `a` is the better candidate. */
export function compareCandidates(a: ReadyCandidate<unknown>, b: ReadyCandidate<unknown>): number {
  if (passed(a) !== passed(b)) return passed(a) ? -1 : 1;
  const byLines = changedLines(a.changes) - changedLines(b.changes);
  if (byLines !== 0) return byLines;
  return order(a.agent) - order(b.agent);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function whyWon(winner: ReadyCandidate<unknown>, other: ReadyCandidate<unknown>): string {
  if (passed(winner) !== passed(other)) return `its verification passed and ${other.agent}'s failed`;
  const w = changedLines(winner.changes);
  const o = changedLines(other.changes);
  const verified = winner.verify === null ? "" : passed(winner) ? "both passed verification; " : "both failed verification; ";
  if (w === o) return `${verified}both changed ${plural(w, "line")}, and ${winner.agent}'s is preferred on a tie`;
  return `${verified}it is the smaller change (${plural(w, "line")} against ${o})`;
}

/** Why a candidate that is not `ready` was not used, as a Markdown list item's text. */
export function candidateNote(c: Exclude<Candidate<unknown>, { kind: "ready" }>, alone: AgentName | null): string {
  const fallback = alone === null ? "" : `; this fix is from ${alone} alone`;
  switch (c.kind) {
    case "failed":
      return `**${c.agent}** did not finish (${c.error})${fallback}.`;
    case "unchanged":
      return `**${c.agent}** finished without changing any file${fallback}.`;
    case "refused": {
      const first = c.violations.slice(0, 3).map((v) => `${codeSpan(v.path)}: ${v.reason}`);
      const more = c.violations.length > 3 ? `, and ${c.violations.length - 3} more` : "";
      return `**${c.agent}**'s change was dropped: it breaks the safety rules for fix-ups (${first.join("; ")}${more})${fallback}.`;
    }
  }
}

/** The winner and the runner-up among the candidates, or null when none can be published. */
export function selectCandidate<T>(candidates: readonly Candidate<T>[]): Selection<T> | null {
  const ready = candidates.filter((c): c is ReadyCandidate<T> => c.kind === "ready").sort(compareCandidates);
  const winner = ready[0];
  if (winner === undefined) return null;
  const runnerUp = ready[1] ?? null;
  const alone = runnerUp === null ? winner.agent : null;
  const notes = candidates.flatMap((c) => (c.kind === "ready" ? [] : [candidateNote(c, alone)]));
  return { winner, runnerUp, reason: runnerUp === null ? null : whyWon(winner, runnerUp), notes };
}
