import type { Jail } from "../jail/jail.js";
import type { RunAs } from "../security/agent-user.js";
import type { Mode } from "../types.js";
import type { ExecResult } from "../util/exec.js";
import type { AgentRunRequest } from "./types.js";

/** Modes whose agent only reads the worktree; fix/tests edit it. */
export const READ_ONLY_MODES: ReadonlySet<Mode> = new Set(["review", "audit", "ask"]);

/**
 * One agent CLI run in the run's jail, the same for every executor: the worktree writable only in
 * fix/tests, the model API reachable, the prompt on stdin.
 */
export function runAgentInJail(
  jail: Jail,
  run: {
    bin: string;
    args: string[];
    req: AgentRunRequest;
    home: string;
    homesRoot: string;
    runAs: RunAs | null;
    env: Record<string, string>;
    signal?: AbortSignal;
    onStdoutLine: (line: string) => void;
  },
): Promise<ExecResult> {
  return jail.run({
    file: run.bin,
    args: run.args,
    worktree: run.req.worktree,
    writable: !READ_ONLY_MODES.has(run.req.mode),
    home: run.home,
    homesRoot: run.homesRoot,
    network: true,
    runAs: run.runAs,
    env: run.env,
    input: run.req.prompt,
    timeoutMs: run.req.timeoutMs,
    ...(run.signal ? { signal: run.signal } : {}),
    onStdoutLine: run.onStdoutLine,
  });
}
