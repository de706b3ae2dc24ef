import { z } from "zod";
import type { PromptFinding } from "../prompts/build.js";

/**
 * Findings to fix, read from a `codex-pr-bot review --format json` report (format version 1, see
 * docs/cli.md), so `fix --findings review.json` fixes what a review found. Only the fields the fix
 * prompt uses are read; the rest of the report may change freely. Pure.
 */

const findingSchema = z.object({
  title: z.string().min(1).max(500),
  priority: z.number().int().min(0).max(3).nullable().optional(),
  path: z.string().min(1).max(4096).nullable().optional(),
  startLine: z.number().int().min(1).nullable().optional(),
  endLine: z.number().int().min(1).nullable().optional(),
  body: z.string().max(20_000).default(""),
  suggestion: z.string().max(20_000).nullable().optional(),
});

const reportSchema = z.object({
  version: z.literal(1, "only version 1 reports are understood"),
  findings: z.array(findingSchema).max(50, "fix at most 50 findings at once"),
});

export class FindingsFileError extends Error {
  override readonly name = "FindingsFileError";
}

export function findingsFromReport(text: string, source: string): PromptFinding[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FindingsFileError(`${source} is not JSON (${(err as Error).message}); write it with \`codex-pr-bot review --format json -o ${source}\``);
  }
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success) throw new FindingsFileError(`${source} is not a codex-pr-bot review report:\n${z.prettifyError(parsed.error)}`);
  return parsed.data.findings.map((f) => ({
    title: f.title,
    priority: f.priority ?? null,
    path: f.path ?? null,
    startLine: f.startLine ?? null,
    endLine: f.endLine ?? f.startLine ?? null,
    body: f.suggestion != null ? `${f.body}\n\nSuggested replacement for those lines:\n\n${fence(f.suggestion)}` : f.body,
  }));
}

function fence(code: string): string {
  const longest = Math.max(0, ...[...code.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(Math.max(3, longest + 1));
  return `${ticks}\n${code}\n${ticks}`;
}
