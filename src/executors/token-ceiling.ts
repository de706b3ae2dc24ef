import type { Usage } from "../types.js";

/**
 * Codex's token ceiling (issue 4): a run is stopped once its tokens pass it. The operator's
 * CODEX_MAX_TOKENS is a cap every repository gets; a repository's `codex.max_tokens` may lower it,
 * never raise it. Pure, so the rules are tested without a process.
 */

export interface TokenCeiling {
  maxTokens: number;
  /** Who set the limit that applies, for the message that names it. */
  source: "repository" | "operator";
}

/** The ceiling that applies: the lower of the two; null when neither is set. */
export function effectiveTokenCeiling(repository: number | null, operator: number | null): TokenCeiling | null {
  if (repository !== null && (operator === null || repository <= operator)) return { maxTokens: repository, source: "repository" };
  if (operator !== null) return { maxTokens: operator, source: "operator" };
  return null;
}

/** Tokens as codex counts its `total_tokens`: every request's input (cached included) plus output (reasoning included). */
export function tokensOf(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens;
}

export function isOverCeiling(usage: Usage, ceiling: TokenCeiling): boolean {
  return tokensOf(usage) > ceiling.maxTokens;
}

/** "Codex used 152,310 tokens (150,000 input, 2,310 output), over this repository's ceiling of 150,000 (codex.max_tokens) …" */
export function ceilingMessage(usage: Usage, ceiling: TokenCeiling): string {
  const whose =
    ceiling.source === "repository"
      ? `this repository's ceiling of ${count(ceiling.maxTokens)} (codex.max_tokens)`
      : `the installation's ceiling of ${count(ceiling.maxTokens)} (CODEX_MAX_TOKENS, set by the operator)`;
  return (
    `Codex used ${count(tokensOf(usage))} tokens (${count(usage.inputTokens)} input, ${count(usage.outputTokens)} output), ` +
    `over ${whose}, and was stopped before it finished`
  );
}

/** 152310 → "152,310". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}
