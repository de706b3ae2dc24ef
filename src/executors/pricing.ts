import { z } from "zod";
import type { Usage } from "../types.js";

/**
 * What a run cost, from its token usage and a per-model price table. Claude's CLI reports its own
 * estimate (`total_cost_usd`); Codex reports tokens only, so its cost comes from here.
 *
 * Token semantics are the OpenAI ones, which both executors normalise to (see codex-events.ts and
 * claude-events.ts): `inputTokens` includes `cachedInputTokens`, and `outputTokens` already includes
 * the reasoning tokens (`reasoningOutputTokens` is a part of it, never billed twice).
 */

/** USD per one million tokens. */
export const priceSchema = z
  .object({
    input: z.number().min(0).describe("USD per 1M uncached input tokens."),
    cached_input: z.number().min(0).optional().describe("USD per 1M cached input tokens; defaults to `input`."),
    output: z.number().min(0).describe("USD per 1M output tokens (reasoning tokens included)."),
  })
  .strict();

export type Price = z.infer<typeof priceSchema>;

/** Model name (or name prefix, see priceFor) → price. */
export const priceTableSchema = z.record(z.string().min(1), priceSchema);
export type PriceTable = z.infer<typeof priceTableSchema>;

/**
 * Defaults. PLACEHOLDERS: OpenAI had published no gpt-5.5 price when this table was written, so the
 * entry carries the gpt-5 list price ($1.25 input, $0.125 cached input, $10 output per 1M tokens).
 * Operators must set the real price of every model they run (config `pricing`); a model that is not
 * in the table gets no cost at all rather than a wrong one.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  "gpt-5.5": { input: 1.25, cached_input: 0.125, output: 10 },
};

/**
 * The price of `model`: an exact entry, else the longest entry that is a prefix followed by "-"
 * (so "gpt-5.5" also prices "gpt-5.5-codex" and dated snapshots). Case-insensitive.
 */
export function priceFor(model: string, table: PriceTable): Price | null {
  const name = model.trim().toLowerCase();
  let best: { key: string; price: Price } | null = null;
  for (const [key, price] of Object.entries(table)) {
    const k = key.trim().toLowerCase();
    if (k === name) return price;
    if (name.startsWith(`${k}-`) && (best === null || k.length > best.key.length)) best = { key: k, price };
  }
  return best?.price ?? null;
}

/** USD for `usage` on `model`, or null when the model is unknown or not in the table. */
export function costOf(usage: Usage, model: string | null, table: PriceTable = DEFAULT_PRICE_TABLE): number | null {
  if (model === null) return null;
  const price = priceFor(model, table);
  if (price === null) return null;
  const cached = Math.max(0, Math.min(usage.cachedInputTokens, usage.inputTokens));
  const uncached = Math.max(0, usage.inputTokens - cached);
  const output = Math.max(0, usage.outputTokens);
  const dollars = (uncached * price.input + cached * (price.cached_input ?? price.input) + output * price.output) / 1_000_000;
  // Whole micro-dollars: enough precision for a summary, no float noise like 0.30000000000000004.
  return Math.round(dollars * 1e6) / 1e6;
}

/** "$0.0123", "$1.50", "<$0.0001": for summaries. */
export function formatUsd(value: number): string {
  if (value === 0) return "$0";
  if (value < 0.0001) return "<$0.0001";
  if (value < 1) return `$${value.toPrecision(3).replace(/0+$/, "").replace(/\.$/, "")}`;
  return `$${value.toFixed(2)}`;
}
