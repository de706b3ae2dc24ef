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
