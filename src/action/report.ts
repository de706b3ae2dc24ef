import { reportedFindings } from "../local/reported.js";
import type { LocalReviewResult } from "../local/report.js";
import { PRIORITY_LABEL } from "../review/format.js";
import { codeFence, redactSecrets } from "../review/sanitize.js";
import type { Priority } from "../types.js";
import type { PublishResult } from "./publish.js";
import { workflowCommand, type CommandLevel } from "./workflow.js";

/**
 * What the job summary and the log say about posting, and the fallback when nothing could be posted:
 * workflow annotations, which GitHub shows on the pull request's changed files without any write
 * permission (as reviewdog does). Pure.
 */

/** GitHub shows at most 10 annotations of each level per step; the most severe go first. */
const ANNOTATIONS_PER_LEVEL = 10;
const ANNOTATION_TEXT_CAP = 2_000;
const LEVEL: Record<Priority, CommandLevel> = { 0: "error", 1: "error", 2: "warning", 3: "notice" };

/** The line at the top of the job summary. */
export function publishSummary(p: PublishResult): string {
  switch (p.kind) {
    case "posted": {
      const where = p.inlineRejected
        ? `GitHub refused the inline comments, so all ${p.outside} ${p.outside === 1 ? "finding is" : "findings are"} in the review body`
        : `${p.inline} inline ${p.inline === 1 ? "comment" : "comments"}, ${p.outside} in the review body`;
      const dupes = p.duplicatesSkipped > 0 ? `; ${p.duplicatesSkipped} already posted earlier ${p.duplicatesSkipped === 1 ? "was" : "were"} not repeated` : "";
      return `> Posted [the review](${p.url}) on the pull request: ${where}${dupes}.`;
    }
    case "nothing-new":
      return p.duplicatesSkipped > 0
        ? `> No new review: all ${p.duplicatesSkipped} ${p.duplicatesSkipped === 1 ? "finding was" : "findings were"} already posted on the pull request by an earlier run.`
        : "> No review posted: there are no findings.";
    case "disabled":
      return "> Posting the review is turned off (`post-review: false`).";
    case "fork":
      return "> Not posted: this pull request comes from a fork, where the workflow's token is read-only. The findings are below, in the SARIF upload and as annotations on the changed files.";
    case "no-token":
      return "> Not posted: no token (set the `github-token` input, or GITHUB_TOKEN). The findings are below and in the SARIF upload.";
    case "moved":
      return `> Not posted: the pull request moved on to \`${p.to.slice(0, 12)}\` during the review, and the findings would sit on outdated lines. The run for that push reviews it.`;
    case "failed":
      return `> ⚠️ **The review could not be posted:** ${p.message} The findings are below, in the SARIF upload and as annotations on the changed files.`;
  }
}

/** One log line about posting, for the workflow log (a warning when it failed). */
export function publishLogLine(p: PublishResult): string {
  const text = publishSummary(p).replace(/^> (⚠️ )?/, "").replace(/\*\*/g, "");
  if (p.kind === "failed") return workflowCommand("warning", text, { title: "codex-pr-bot" });
  if (p.kind === "fork" || p.kind === "no-token" || p.kind === "moved") return workflowCommand("notice", text, { title: "codex-pr-bot" });
  return `${text}\n`;
}

/** Whether the findings should be shown as annotations because no review carries them. */
export function needsAnnotations(p: PublishResult): boolean {
  return p.kind === "fork" || p.kind === "failed" || p.kind === "no-token";
}

export function annotations(result: LocalReviewResult, knownSecrets: readonly string[]): string {
  const perLevel = new Map<CommandLevel, number>();
  let out = "";
  for (const r of reportedFindings(result)) {
    const f = r.finding;
    const level = LEVEL[f.priority];
    const count = perLevel.get(level) ?? 0;
    if (count >= ANNOTATIONS_PER_LEVEL) continue;
    perLevel.set(level, count + 1);
    const body = redactSecrets(f.body, knownSecrets).trim();
    const message = body.length > ANNOTATION_TEXT_CAP ? `${body.slice(0, ANNOTATION_TEXT_CAP - 1)}…` : body || f.title;
    out += workflowCommand(level, message, {
      title: `[${PRIORITY_LABEL[f.priority]}] ${redactSecrets(f.title, knownSecrets).replace(/\s+/g, " ").trim()}`,
      file: f.path,
      line: Math.min(f.startLine, f.endLine),
      endLine: Math.max(f.startLine, f.endLine),
    });
  }
  return out;
}

/** The job summary of a run that failed before it had a review. */
export function failureSummary(message: string): string {
  return `## codex-pr-bot could not review this pull request\n\n${codeFence(message)}\n`;
}
