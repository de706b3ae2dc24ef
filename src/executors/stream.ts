import type { Progress } from "../types.js";
import type { AgentRunRequest } from "./types.js";

/** What an executor's event parser offers the stream: the parsed state and whether it changed. */
export interface EventState {
  push(line: string): void;
  changed: boolean;
  progress(): Progress;
}

/**
 * The stdout-line handler every executor uses: feed the parser, pass the raw line on for the run
 * log, and report progress only when it changed. A failing progress report (for example a check-run
 * update) is recorded in `errors`, never allowed to fail the run.
 */
export function eventLineHandler(
  state: EventState,
  req: Pick<AgentRunRequest, "onEvent" | "onProgress">,
  errors: string[],
): (line: string) => void {
  return (line) => {
    state.push(line);
    req.onEvent?.(line);
    if (!state.changed) return;
    state.changed = false;
    try {
      req.onProgress?.(state.progress());
    } catch (err) {
      if (errors.length < 3) errors.push(`progress callback failed: ${String(err)}`);
    }
  };
}

export type TypedEvent = Record<string, unknown> & { type: string };

/** One stdout line of a CLI's JSONL stream, read tolerantly: blank, an event, or why it was ignored. */
export type EventLine =
  | { kind: "blank" }
  | { kind: "event"; event: TypedEvent }
  | { kind: "ignored"; warning: string; malformed: boolean };

export function readEventLine(line: string): EventLine {
  const trimmed = line.trim();
  if (trimmed.length === 0) return { kind: "blank" };
  let event: unknown;
  try {
    event = JSON.parse(trimmed);
  } catch {
    return { kind: "ignored", warning: `ignored a line that is not JSON: ${truncate(trimmed, 120)}`, malformed: true };
  }
  if (!isRecord(event) || typeof event.type !== "string") {
    return { kind: "ignored", warning: `ignored an event without a type: ${truncate(trimmed, 120)}`, malformed: false };
  }
  return { kind: "event", event: event as TypedEvent };
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
