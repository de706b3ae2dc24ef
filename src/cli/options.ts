import { severitySchema, type ExecutorName, type Severity } from "../config/schema.js";
import { agentNames, EXECUTOR_CHOICES, type ExecutorChoice } from "../local/pick-agents.js";
import { UsageError } from "./io.js";

/** Option checks shared by the commands that review (`review`, `action`), with the same messages. */

export function severityOption(value: string | undefined, flag: string): Severity | null {
  if (value === undefined) return null;
  const parsed = severitySchema.safeParse(value.toUpperCase());
  if (!parsed.success) throw new UsageError(`${flag} must be one of P0, P1, P2, P3 (got "${value}")`);
  return parsed.data;
}

export function reviewModeOption(mode: string): "review" | "audit" {
  if (mode !== "review" && mode !== "audit") throw new UsageError(`--mode must be review or audit (got "${mode}")`);
  return mode;
}

/** --executor codex|claude|both; --model names one agent's model, so it can't go with both. */
export function agentsOption(executor: string, model: string | undefined, modelHint: string): ExecutorName[] {
  const choice = executor as ExecutorChoice;
  if (!EXECUTOR_CHOICES.includes(choice)) throw new UsageError(`--executor must be codex, claude or both (got "${executor}")`);
  const agents = agentNames(choice);
  if (agents.length > 1 && model !== undefined) {
    throw new UsageError(`--model names one agent's model: with --executor both, ${modelHint}`);
  }
  return agents;
}
