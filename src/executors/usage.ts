import type { Usage } from "../types.js";

export const EMPTY_USAGE: Usage = Object.freeze({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 });

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningOutputTokens: a.reasoningOutputTokens + b.reasoningOutputTokens,
  };
}

/** Total usage of several turns, models or agents; entries without figures (null) count as zero. */
export function sumUsage(list: readonly (Usage | null)[]): Usage {
  return list.reduce<Usage>((total, u) => (u ? addUsage(total, u) : total), { ...EMPTY_USAGE });
}
