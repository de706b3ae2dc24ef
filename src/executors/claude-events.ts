import type { CommandRun, Progress, Usage } from "../types.js";
import { isRecord, readEventLine, truncate } from "./stream.js";
import { sumUsage } from "./usage.js";

/**
 * Reads the NDJSON stream of `claude -p --output-format stream-json --verbose` (pinned 2.1.197,
 * shared/research/claude.md §1.3-1.4) one line at a time and keeps what the executor and the progress
 * report need. Tolerant by design: the CLI adds message types and fields in nearly every release, so
 * unknown types are ignored and malformed lines only produce a warning.
 *
 * Messages used:
 * - `system/init`: the tools and permission mode the CLI really runs with;
 * - `assistant`: one line per content block (text, thinking, tool_use), grouped by `message.id`;
 * - `user`: tool results (`tool_result` blocks, plus `tool_use_result` with the tool's structured output);
 * - `system/api_retry`: the CLI retrying a failed API call (status and error kind);
 * - `result`: the last protocol line (subtype, is_error, result, structured_output, usage, cost).
 */

const MAX_WARNINGS = 50;
const MAX_NOTE_LENGTH = 200;
const MAX_COMMAND_LENGTH = 300;

/** Provider messages that mean "slow down / out of quota / overloaded" rather than a broken request. */
const RATE_LIMIT = /\b(429|529)\b|rate[ _-]?limit|usage limit|too many requests|overloaded|quota|hit your (?:\w+ )?limit|limit reached/i;
/** The `error` values of a synthetic assistant message that mean the same ([SDKDTS] SDKAssistantMessage.error). */
const RATE_LIMIT_ERRORS = new Set(["rate_limit", "overloaded", "usage_limit"]);

export function isRateLimitMessage(message: string): boolean {
  return RATE_LIMIT.test(message);
}

/** How the CLI words a tool call its permission rules refused (dontAsk denial, deny rule on a path). */
const DENIED = /^(<tool_use_error>)?\s*(Permission to use \S+[\s\S]{0,4000}?has been denied|[^\n]*denied by your permission settings)/i;

/** Tools that plan or answer rather than act: they are not listed as commands. */
const PLAN_TOOLS = new Set(["TodoWrite", "TaskCreate", "TaskUpdate", "TaskGet", "TaskList", "StructuredOutput"]);

/** The `system/init` line: what the CLI actually enabled. */
export interface ClaudeInit {
  tools: string[];
  permissionMode: string | null;
  model: string | null;
  version: string | null;
  mcpServers: string[];
  apiKeySource: string | null;
}

/** The `result` line, with the fields the executor relies on. */
export interface ClaudeResult {
  subtype: string;
  isError: boolean;
  /** The final text; for structured output, the JSON as a string. */
  result: string | null;
  /** Present (possibly null) only when the run had --json-schema and the model answered through it. */
  structuredOutput: unknown;
  hasStructuredOutput: boolean;
  apiErrorStatus: number | null;
  /** Messages of error subtypes (`error_max_turns`, …). */
  errors: string[];
  numTurns: number | null;
  totalCostUsd: number | null;
  terminalReason: string | null;
  permissionDenials: { toolName: string; toolUseId: string | null; input: unknown }[];
}

interface ToolCall {
  name: string;
  input: Record<string, unknown>;
  run: CommandRun | null;
}

export class ClaudeEventState {
  init: ClaudeInit | null = null;
  result: ClaudeResult | null = null;
  /** The last assistant text block of the main agent. */
  lastAssistantText: string | null = null;
  /** `error` of the last synthetic assistant message (rate_limit, server_error, authentication_failed, …). */
  assistantError: string | null = null;
  /** The last `system/api_retry` seen. */
  lastRetry: { attempt: number; status: number | null; error: string | null } | null = null;
  readonly warnings: string[] = [];
  /** Set whenever the progress snapshot changed; the caller clears it after reporting. */
  changed = false;

  private readonly calls = new Map<string, ToolCall>();
  private readonly runs: CommandRun[] = [];
  /** Usage per API message id, from the assistant lines (a fallback when no result line arrives). */
  private readonly messageUsage = new Map<string, Usage>();
  private todoPlan: Progress["plan"] = [];
  private readonly tasks = new Map<string, { text: string; completed: boolean }>();
  private lastNote: string | null = null;
  private malformed = 0;
  private resultUsage: Usage | null = null;
  private resultCost: number | null = null;

  /** Feeds one stdout line. Never throws. */
  push(line: string): void {
    const read = readEventLine(line);
    if (read.kind === "blank") return;
    if (read.kind === "ignored") {
      if (read.malformed) this.malformed += 1;
      this.warn(read.warning);
      return;
    }
    const { event } = read;
    try {
      this.handle(event);
    } catch (err) {
      this.warn(`could not read a ${event.type} event: ${String(err)}`);
    }
  }

  get malformedLines(): number {
    return this.malformed;
  }

  /** Every tool call that acts (Bash, Read, Edit, …), in the order it started, in its latest state. */
  get commands(): CommandRun[] {
    return this.runs.map((c) => ({ ...c }));
  }

  /**
   * Tokens of the run. From the result's `modelUsage` (every model, sub-agents and auxiliary calls
   * included), else its `usage`, else the sum of the assistant messages seen (a lower bound: those
   * carry the usage from message_start). Anthropic reports cache reads and writes apart from
   * `input_tokens`; here `inputTokens` includes both, so `cachedInputTokens` is a part of it, as
   * for Codex. Claude reports no separate reasoning (thinking) count: it is inside output.
   */
  get usage(): Usage {
    return this.resultUsage ?? sumUsage([...this.messageUsage.values()]);
  }

  /** `total_cost_usd` of the result, else the sum of `modelUsage[*].costUSD`; null without a result. */
  get costUsd(): number | null {
    return this.resultCost;
  }

  /** True when the failure looks like a rate, usage or capacity limit. */
  get rateLimited(): boolean {
    const status = this.result?.apiErrorStatus ?? null;
    if (status === 429 || status === 529) return true;
    if (this.assistantError !== null && RATE_LIMIT_ERRORS.has(this.assistantError)) return true;
    const text = this.result?.isError ? [this.result.result ?? "", ...this.result.errors].join("\n") : "";
    return text.length > 0 && isRateLimitMessage(text);
  }

  progress(): Progress {
    const running = this.runs.filter((c) => c.status === "in_progress");
    const plan = this.tasks.size > 0 ? [...this.todoPlan, ...this.tasks.values()] : this.todoPlan;
    return {
      plan: plan.map((p) => ({ ...p })),
      currentCommand: running.length > 0 ? running[running.length - 1]!.command : null,
      commandsCompleted: this.runs.filter((c) => c.status !== "in_progress").length,
      lastNote: this.lastNote,
    };
  }

  private handle(event: Record<string, unknown>): void {
    switch (event.type) {
      case "system":
        if (event.subtype === "init") this.handleInit(event);
        else if (event.subtype === "api_retry") this.handleRetry(event);
        return;
      case "assistant":
        this.handleAssistant(event);
        return;
      case "user":
        this.handleUser(event);
        return;
      case "result":
        this.handleResult(event);
        return;
      default:
        return; // stream_event, tool_progress, hook and task messages, …: not needed for a result.
    }
  }

  private handleInit(event: Record<string, unknown>): void {
    this.init = {
      tools: stringArray(event.tools),
      permissionMode: str(event.permissionMode),
      model: str(event.model),
      version: str(event.claude_code_version),
      mcpServers: Array.isArray(event.mcp_servers)
        ? event.mcp_servers.filter(isRecord).map((s) => str(s.name) ?? "?")
        : [],
      apiKeySource: str(event.apiKeySource),
    };
  }

  private handleRetry(event: Record<string, unknown>): void {
    const attempt = num(event.attempt) ?? 0;
    const status = num(event.error_status);
    const error = str(event.error);
    this.lastRetry = { attempt, status, error };
    const max = num(event.max_retries);
    this.warn(`the API call failed${status !== null ? ` with HTTP ${status}` : ""}${error ? ` (${error})` : ""}; retry ${attempt}${max !== null ? ` of ${max}` : ""}`);
    this.setNote(`Retrying the model API (attempt ${attempt})`);
  }

  private handleAssistant(event: Record<string, unknown>): void {
    const message = isRecord(event.message) ? event.message : {};
    const subAgent = event.parent_tool_use_id !== null && event.parent_tool_use_id !== undefined;
    if (typeof event.error === "string") this.assistantError = event.error;
    const id = str(message.id);
    if (id !== null && message.model !== "<synthetic>") this.messageUsage.set(id, readMessageUsage(message.usage));
    const content = Array.isArray(message.content) ? message.content.filter(isRecord) : [];
    for (const block of content) {
      if (block.type === "text" && typeof block.text === "string") {
        if (!subAgent && message.model !== "<synthetic>") this.lastAssistantText = block.text;
        if (!block.text.trimStart().startsWith("{")) this.setNote(block.text);
      } else if (block.type === "thinking" && typeof block.thinking === "string") {
        this.setNote(block.thinking);
      } else if (block.type === "tool_use") {
        this.startTool(str(block.id), str(block.name) ?? "tool", isRecord(block.input) ? block.input : {});
      }
    }
  }

  private startTool(id: string | null, name: string, input: Record<string, unknown>): void {
    const key = id ?? `anonymous-${this.calls.size}`;
    if (this.calls.has(key)) return;
    let run: CommandRun | null = null;
    if (!PLAN_TOOLS.has(name)) {
      run = { command: describeToolUse(name, input), exitCode: null, status: "in_progress" };
      this.runs.push(run);
      this.changed = true;
    }
    this.calls.set(key, { name, input, run });
    if (name === "TodoWrite" && Array.isArray(input.todos)) {
      this.todoPlan = input.todos.filter(isRecord).map((t) => ({
        text: str(t.content) ?? "",
        completed: t.status === "completed",
      }));
      this.changed = true;
    }
    if (name === "TaskUpdate") {
      const task = this.tasks.get(str(input.taskId) ?? "");
      if (task) {
        if (input.status === "deleted") this.tasks.delete(str(input.taskId) ?? "");
        else if (typeof input.status === "string") task.completed = input.status === "completed";
        if (typeof input.subject === "string") task.text = input.subject;
        this.changed = true;
      }
    }
  }

  private handleUser(event: Record<string, unknown>): void {
    const message = isRecord(event.message) ? event.message : {};
    const content = Array.isArray(message.content) ? message.content.filter(isRecord) : [];
    const structured = event.tool_use_result;
    for (const block of content) {
      if (block.type !== "tool_result") continue;
      const call = this.calls.get(str(block.tool_use_id) ?? "");
      if (!call) continue;
      const isError = block.is_error === true;
      const text = contentText(block.content);
      if (call.name === "TaskCreate" && !isError) {
        const task = isRecord(structured) && isRecord(structured.task) ? structured.task : null;
        const taskId = str(task?.id) ?? String(this.tasks.size + 1);
        this.tasks.set(taskId, { text: str(task?.subject) ?? str(call.input.subject) ?? "", completed: false });
        this.changed = true;
      }
      if (call.run === null || call.run.status !== "in_progress") continue;
      if (isError && DENIED.test(text)) {
        call.run.status = "declined";
      } else if (isError) {
        call.run.status = "failed";
        const code = /^Exit code (\d+)/.exec(text);
        if (code) call.run.exitCode = Number(code[1]);
      } else {
        call.run.status = "completed";
        if (call.name === "Bash") call.run.exitCode = 0;
      }
      this.changed = true;
    }
  }

  private handleResult(event: Record<string, unknown>): void {
    const denials = Array.isArray(event.permission_denials) ? event.permission_denials.filter(isRecord) : [];
    this.result = {
      subtype: str(event.subtype) ?? "unknown",
      isError: event.is_error === true,
      result: typeof event.result === "string" ? event.result : null,
      structuredOutput: event.structured_output,
      hasStructuredOutput: "structured_output" in event,
      apiErrorStatus: num(event.api_error_status),
      errors: stringArray(event.errors),
      numTurns: num(event.num_turns),
      totalCostUsd: num(event.total_cost_usd),
      terminalReason: str(event.terminal_reason),
      permissionDenials: denials.map((d) => ({ toolName: str(d.tool_name) ?? "?", toolUseId: str(d.tool_use_id), input: d.tool_input })),
    };
    for (const denial of this.result.permissionDenials) {
      this.warn(`claude was denied ${denial.toolName}: ${truncate(JSON.stringify(denial.input ?? {}), 200)}`);
    }
    const modelUsage = isRecord(event.modelUsage) ? Object.values(event.modelUsage).filter(isRecord) : [];
    if (modelUsage.length > 0) {
      this.resultUsage = sumUsage(modelUsage.map(readModelUsage));
    } else if (isRecord(event.usage)) {
      this.resultUsage = readMessageUsage(event.usage);
    }
    const modelCosts = modelUsage.map((m) => num(m.costUSD)).filter((c): c is number => c !== null);
    this.resultCost = this.result.totalCostUsd ?? (modelCosts.length > 0 ? modelCosts.reduce((a, b) => a + b, 0) : null);
    this.changed = true;
  }

  private setNote(text: string): void {
    const note = firstLine(text);
    if (note === null || note === this.lastNote) return;
    this.lastNote = note;
    this.changed = true;
  }

  private warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
  }
}

/** A one-line description of a tool call for the progress report: the command for Bash, "Read path" otherwise. */
export function describeToolUse(name: string, input: Record<string, unknown>): string {
  const pick = (...keys: string[]): string | null => {
    for (const key of keys) {
      const value = input[key];
      if (typeof value === "string" && value.length > 0) return value;
    }
    return null;
  };
  let text: string;
  if (name === "Bash") text = pick("command") ?? "Bash";
  else {
    const detail = pick("file_path", "notebook_path", "path", "pattern", "url", "query");
    text = detail === null ? name : `${name} ${detail}`;
  }
  return truncate(text.replace(/\s*\n\s*/g, " ").trim(), MAX_COMMAND_LENGTH);
}

function readMessageUsage(value: unknown): Usage {
  const u = isRecord(value) ? value : {};
  const input = num(u.input_tokens) ?? 0;
  const cacheRead = num(u.cache_read_input_tokens) ?? 0;
  const cacheWrite = num(u.cache_creation_input_tokens) ?? 0;
  return {
    inputTokens: input + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    outputTokens: num(u.output_tokens) ?? 0,
    reasoningOutputTokens: 0,
  };
}

function readModelUsage(u: Record<string, unknown>): Usage {
  const input = num(u.inputTokens) ?? 0;
  const cacheRead = num(u.cacheReadInputTokens) ?? 0;
  const cacheWrite = num(u.cacheCreationInputTokens) ?? 0;
  return {
    inputTokens: input + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    outputTokens: num(u.outputTokens) ?? 0,
    reasoningOutputTokens: 0,
  };
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .filter(isRecord)
      .map((c) => (typeof c.text === "string" ? c.text : ""))
      .join("\n");
  }
  return "";
}

/** First non-empty line without Markdown emphasis, shortened. */
function firstLine(text: string): string | null {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  if (line === undefined) return null;
  return truncate(line.replace(/^\*\*(.+)\*\*$/, "$1"), MAX_NOTE_LENGTH);
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
