import { formatDuration, PRIORITY_LABEL } from "../review/format.js";
import { codeFence, sanitizeAgentMarkdown } from "../review/sanitize.js";
import type { Finding, Priority } from "../types.js";
import type { LocalReviewResult } from "./report.js";
import { reportedFindings, type ReportedFinding } from "./reported.js";
import { toSarif } from "./sarif.js";



/** Output formats of a local review. Pure: a result in, text out. */

export const FORMATS = ["text", "json", "sarif", "markdown"] as const;
export type OutputFormat = (typeof FORMATS)[number];

/** The highest severity among the findings, or null. */
export function worstPriority(result: LocalReviewResult): Priority | null {
  const priorities = result.outcome.findings.map((f) => f.priority);
  return priorities.length === 0 ? null : (Math.min(...priorities) as Priority);
}

function location(f: Finding): string {
  return f.startLine === f.endLine ? `${f.path}:${f.startLine}` : `${f.path}:${f.startLine}-${f.endLine}`;
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => (l === "" ? "" : prefix + l))
    .join("\n");
}

/** "Codex", "Claude", "Codex and Claude": who ran, for headings and the progress line. */
export function agentsLabel(names: readonly string[]): string {
  return names.map((n) => n.charAt(0).toUpperCase() + n.slice(1)).join(" and ");
}

/** "codex and claude (agreed)", shown only when more than one agent was asked. */
export function foundByText(result: LocalReviewResult, r: ReportedFinding): string | null {
  if (result.agentNames.length < 2 || r.agents.length === 0) return null;
  return `${r.agents.join(" and ")}${r.agents.length > 1 ? " (agreed)" : ""}`;
}

/** "Codex review", "Codex and Claude security audit". */
export function reportTitle(result: LocalReviewResult): string {
  return `${agentsLabel(result.agentNames)} ${result.mode === "audit" ? "security audit" : "review"}`;
}

function describeRange(result: LocalReviewResult): string {
  const head = result.uncommitted ? "the working tree" : `${result.range.headRef} (${result.range.headSha.slice(0, 12)})`;
  return `${head} against ${result.range.baseRef} (merge base ${result.range.baseSha.slice(0, 12)})`;
}

/** Terminal/log text: one `file:line: [Pn] title` line per finding (clickable in editors), then its body. */
export function formatText(result: LocalReviewResult): string {
  const lines: string[] = [];
  const findings = reportedFindings(result);
  for (const r of findings) {
    const where = r.inDiff ? "" : ` (outside the diff: ${r.reason})`;
    lines.push(`${location(r.finding)}: [${PRIORITY_LABEL[r.finding.priority]}] ${r.finding.title}${where}`);
    if (r.finding.body.trim() !== "") lines.push(indent(r.finding.body, "    "));
    if (r.finding.suggestion !== null) lines.push("    Suggested replacement:", indent(r.finding.suggestion, "      | "));
    const foundBy = foundByText(result, r);
    if (foundBy !== null) lines.push(`    Found by: ${foundBy}`);
    lines.push("");
  }
  const verdict = result.outcome.verdict === "patch is correct" ? "Patch is correct" : "Patch is incorrect";
  const by = result.agentNames.length > 1 ? ` by ${result.agentNames.join(" and ")}` : "";
  lines.push(`${result.mode === "audit" ? "Audit" : "Review"}${by} of ${describeRange(result)}: ${result.files.length} file(s) reviewed.`);
  if (result.skipped.length > 0) lines.push(`Skipped by the path filters: ${result.skipped.join(", ")}`);
  for (const u of result.unparsed) lines.push(`Not reviewed, its diff could not be read: ${u.path} (${u.reason})`);
  lines.push(`Verdict: ${verdict}. ${result.outcome.explanation}`.trimEnd());
  const counts = summaryCounts(findings);
  lines.push(findings.length === 0 ? "No findings." : `${findings.length} finding(s): ${counts}.`);
  if (result.belowThreshold > 0) lines.push(`${result.belowThreshold} finding(s) below the minimum severity were not shown.`);
  for (const d of result.dropped) lines.push(`Dropped finding "${d.title}": ${d.reason}`);
  for (const n of result.notes) lines.push(`Note: ${n}`);
  if (result.durationMs > 0) lines.push(`Took ${formatDuration(result.durationMs)}${result.model ? ` with ${result.model}` : ""}.`);
  return `${lines.join("\n")}\n`;
}

function summaryCounts(findings: ReportedFinding[]): string {
  return ([0, 1, 2, 3] as Priority[])
    .map((p) => ({ p, n: findings.filter((r) => r.finding.priority === p).length }))
    .filter(({ n }) => n > 0)
    .map(({ p, n }) => `${n} ${PRIORITY_LABEL[p]}`)
    .join(", ");
}

/** Stable machine-readable output (documented in docs/cli.md). */
export function toJson(result: LocalReviewResult): object {
  return {
    version: 1,
    repo: result.repo,
    mode: result.mode,
    base: { ref: result.range.baseRef, sha: result.range.baseSha },
    head: { ref: result.range.headRef, sha: result.range.headSha, uncommitted: result.uncommitted },
    config: result.configSource,
    verdict: result.outcome.verdict,
    explanation: result.outcome.explanation,
    confidence: result.outcome.confidence,
    filesReviewed: result.files.map((f) => f.path),
    filesSkipped: result.skipped,
    findings: reportedFindings(result).map((r) => ({
      title: r.finding.title,
      severity: PRIORITY_LABEL[r.finding.priority],
      priority: r.finding.priority,
      confidence: r.finding.confidence,
      path: r.finding.path,
      startLine: r.finding.startLine,
      endLine: r.finding.endLine,
      body: r.finding.body,
      suggestion: r.finding.suggestion,
      inDiff: r.inDiff,
      outsideReason: r.reason,
      fingerprint: r.fingerprint,
      agents: r.agents,
    })),
    belowThreshold: result.belowThreshold,
    dropped: result.dropped,
    agents: result.agents.map((a) => ({
      name: a.name,
      status: a.status,
      error: a.error,
      model: a.model,
      usage: a.usage,
      costUsd: a.costUsd,
      commandsRun: a.commands.filter((c) => c.status === "completed").length,
      durationMs: a.durationMs,
    })),
    notes: result.notes,
    usage: result.usage,
    model: result.model,
    durationMs: result.durationMs,
  };
}

/** Markdown for a PR comment, a job summary or a chat: agent text sanitised like the app's review body. */
export function formatMarkdown(result: LocalReviewResult): string {
  const findings = reportedFindings(result);
  const verdict = result.outcome.verdict === "patch is correct" ? "Patch is correct" : "Patch is incorrect";
  const parts = [
    `## ${reportTitle(result)}`,
    `**Verdict: ${verdict}**\n\n${sanitizeAgentMarkdown(result.outcome.explanation, { maxLength: 5000, known: [] })}`.trim(),
    ...result.notes.map((n) => `> **Note:** ${sanitizeAgentMarkdown(n, { maxLength: 1000, known: [] })}`),
    findings.length === 0 ? "No findings." : `${findings.length} finding(s): ${summaryCounts(findings)}.`,
  ];
  for (const r of findings) {
    const f = r.finding;
    const title = f.title.replace(/\s+/g, " ").replace(/[`*_[\]<>]/g, (c) => `\\${c}`);
    const entry = [`### [${PRIORITY_LABEL[f.priority]}] ${title}`, `\`${location(f)}\`${r.inDiff ? "" : ` (outside the diff: ${r.reason})`}`];
    entry.push(sanitizeAgentMarkdown(f.body, { maxLength: 10_000, known: [] }));
    if (f.suggestion !== null) entry.push(`Suggested replacement:\n\n${codeFence(f.suggestion)}`);
    const foundBy = foundByText(result, r);
    if (foundBy !== null) entry.push(`_Found by: ${foundBy}_`);
    parts.push(entry.join("\n\n"));
  }
  parts.push(`<sub>Reviewed ${describeRange(result)}.</sub>`);
  return `${parts.join("\n\n")}\n`;
}

export function formatResult(result: LocalReviewResult, format: OutputFormat, toolVersion: string): string {
  switch (format) {
    case "text":
      return formatText(result);
    case "json":
      return `${JSON.stringify(toJson(result), null, 2)}\n`;
    case "sarif":
      return `${JSON.stringify(toSarif(result, toolVersion), null, 2)}\n`;
    case "markdown":
      return formatMarkdown(result);
  }
}
