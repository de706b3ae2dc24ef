import { agentLabel } from "../fix/body.js";
import type { ExecutorName, RepoConfig } from "../config/schema.js";
import { ExecutorError } from "../errors.js";
import { ClaudeExecutor } from "../executors/claude.js";
import { CodexExecutor } from "../executors/codex.js";
import { CODEX_CREDENTIALS_HINT, codexCredentialSource } from "../executors/codex-credentials.js";
import { effectiveTokenCeiling } from "../executors/token-ceiling.js";
import type { ReasoningEffort } from "../executors/types.js";
import type { AgentSpec, AgentWording } from "../engine/agents.js";
import { EXECUTOR_CHOICES, type ExecutorChoice } from "../engine/doors.js";
import { CLAUDE_CREDENTIALS_HINT, type LocalSettings } from "./settings.js";

/**
 * Which agents a local run uses (`--executor codex|claude|both`) and what this machine has set up
 * for them. Running and combining them is the engine's (engine/agents.ts), as for the app.
 */

export { EXECUTOR_CHOICES, type ExecutorChoice };

/** A choice as the list of agents it runs, codex first. */
export function agentNames(choice: ExecutorChoice): ExecutorName[] {
  return choice === "both" ? ["codex", "claude"] : [choice];
}

/** An agent asked for but not set up on this machine (no Claude credential). */
export class AgentSetupError extends Error {
  override readonly name = "AgentSetupError";
}

/** Fails before anything runs when an agent is asked for that cannot run (codex would wait for the network until it times out). */
export function checkAgents(names: readonly ExecutorName[], settings: LocalSettings): void {
  if (names.includes("codex") && codexCredentialSource(settings.codex.apiKey, settings.codex.homeTemplate) === null) {
    throw new AgentSetupError(`codex has no credentials: ${CODEX_CREDENTIALS_HINT} (see docs/cli.md)`);
  }
  if (names.includes("claude") && settings.claude === null) {
    throw new AgentSetupError(`claude is not set up: ${CLAUDE_CREDENTIALS_HINT} (see docs/cli.md)`);
  }
}

/**
 * The executors for `names`, with the repository's per-agent settings. `model` (the command line's
 * --model) applies to a single agent only; callers reject it with two.
 */
export function localAgents(
  names: readonly ExecutorName[],
  settings: LocalSettings,
  config: RepoConfig,
  overrides: { model?: string | null; reasoningEffort?: ReasoningEffort | null } = {},
): AgentSpec[] {
  checkAgents(names, settings);
  const homesRoot = settings.codex.homesRoot;
  return names.map((name): AgentSpec => {
    if (name === "codex") {
      return {
        name,
        executor: new CodexExecutor(settings.codex),
        request: {
          model: overrides.model ?? config.codex.model ?? settings.codex.defaultModel,
          reasoningEffort: overrides.reasoningEffort ?? config.codex.reasoning_effort,
          // As in the app (jobs/pick-agents.ts): the repository's codex.max_tokens may lower the operator's CODEX_MAX_TOKENS.
          tokenCeiling: effectiveTokenCeiling(config.codex.max_tokens, settings.codexMaxTokens ?? null),
        },
      };
    }
    const claude = settings.claude!;
    return {
      name,
      executor: new ClaudeExecutor({
        bin: claude.bin,
        homesRoot,
        apiKey: claude.apiKey,
        oauthToken: claude.oauthToken,
        baseUrl: claude.baseUrl,
        passEnv: claude.passEnv,
        defaultModel: claude.model,
        maxTurns: config.claude.max_turns,
        maxBudgetUsd: config.claude.max_budget_usd,
        maxRetries: claude.maxRetries,
        bashAllow: claude.fixCommands ?? [],
      }),
      request: { model: overrides.model ?? config.claude.model ?? claude.model, reasoningEffort: null, tokenCeiling: null },
    };
  });
}

/** Secrets of the local agents: kept out of messages and refused in a fix's added lines. */
export function knownSecrets(settings: LocalSettings): string[] {
  return [settings.codex.apiKey, settings.claude?.apiKey ?? null, settings.claude?.oauthToken ?? null].filter(
    (s): s is string => s !== null && s.length >= 6,
  );
}

/** How agents read on a terminal and in local reports: plain names, the failure kind in words. */
export const localWording: AgentWording = { name: (agent) => agent, failure: (agent, err) => failureLine(agent, err) };

/** "Claude failed: <first line of the message>", for notes and reports. */
export function failureLine(name: ExecutorName, err: unknown): string {
  const agent = agentLabel(name);
  const kind =
    err instanceof ExecutorError
      ? err.kind === "timeout"
        ? "timed out"
        : err.kind === "rate-limit"
          ? "hit a rate or usage limit"
          : err.kind === "invalid-output"
            ? "returned an unusable result"
            : "failed"
      : "failed";
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);
  return `${agent} ${kind}: ${message}`;
}
