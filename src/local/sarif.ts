import { PRIORITY_LABEL } from "../review/format.js";
import type { Priority } from "../types.js";
import { reportedFindings } from "./reported.js";
import type { LocalReviewResult } from "./report.js";

/**
 * SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`). One rule per priority
 * (findings are free-form, so there is no finer taxonomy to offer), levels error/warning/note,
 * repository-relative URIs against %SRCROOT%, and a partial fingerprint so code scanning tracks an
 * alert across pushes the way the app's review de-duplicates comments. Pure.
 */

export const SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

const LEVEL: Record<Priority, "error" | "warning" | "note"> = { 0: "error", 1: "error", 2: "warning", 3: "note" };
const RULE_TEXT: Record<Priority, string> = {
  0: "Blocking problem: drop everything to fix",
  1: "Urgent problem: fix in the next cycle",
  2: "Normal problem: fix eventually",
  3: "Low-priority problem: nice to have",
};
/** GitHub shows audit findings by this score (0.0–10.0) as critical/high/medium/low. */
const SECURITY_SEVERITY: Record<Priority, string> = { 0: "9.5", 1: "8.0", 2: "5.5", 3: "2.0" };

function ruleId(mode: "review" | "audit", p: Priority): string {
  return `codex-pr-bot/${mode}/${PRIORITY_LABEL[p]}`;
}

/** Splits a path into URI segments and percent-encodes each (SARIF URIs must be valid URI references). */
function uriOf(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function toSarif(result: LocalReviewResult, toolVersion: string): object {
  const priorities: Priority[] = [0, 1, 2, 3];
  const rules = priorities.map((p) => ({
    id: ruleId(result.mode, p),
    name: `${result.mode === "audit" ? "Security" : "Review"}Finding${PRIORITY_LABEL[p]}`,
    shortDescription: { text: `${PRIORITY_LABEL[p]}: ${RULE_TEXT[p]}` },
    fullDescription: { text: `A ${PRIORITY_LABEL[p]} finding reported by the Codex ${result.mode} of codex-pr-bot. ${RULE_TEXT[p]}.` },
    defaultConfiguration: { level: LEVEL[p] },
    properties: {
      tags: result.mode === "audit" ? ["security"] : ["correctness"],
      ...(result.mode === "audit" ? { "security-severity": SECURITY_SEVERITY[p] } : {}),
    },
  }));
  const results = reportedFindings(result).map((r) => {
    const f = r.finding;
    const text = f.body.trim() === "" ? f.title : `${f.title}\n\n${f.body.trim()}`;
    return {
      ruleId: ruleId(result.mode, f.priority),
      ruleIndex: f.priority,
      level: LEVEL[f.priority],
      message: { text },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: uriOf(f.path), uriBaseId: "%SRCROOT%" },
            region: {
              startLine: f.startLine,
              endLine: f.endLine,
              ...(f.anchor.trim() !== "" ? { snippet: { text: f.anchor } } : {}),
            },
          },
        },
      ],
      partialFingerprints: { "codexPrBot/v1": r.fingerprint },
      ...(f.suggestion !== null
        ? {
            fixes: [
              {
                description: { text: "Suggested replacement" },
                artifactChanges: [
                  {
                    artifactLocation: { uri: uriOf(f.path), uriBaseId: "%SRCROOT%" },
                    replacements: [
                      {
                        deletedRegion: { startLine: f.startLine, endLine: f.endLine },
                        insertedContent: { text: f.suggestion === "" ? "" : `${f.suggestion}\n` },
                      },
                    ],
                  },
                ],
              },
            ],
          }
        : {}),
      properties: { priority: PRIORITY_LABEL[f.priority], confidence: f.confidence, inDiff: r.inDiff, foundBy: r.agents },
    };
  });
  return {
    $schema: SARIF_SCHEMA_URI,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "codex-pr-bot",
            version: toolVersion,
            semanticVersion: toolVersion,
            rules,
          },
        },
        automationDetails: { id: `codex-pr-bot/${result.mode}/` },
        results,
        properties: {
          verdict: result.outcome.verdict,
          explanation: result.outcome.explanation,
          baseSha: result.range.baseSha,
          headSha: result.range.headSha,
          agents: result.agents.map((a) => ({ name: a.name, status: a.status, error: a.error, model: a.model })),
          notes: result.notes,
        },
      },
    ],
  };
}
