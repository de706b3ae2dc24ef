import type { Finding, ReviewOutcome } from "../types.js";
import { fingerprint } from "../review/fingerprint.js";

/**
 * Combines the reviews of several agents (codex and claude on the same head) into one. Pure.
 *
 * Two findings are the same problem when they are on the same file, their line ranges overlap or
 * nearly touch, and they say the same thing: similar titles, or similar title+body, or an identical
 * fingerprint (path + normalised title + quoted code). A problem reported by several agents is
 * "agreed": it is ranked first, takes the most urgent priority and the highest confidence, and keeps
 * the list of agents that found it. Findings only one agent reported are kept, never dropped.
 */

export interface AgentReview {
  /** "codex", "claude": shown to users as who found a finding. */
  executor: string;
  review: ReviewOutcome;
}

export interface MergedReview {
  outcome: ReviewOutcome;
  /** Every finding of `outcome` → the agents that reported it, in the order the reviews were given. */
  agents: Map<Finding, string[]>;
}

export interface MergeOptions {
  /** Ranges this many lines apart still count as the same place. Default 3. */
  lineSlack?: number;
  /** Minimum title similarity (overlap coefficient of normalised tokens). Default 0.5. */
  titleThreshold?: number;
  /** Minimum similarity of title+body tokens (Jaccard). Default 0.3. */
  textThreshold?: number;
}

const DEFAULTS: Required<MergeOptions> = { lineSlack: 3, titleThreshold: 0.5, textThreshold: 0.3 };

interface Cluster {
  members: { executor: string; finding: Finding; order: number }[];
}

export function mergeReviews(results: readonly AgentReview[], options: MergeOptions = {}): MergedReview {
  const opts = { ...DEFAULTS, ...options };
  const clusters: Cluster[] = [];
  let order = 0;
  for (const { executor, review } of results) {
    for (const finding of review.findings) {
      const member = { executor, finding, order: order++ };
      const match = clusters.find((c) => c.members.some((m) => sameProblem(m.finding, finding, opts)));
      if (match) match.members.push(member);
      else clusters.push({ members: [member] });
    }
  }

  const merged = clusters.map((cluster) => {
    const agents = unique(cluster.members.map((m) => m.executor));
    return { finding: combine(cluster), agents, first: cluster.members[0]!.order };
  });
  merged.sort(
    (a, b) =>
      Number(b.agents.length > 1) - Number(a.agents.length > 1) ||
      a.finding.priority - b.finding.priority ||
      b.finding.confidence - a.finding.confidence ||
      a.first - b.first,
  );

  const agents = new Map<Finding, string[]>();
  for (const m of merged) agents.set(m.finding, m.agents);
  // An earlier finding is fixed when any agent says so: the thread is resolved, and a person can reopen it.
  const fixed = unique(results.flatMap((r) => r.review.fixed ?? []));
  return { outcome: { ...combineVerdicts(results), findings: merged.map((m) => m.finding), ...(fixed.length > 0 ? { fixed } : {}) }, agents };
}

/** True when two findings describe the same problem at the same place. */
export function sameProblem(a: Finding, b: Finding, options: MergeOptions = {}): boolean {
  const opts = { ...DEFAULTS, ...options };
  if (a.path !== b.path) return false;
  if (a.startLine > b.endLine + opts.lineSlack || b.startLine > a.endLine + opts.lineSlack) return false;
  if (fingerprint(a) === fingerprint(b)) return true;
  const titleA = tokens(a.title);
  const titleB = tokens(b.title);
  if (overlap(titleA, titleB) >= opts.titleThreshold && intersection(titleA, titleB) >= 2) return true;
  return jaccard(tokens(`${a.title} ${a.body}`), tokens(`${b.title} ${b.body}`)) >= opts.textThreshold;
}

/**
 * One finding for a cluster: the text and place of its most urgent, most confident member; the
 * lowest priority number and the highest confidence of all; the first suggestion offered by a member
 * whose range is the chosen one (another range's suggestion would not line up).
 */
function combine(cluster: Cluster): Finding {
  const ranked = [...cluster.members].sort(
    (a, b) => a.finding.priority - b.finding.priority || b.finding.confidence - a.finding.confidence || a.order - b.order,
  );
  const lead = ranked[0]!.finding;
  if (cluster.members.length === 1) return lead;
  const suggestion =
    lead.suggestion ??
    ranked.find((m) => m.finding.suggestion !== null && m.finding.startLine === lead.startLine && m.finding.endLine === lead.endLine)
      ?.finding.suggestion ??
    null;
  return {
    ...lead,
    priority: lead.priority,
    confidence: Math.max(...cluster.members.map((m) => m.finding.confidence)),
    suggestion,
  };
}

/** "patch is incorrect" if any agent says so; explanations side by side, labelled when there are several. */
function combineVerdicts(results: readonly AgentReview[]): Omit<ReviewOutcome, "findings"> {
  if (results.length === 0) return { verdict: "patch is correct", explanation: "", confidence: 0 };
  if (results.length === 1) {
    const { verdict, explanation, confidence } = results[0]!.review;
    return { verdict, explanation, confidence };
  }
  const verdict = results.some((r) => r.review.verdict === "patch is incorrect") ? "patch is incorrect" : "patch is correct";
  const agreeing = results.filter((r) => r.review.verdict === verdict);
  return {
    verdict,
    explanation: results
      .filter((r) => r.review.explanation.trim().length > 0)
      .map((r) => `${r.executor}: ${r.review.explanation.trim()}`)
      .join("\n\n"),
    confidence: Math.max(...agreeing.map((r) => r.review.confidence)),
  };
}

const STOPWORDS = new Set(
  "a an the and or of to in on at for from by with without into is are be been being was were it its this that these those as not no can could may might will would should must when then than there here which who what where how why do does did done use used using via".split(
    " ",
  ),
);

/** Lower-cased word tokens without stop words, with a crude plural/verb-suffix stem. */
export function tokens(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}_]+/u)) {
    if (raw.length < 2 || STOPWORDS.has(raw)) continue;
    out.add(stem(raw));
  }
  return out;
}

function stem(word: string): string {
  if (word.length > 5 && word.endsWith("ing")) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith("ed")) return word.slice(0, -2);
  if (word.length > 4 && word.endsWith("es") && !word.endsWith("ses")) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

function intersection(a: Set<string>, b: Set<string>): number {
  let n = 0;
  for (const t of a) if (b.has(t)) n += 1;
  return n;
}

function overlap(a: Set<string>, b: Set<string>): number {
  const min = Math.min(a.size, b.size);
  return min === 0 ? 0 : intersection(a, b) / min;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  const union = a.size + b.size - intersection(a, b);
  return union === 0 ? 0 : intersection(a, b) / union;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
