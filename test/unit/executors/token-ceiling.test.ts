import { describe, expect, it } from "vitest";
import { parseRepoConfig } from "../../../src/config/load.js";
import { ConfigError } from "../../../src/errors.js";
import { ceilingMessage, effectiveTokenCeiling, isOverCeiling, tokensOf } from "../../../src/executors/token-ceiling.js";
import { loadSettings, SettingsError } from "../../../src/settings.js";

const usage = (input: number, output: number, cached = 0) => ({ inputTokens: input, cachedInputTokens: cached, outputTokens: output, reasoningOutputTokens: 0 });

describe("effectiveTokenCeiling", () => {
  it.each([
    [null, null, null],
    [150_000, null, { maxTokens: 150_000, source: "repository" }],
    [null, 500_000, { maxTokens: 500_000, source: "operator" }],
    // The repository may lower the operator's cap...
    [150_000, 500_000, { maxTokens: 150_000, source: "repository" }],
    // ...but not raise it.
    [900_000, 500_000, { maxTokens: 500_000, source: "operator" }],
    [500_000, 500_000, { maxTokens: 500_000, source: "repository" }],
  ] as const)("repository %s, operator %s → %j", (repository, operator, expected) => {
    expect(effectiveTokenCeiling(repository, operator)).toEqual(expected);
  });
});

describe("the ceiling", () => {
  it("counts input (cached included) plus output, as codex's total_tokens does", () => {
    expect(tokensOf({ inputTokens: 1000, cachedInputTokens: 900, outputTokens: 50, reasoningOutputTokens: 20 })).toBe(1050);
  });

  it("trips only once the total passes it", () => {
    const ceiling = { maxTokens: 1000, source: "repository" } as const;
    expect(isOverCeiling(usage(900, 100), ceiling)).toBe(false);
    expect(isOverCeiling(usage(900, 101), ceiling)).toBe(true);
  });

  it("says which ceiling was hit, whose it is and how many tokens were used", () => {
    expect(ceilingMessage(usage(150_000, 2_310, 90_000), { maxTokens: 150_000, source: "repository" })).toBe(
      "Codex used 152,310 tokens (150,000 input, 2,310 output), over this repository's ceiling of 150,000 (codex.max_tokens), and was stopped before it finished",
    );
    expect(ceilingMessage(usage(600_000, 1), { maxTokens: 500_000, source: "operator" })).toBe(
      "Codex used 600,001 tokens (600,000 input, 1 output), over the installation's ceiling of 500,000 (CODEX_MAX_TOKENS, set by the operator), and was stopped before it finished",
    );
  });
});

describe("configuring it", () => {
  const parse = (text: string) => parseRepoConfig(text, ".github/codex-pr-bot.yml");

  it("codex.max_tokens defaults to null and takes a positive integer", () => {
    expect(parse("").codex.max_tokens).toBeNull();
    expect(parse("codex:\n  max_tokens: 200000\n").codex.max_tokens).toBe(200_000);
    expect(parse("codex:\n  max_tokens: null\n").codex.max_tokens).toBeNull();
  });

  it.each(["0", "-5", "1.5", '"lots"'])("codex.max_tokens: %s is refused with the key named", (value) => {
    let err: unknown;
    try {
      parse(`codex:\n  max_tokens: ${value}\n`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).details).toMatch(/codex\.max_tokens/);
  });

  it("CODEX_MAX_TOKENS is the operator's cap: unset or empty is none, anything but a positive integer is refused", () => {
    const settings = (value: string | undefined) => loadSettings({ CODEX_MAX_TOKENS: value, DATA_DIR: "/srv/bot-data" }, "/srv");
    expect(settings(undefined).codexMaxTokens).toBeNull();
    expect(settings(" ").codexMaxTokens).toBeNull();
    expect(settings("500000").codexMaxTokens).toBe(500_000);
    for (const bad of ["0", "-1", "1e3x", "2.5"]) {
      expect(() => settings(bad)).toThrow(SettingsError);
      expect(() => settings(bad)).toThrow(/CODEX_MAX_TOKENS/);
    }
  });
});
