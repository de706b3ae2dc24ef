import path from "node:path";
import { z } from "zod";
import { ExecutorError } from "../errors.js";
import type { Finding, Priority, ReviewOutcome } from "../types.js";

/**
 * The shape of a review/audit agent's final message: the Codex review rubric's output (title with
 * "[Pn]" tag, priority, confidence, code location, verdict) plus our `anchor_code` and `suggestion`.
 * The same schema is sent to the model as its strict structured-output format (`reviewJsonSchema`)
 * and used to validate what comes back: codex itself does not check the answer against it.
 *
 * Parsing is lenient where the model cannot hurt us (unknown keys are dropped, long titles are
 * shortened) and strict where a wrong value would mislead (types, ranges, the verdict enum).
 */

export const MAX_TITLE_LENGTH = 120;
const MAX_ISSUES_SHOWN = 3;

const lineNumber = z.int().min(1);

const findingSchema = z
  .object({
    title: z
      .string()
      .describe(`Short imperative title, at most ${MAX_TITLE_LENGTH} characters, optionally tagged like "[P1] ".`),
    body: z.string().describe("Markdown explaining why this is a problem; cite files, lines and functions."),
    priority: z.int().min(0).max(3).describe("0 = P0 (blocking) … 3 = P3 (nice to have)."),
    confidence_score: z.number().min(0).max(1).describe("How sure you are that this is a real problem, 0.0-1.0."),
    code_location: z
      .object({
        file_path: z.string().describe("Repository-relative path of the file (an absolute path inside the repository is accepted)."),
        line_range: z
          .object({
            start: lineNumber.describe("First line, 1-based, on the new (head) side."),
            end: lineNumber.describe("Last line, inclusive."),
          })
          .describe("As short as possible; it should overlap the changed lines."),
      })
      .describe("Where the problem is."),
    anchor_code: z.string().describe("The exact current code of those lines, copied verbatim."),
    suggestion: z
      .string()
      .nullable()
      .describe("Replacement code for exactly those lines (no fences, same indentation), or null when none is offered."),
  })
  .describe("One problem introduced by the change.");

export const reviewOutputSchema = z.object({
  findings: z.array(findingSchema).describe("Problems found; empty when there are none."),
  overall_correctness: z.enum(["patch is correct", "patch is incorrect"]),
  overall_explanation: z.string().describe("One to three sentences justifying the verdict."),
  overall_confidence_score: z.number().min(0).max(1),
  fixed_findings: z
    .array(z.string())
    .describe("Ids of the earlier findings listed in the prompt as still open that the new commits fixed; empty when none were listed or none is fixed."),
});

/**
 * What is accepted back: the same, except that `fixed_findings` may be missing (an agent or a model
 * that was given an older schema, a review without earlier findings): it reads as "none fixed".
 * The wire schema above requires it only because strict structured outputs require every key.
 */
const parsedOutputSchema = reviewOutputSchema.extend({ fixed_findings: z.array(z.string()).default([]) });

export type ReviewOutput = z.infer<typeof parsedOutputSchema>;

type JsonObject = { [key: string]: JsonValue };
type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** Keywords OpenAI strict mode rejects or that carry no meaning for the model. */
const DROPPED_KEYWORDS = new Set(["$schema", "default", "minLength", "maxLength", "pattern", "format"]);

/**
 * JSON Schema for `codex exec --output-schema`, valid under OpenAI strict structured outputs: every
 * object closed and with all its properties required, optional values expressed as nullable types.
 * Throws if a future edit of the zod schema breaks those rules, so it cannot reach the provider.
 * `validated`: for an agent that validates its own answer (claude), the later keys are optional.
 */
export function reviewJsonSchema(options: { validated?: boolean } = {}): JsonObject {
  const generated = z.toJSONSchema(reviewOutputSchema, { target: "draft-2020-12" }) as JsonObject;
  const schema = clean(generated) as JsonObject;
  assertStrict(schema, "$");
  if (options.validated) {
    // An agent that checks its answer against the schema itself (claude --json-schema) must still
    // accept a review without the keys added later: they are optional there, as in parseReviewOutput.
    schema.required = (schema.required as string[]).filter((key) => !LATER_KEYS.includes(key));
  }
  return schema;
}

/** Top-level keys added after the first version of the format; a review without them is still valid. */
const LATER_KEYS: readonly string[] = ["fixed_findings"];

function clean(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(clean);
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    // z.int() adds the safe-integer bounds; they say nothing useful and only bloat the schema.
    if ((key === "maximum" && child === Number.MAX_SAFE_INTEGER) || (key === "minimum" && child === Number.MIN_SAFE_INTEGER)) {
      continue;
    }
    out[key] = clean(child);
  }
  return out;
}

function assertStrict(node: JsonValue, where: string): void {
  if (Array.isArray(node)) {
    node.forEach((child, i) => assertStrict(child, `${where}[${i}]`));
    return;
  }
  if (node === null || typeof node !== "object") return;
  const type = node.type;
  const isObject = type === "object" || (Array.isArray(type) && type.includes("object"));
  if (isObject) {
    const props = Object.keys((node.properties as JsonObject | undefined) ?? {});
    const required = (node.required as string[] | undefined) ?? [];
    if (node.additionalProperties !== false) throw new Error(`review schema: ${where} must set additionalProperties: false`);
    const missing = props.filter((p) => !required.includes(p));
    if (missing.length > 0) throw new Error(`review schema: ${where} must require ${missing.join(", ")}`);
  }
  for (const [key, child] of Object.entries(node)) assertStrict(child, `${where}.${key}`);
}

export interface ParsedReview {
  review: ReviewOutcome;
  dropped: { title: string; reason: string }[];
}

/**
 * Parses and validates an agent's final message and turns it into domain findings with
 * repository-relative paths. Findings whose path cannot be trusted are dropped with a reason.
 */
export function parseReviewOutput(text: string, worktree: string): ParsedReview {
  const json = parseJson(text);
  const result = parsedOutputSchema.safeParse(json);
  if (!result.success) {
    const shown = result.error.issues.slice(0, MAX_ISSUES_SHOWN);
    const more = result.error.issues.length - shown.length;
    const issues = z.prettifyError(new z.ZodError(shown)) + (more > 0 ? `\n(and ${more} more)` : "");
    throw new ExecutorError(
      `the agent's final message did not match the review format:\n${issues}`,
      "invalid-output",
      text.slice(0, 2000),
    );
  }
  const output = result.data;
  const findings: Finding[] = [];
  const dropped: ParsedReview["dropped"] = [];
  for (const raw of output.findings) {
    const title = cleanTitle(raw.title, raw.body);
    const location = normalisePath(raw.code_location.file_path, worktree);
    if ("reason" in location) {
      dropped.push({ title, reason: location.reason });
      continue;
    }
    const { start, end } = raw.code_location.line_range;
    findings.push({
      title,
      body: raw.body,
      priority: raw.priority as Priority,
      confidence: raw.confidence_score,
      path: location.path,
      startLine: Math.min(start, end),
      endLine: Math.max(start, end),
      anchor: raw.anchor_code,
      suggestion: raw.suggestion,
    });
  }
  return {
    review: {
      findings,
      verdict: output.overall_correctness,
      explanation: output.overall_explanation,
      confidence: output.overall_confidence_score,
      ...(output.fixed_findings.length > 0 ? { fixed: [...new Set(output.fixed_findings.map((id) => id.trim()).filter((id) => id.length > 0))] } : {}),
    },
    dropped,
  };
}

function parseJson(text: string): unknown {
  const trimmed = text.trim();
  // Models sometimes wrap the object in a Markdown fence despite being told not to.
  const fenced = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/.exec(trimmed);
  const candidate = fenced ? fenced[1]! : trimmed;
  try {
    return JSON.parse(candidate);
  } catch {
    const preview = trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
    throw new ExecutorError(
      trimmed.length === 0
        ? "the agent's final message was empty"
        : `the agent's final message was not JSON: ${preview}`,
      "invalid-output",
      text.slice(0, 2000),
    );
  }
}

/** Strips the rubric's "[P1] " tag (the priority field carries it) and bounds the length. */
function cleanTitle(title: string, body: string): string {
  let clean = title.replace(/^\s*\[P[0-3]\]\s*/i, "").trim();
  if (clean.length === 0) clean = body.trim().split("\n")[0]?.trim() || "Untitled finding";
  return clean.length > MAX_TITLE_LENGTH ? `${clean.slice(0, MAX_TITLE_LENGTH - 1)}…` : clean;
}

/**
 * Makes an agent-reported path repository-relative with string logic only (no realpath: the
 * worktree path is ours and the file may not exist). Anything that escapes the worktree is refused.
 */
export function normalisePath(filePath: string, worktree: string): { path: string } | { reason: string } {
  const raw = filePath.trim().replace(/\\/g, "/");
  if (raw.length === 0) return { reason: "the finding has no file path" };
  if (raw.includes("\0")) return { reason: "the file path contains a NUL byte" };
  let relative: string;
  if (raw.startsWith("/")) {
    const root = path.posix.normalize(worktree.replace(/\\/g, "/"));
    relative = path.posix.relative(root, path.posix.normalize(raw));
    if (relative === "" || relative === ".." || relative.startsWith("../") || path.posix.isAbsolute(relative)) {
      return { reason: `the file path ${filePath} is outside the repository` };
    }
  } else {
    relative = path.posix.normalize(raw.replace(/^\.\/+/, ""));
    if (relative === "." || relative === "") return { reason: `the file path ${filePath} is not a file` };
    if (relative === ".." || relative.startsWith("../")) {
      return { reason: `the file path ${filePath} is outside the repository` };
    }
  }
  relative = relative.replace(/\/+$/, "");
  if (relative === ".git" || relative.startsWith(".git/")) return { reason: `the file path ${filePath} is inside .git` };
  return { path: relative };
}
