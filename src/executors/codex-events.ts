import type { CommandRun, Progress, Usage } from "../types.js";
import { ConnectionWatch, type ConnectionOptions } from "./connection.js";
import { isRecord, readEventLine, truncate } from "./stream.js";
import { addUsage, EMPTY_USAGE } from "./usage.js";

/**
 * Reads the JSONL stream of `codex exec --json` (0.169.0, shared/research/codex.md §1) one line at a
 * time and keeps what the executor and the progress report need. Tolerant by design: the event format
 * moves between codex versions, so unknown event and item types are ignored and malformed lines only
 * produce a warning.
 */

const MAX_WARNINGS = 50;
const MAX_NOTE_LENGTH = 200;

const RATE_LIMIT = /\b429\b|rate[ _-]?limit|usage limit|too many requests|quota/i;

/** True when a provider message means "slow down / out of quota" rather than a broken request. */
export function isRateLimitMessage(message: string): boolean {
  return RATE_LIMIT.test(message);
}

/**
 * Provider errors often arrive as a raw JSON body (`{"error":{"message":"…"}}`); this returns the
 * human part when there is one, the text unchanged otherwise.
 */
export function readableProviderMessage(message: string): string {
  const trimmed = message.trim();
  if (!trimmed.startsWith("{")) return trimmed;
  try {
    const parsed = JSON.parse(trimmed) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
    if (typeof parsed.error?.message === "string") return parsed.error.message;
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // Not JSON after all.
  }
  return trimmed;
}

export class CodexEventState {
  threadId: string | null = null;
  turnCompleted = false;
  /** Message of the `turn.failed` event, when one arrived. */
  turnFailed: string | null = null;
  /** Message of the last top-level `error` event ("Reconnecting…" retries included). */
  lastError: string | null = null;
  usage: Usage = { ...EMPTY_USAGE };
  lastAgentMessage: string | null = null;
  readonly warnings: string[] = [];
  /** Set whenever the progress snapshot changed; the caller clears it after reporting. */
  changed = false;

  /** Codex's retries of the model API: a notice on each, and when to give up (connection.ts). */
  readonly connection: ConnectionWatch;

  private readonly commandsById = new Map<string, CommandRun>();
  private plan: Progress["plan"] = [];
  private lastNote: string | null = null;
  private notice: string | null = null;
  private malformed = 0;

  constructor(connection: ConnectionOptions = { modelApi: "the model provider" }) {
    this.connection = new ConnectionWatch(connection);
  }

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
    this.handle(event);
  }

  /** Lines that were not JSON. */
  get malformedLines(): number {
    return this.malformed;
  }

  /** Every command seen, in the order it started, in its latest state. */
  get commands(): CommandRun[] {
    return [...this.commandsById.values()].map((c) => ({ ...c }));
  }

  /** True when the failure (turn.failed or the last error) looks like a rate or usage limit. */
  get rateLimited(): boolean {
    const message = this.turnFailed ?? this.lastError;
    return message !== null && isRateLimitMessage(message);
  }

  progress(): Progress {
    const commands = [...this.commandsById.values()];
    const running = commands.filter((c) => c.status === "in_progress");
    return {
      plan: this.plan.map((p) => ({ ...p })),
      currentCommand: running.length > 0 ? running[running.length - 1]!.command : null,
      commandsCompleted: commands.filter((c) => c.status !== "in_progress").length,
      lastNote: this.lastNote,
      ...(this.notice !== null ? { notice: this.notice } : {}),
    };
  }

  private handle(event: Record<string, unknown>): void {
    switch (event.type) {
      case "thread.started":
        if (typeof event.thread_id === "string") this.threadId = event.thread_id;
        return;
      case "turn.completed":
        this.turnCompleted = true;
        this.usage = addUsage(this.usage, readCodexUsage(event.usage));
        return;
      case "turn.failed": {
        const error = isRecord(event.error) ? event.error : {};
        this.turnFailed = typeof error.message === "string" ? error.message : "the turn failed without a message";
        return;
      }
      case "error":
        // Not fatal by itself: "Reconnecting... 1/5" retries arrive this way. turn.failed decides,
        // or the connection watch once codex has retried long enough.
        if (typeof event.message === "string") {
          this.lastError = event.message;
          this.warn(event.message);
          const notice = this.connection.push(event.message);
          if (notice !== null) {
            this.notice = notice;
            this.lastNote = notice; // shown where notes are (check run, progress line)
            this.changed = true;
          }
        }
        return;
      case "item.started":
      case "item.updated":
      case "item.completed":
        if (isRecord(event.item)) this.handleItem(event.item, event.type === "item.completed");
        return;
      default:
        return; // Unknown event types are expected across versions.
    }
  }

  private handleItem(item: Record<string, unknown>, completed: boolean): void {
    if (this.notice !== null) this.notice = null; // the model answers again: the trouble is over
    const id = typeof item.id === "string" ? item.id : "";
    switch (item.type) {
      case "command_execution": {
        const command = typeof item.command === "string" ? item.command : "";
        const exitCode = typeof item.exit_code === "number" ? item.exit_code : null;
        const status = readCommandStatus(item.status, completed, exitCode);
        const key = id || `anonymous-${this.commandsById.size}`;
        const previous = this.commandsById.get(key);
        if (previous && previous.status === status && previous.exitCode === exitCode && previous.command === command) return;
        this.commandsById.set(key, { command, exitCode, status });
        this.changed = true;
        return;
      }
      case "todo_list": {
        if (!Array.isArray(item.items)) return;
        const plan = item.items.filter(isRecord).map((entry) => ({
          text: typeof entry.text === "string" ? entry.text : "",
          completed: entry.completed === true,
        }));
        if (JSON.stringify(plan) === JSON.stringify(this.plan)) return;
        this.plan = plan;
        this.changed = true;
        return;
      }
      case "agent_message":
        if (typeof item.text === "string") {
          if (completed) this.lastAgentMessage = item.text;
          // A structured final answer (the review JSON) makes a poor status line.
          if (!item.text.trimStart().startsWith("{")) this.setNote(item.text);
        }
        return;
      case "reasoning":
        if (typeof item.text === "string") this.setNote(item.text);
        return;
      case "error":
        if (completed && typeof item.message === "string") this.warn(item.message);
        return;
      default:
        return; // file_change, mcp_tool_call, web_search, …: not needed for a run result.
    }
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

function readCommandStatus(status: unknown, completed: boolean, exitCode: number | null): CommandRun["status"] {
  if (status === "in_progress" || status === "completed" || status === "failed" || status === "declined") return status;
  if (!completed) return "in_progress";
  return exitCode === 0 ? "completed" : "failed";
}

/** Codex's usage object (turn.completed `usage`, a rollout's `total_token_usage`); missing fields count as 0. */
export function readCodexUsage(value: unknown): Usage {
  const usage = isRecord(value) ? value : {};
  const n = (key: string): number => {
    const v = usage[key];
    return typeof v === "number" && Number.isFinite(v) ? v : 0;
  };
  return {
    inputTokens: n("input_tokens"),
    cachedInputTokens: n("cached_input_tokens"),
    outputTokens: n("output_tokens"),
    reasoningOutputTokens: n("reasoning_output_tokens"),
  };
}

/** First non-empty line without Markdown emphasis, shortened: reasoning summaries start with "**Title**". */
function firstLine(text: string): string | null {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  if (line === undefined) return null;
  return truncate(line.replace(/^\*\*(.+)\*\*$/, "$1"), MAX_NOTE_LENGTH);
}
