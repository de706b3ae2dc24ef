import { describe, expect, it } from "vitest";
import { costOf, DEFAULT_PRICE_TABLE, formatUsd, priceFor, priceTableSchema } from "../../../src/executors/pricing.js";

const usage = { inputTokens: 2_500_000, cachedInputTokens: 1_000_000, outputTokens: 200_000, reasoningOutputTokens: 50_000 };

describe("costOf", () => {
  it("prices uncached input, cached input and output (reasoning is part of output)", () => {
    const table = { "gpt-5.5": { input: 2, cached_input: 0.5, output: 8 } };
    // 1.5M × $2 + 1M × $0.5 + 0.2M × $8
    expect(costOf(usage, "gpt-5.5", table)).toBe(3 + 0.5 + 1.6);
  });
  it("charges cached input at the input price when no cached price is set", () => {
    expect(costOf(usage, "m", { m: { input: 1, output: 2 } })).toBe(2.5 + 0.4);
  });
  it("returns null for unknown or missing models", () => {
    expect(costOf(usage, "unknown-model", DEFAULT_PRICE_TABLE)).toBeNull();
    expect(costOf(usage, null, DEFAULT_PRICE_TABLE)).toBeNull();
  });
  it("has a (placeholder) default for gpt-5.5 and rounds to micro-dollars", () => {
    expect(costOf({ inputTokens: 100, cachedInputTokens: 40, outputTokens: 20, reasoningOutputTokens: 5 }, "gpt-5.5")).toBe(0.000280);
  });
  it("clamps inconsistent counts instead of going negative", () => {
    expect(costOf({ inputTokens: 10, cachedInputTokens: 50, outputTokens: -5, reasoningOutputTokens: 0 }, "m", { m: { input: 1e6, cached_input: 0, output: 1e6 } })).toBe(0);
  });
});

describe("priceFor", () => {
  it("matches exactly, then the longest dash-separated prefix, case-insensitively", () => {
    const table = { "gpt-5": { input: 1, output: 1 }, "gpt-5.5": { input: 2, output: 2 }, "GPT-5.5-codex": { input: 3, output: 3 } };
    expect(priceFor("gpt-5.5", table)?.input).toBe(2);
    expect(priceFor("gpt-5.5-codex", table)?.input).toBe(3);
    expect(priceFor("gpt-5.5-2026-01-01", table)?.input).toBe(2);
    expect(priceFor("gpt-5-mini", table)?.input).toBe(1);
    expect(priceFor("gpt-5.55", table)).toBeNull();
  });
});

describe("priceTableSchema", () => {
  it("accepts the documented shape and rejects unknown keys and negative prices", () => {
    expect(priceTableSchema.safeParse({ "gpt-5.5": { input: 1.25, cached_input: 0.125, output: 10 } }).success).toBe(true);
    expect(priceTableSchema.safeParse({ m: { input: 1, output: 1, extra: 1 } }).success).toBe(false);
    expect(priceTableSchema.safeParse({ m: { input: -1, output: 1 } }).success).toBe(false);
  });
});

describe("formatUsd", () => {
  it("formats small and large amounts", () => {
    expect(formatUsd(0)).toBe("$0");
    expect(formatUsd(0.00001)).toBe("<$0.0001");
    expect(formatUsd(0.01234)).toBe("$0.0123");
    expect(formatUsd(12.5)).toBe("$12.50");
  });
});
