import type { ReviewComment } from "../github/reviews.js";
import type { DiffFile, Finding, InlinePlacement, OutsidePlacement, PlacementResult, ReviewOutcome } from "../types.js";
import type { UnparsedFile } from "./diff.js";
import { fingerprint, fingerprintMarker } from "./fingerprint.js";
import { formatInlineComment, formatReviewBody } from "./format.js";
import { placeFindings } from "./placement.js";

/**
 * The one review the bot posts for a run, shared by the app's review job and the GitHub Action so
 * both post the same thing: findings an earlier bot review already carries (by fingerprint) are
 * left out, the rest placed on the diff, and the body and inline comments rendered. Pure.
 */

export interface ComposeReviewInput {
  /** The run's outcome, its findings already narrowed to those worth posting (severity, path filters). */
  outcome: ReviewOutcome;
  mode: "review" | "audit";
  /** The reviewed diff, for placement. */
  files: DiffFile[];
  /** Files of the diff that could not be parsed (review/diff.ts parseDiff): listed in the body with the reason. */
  unparsed: readonly UnparsedFile[];
  /** Fingerprints found in the bot's earlier reviews on this pull request. */
  alreadyPosted: ReadonlySet<string>;
  maxInline: number;
  belowThreshold: number;
  headSha: string;
  repoHtmlUrl: string;
  knownSecrets: readonly string[];
  /** Who found each finding, when more than one agent ran. */
  agents?: ReadonlyMap<Finding, string[]> | null;
  /** Appended to the body that goes with the inline comments only. */
  bodyNote?: string;
  /** Appended to both that body and the fallback body. */
  notes?: string;
}

export interface ComposedReview {
  /** Findings no earlier review carries: the ones this review posts. */
  fresh: Finding[];
  duplicatesSkipped: number;
  placement: PlacementResult;
  body: string;
  comments: ReviewComment[];
  /** The body with the inline comments folded in, for when GitHub refuses them (422). */
  fallbackBody: () => string;
}

export function composeReview(input: ComposeReviewInput): ComposedReview {
  const relevant = input.outcome.findings;
  const fpOf = new Map<Finding, string>(relevant.map((f) => [f, fingerprint(f)]));
  const fresh = relevant.filter((f) => !input.alreadyPosted.has(fpOf.get(f)!));
  const duplicatesSkipped = relevant.length - fresh.length;
  const placement = placeFindings(input.files, fresh, { maxInline: input.maxInline });
  const notes = input.notes ?? "";

  // The inline findings' fingerprints ride along in the body too (hidden), so the next push's
  // dedupe reads one list of reviews instead of every review comment as well.
  // What follows formatReviewBody's text is reserved out of its cap, so the whole stays under GitHub's limit.
  const bodyFor = (inline: InlinePlacement[], outside: OutsidePlacement[], after: string): string => {
    const markers = inline.map((p) => `\n${fingerprintMarker(fpOf.get(p.finding)!)}`).join("");
    return (
      formatReviewBody({
        outcome: input.outcome,
        mode: input.mode,
        inlineCount: inline.length,
        outside: outside.map((o) => ({ placement: o, fingerprint: fpOf.get(o.finding)! })),
        duplicatesSkipped,
        belowThreshold: input.belowThreshold,
        headSha: input.headSha,
        repoHtmlUrl: input.repoHtmlUrl,
        knownSecrets: input.knownSecrets,
        unparsed: input.unparsed,
        reserve: markers.length + after.length,
      }) +
      markers +
      after
    );
  };

  return {
    fresh,
    duplicatesSkipped,
    placement,
    body: bodyFor(placement.inline, placement.outside, (input.bodyNote ?? "") + notes),
    comments: placement.inline.map((p) => toComment(p, fpOf.get(p.finding)!, input.knownSecrets, input.agents?.get(p.finding))),
    // Nothing is lost when GitHub refuses the inline comments: they are listed in the body.
    fallbackBody: () =>
      bodyFor([], [...placement.inline.map((p) => ({ finding: p.finding, reason: "rejected-inline" as const })), ...placement.outside], notes),
  };
}

/** Notes for the reader (an agent that did not finish…), as the quoted block a review body ends with. */
export function quoteNotes(notes: readonly string[]): string {
  return notes.length > 0 ? `\n\n${notes.map((n) => `> ${n}`).join("\n>\n")}` : "";
}

function toComment(p: InlinePlacement, fp: string, secrets: readonly string[], agents?: string[]): ReviewComment {
  const body = formatInlineComment(p, { fingerprint: fp, knownSecrets: secrets, ...(agents ? { agents } : {}) });
  return p.startLine === null
    ? { path: p.path, line: p.line, side: "RIGHT", body }
    : { path: p.path, line: p.line, start_line: p.startLine, side: "RIGHT", start_side: "RIGHT", body };
}
