import { fingerprint } from "../review/fingerprint.js";
import type { Finding } from "../types.js";
import type { LocalReviewResult } from "./report.js";

/** A local review's findings in report order, shared by every local format (text, JSON, SARIF, Markdown). Pure. */

export interface ReportedFinding {
  finding: Finding;
  /** True when the finding sits on lines the change touched (where a PR review would comment inline). */
  inDiff: boolean;
  /** Why it is not on the diff, when it isn't. */
  reason: string | null;
  fingerprint: string;
  /** The agents that reported it; more than one means they agreed. */
  agents: string[];
}

/** Every finding once, most severe first, in-diff ones before the others of the same priority. */
export function reportedFindings(result: LocalReviewResult): ReportedFinding[] {
  const all: ReportedFinding[] = [
    ...result.placement.inline.map((p) => ({ finding: p.finding, inDiff: true, reason: null })),
    ...result.placement.outside.map((o) => ({ finding: o.finding, inDiff: false, reason: o.reason })),
  ].map((r) => ({ ...r, fingerprint: fingerprint(r.finding), agents: result.foundBy.get(r.finding) ?? [] }));
  return all.sort((a, b) => a.finding.priority - b.finding.priority || Number(b.inDiff) - Number(a.inDiff));
}

