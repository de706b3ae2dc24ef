import type { Mode } from "../types.js";

/**
 * What each front door offers, in one table: every mode × executor choice either runs through the
 * engine's one pipeline for its kind of work, or is refused with the reason below, which the door
 * itself shows (test/integration/parity.test.ts holds every door to it).
 */

export const DOORS = ["app", "cli", "action", "mcp"] as const;
export type Door = (typeof DOORS)[number];

export const WORK_MODES = ["review", "audit", "ask", "fix", "tests"] as const satisfies readonly Mode[];
export type WorkMode = (typeof WORK_MODES)[number];

export const EXECUTOR_CHOICES = ["codex", "claude", "both"] as const;
export type ExecutorChoice = (typeof EXECUTOR_CHOICES)[number];

/** The engine pipeline a mode runs through. */
export function pipelineOf(mode: WorkMode): "review" | "fix" | "ask" {
  return mode === "review" || mode === "audit" ? "review" : mode === "ask" ? "ask" : "fix";
}

/** A fix is one agent's change where nothing can hold the runner-up (a patch, not a second branch). */
export function bothFixRefusal(flag: string): string {
  return `${flag} both is for reviews: a fix is one agent's change (pick codex or claude)`;
}

export const ACTION_FIX_REFUSAL =
  "the Action reviews only: it does not open fix pull requests (a workflow on a fork's pull request gets a read-only token); comment `@codex fix` or `@codex tests` on the pull request with the app installed";
export const ACTION_ASK_REFUSAL = "the Action reviews only: comment `@codex ask <question>` on the pull request with the app installed";
export const LOCAL_ASK_REFUSAL =
  "ask is for pull requests: comment `@codex ask <question>` on one with the app installed; about a local checkout, ask your coding agent directly";

/** Why `door` does not run `mode` with `choice`, or null when it runs it through the engine. */
export function refusal(door: Door, mode: WorkMode, choice: ExecutorChoice): string | null {
  const kind = pipelineOf(mode);
  switch (door) {
    case "app":
      // Commands name one agent; two come from the repository's routing (automatic runs, dispatches).
      return null;
    case "action":
      if (kind === "fix") return ACTION_FIX_REFUSAL;
      if (kind === "ask") return ACTION_ASK_REFUSAL;
      return null;
    case "cli":
    case "mcp":
      if (kind === "ask") return LOCAL_ASK_REFUSAL;
      if (kind === "fix" && choice === "both") return bothFixRefusal(door === "cli" ? "--executor" : "executor");
      return null;
  }
}
