import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  CONFIG_PATH,
  DEFAULT_CONFIG,
  DEFAULT_IGNORE,
  repoConfigSchema,
  severityToPriority,
} from "../../../src/config/schema.js";

describe("repoConfigSchema defaults", () => {
  it("fills every field from an empty object", () => {
    expect(DEFAULT_CONFIG).toEqual({
      auto_review: { enabled: true, drafts: false, base_branches: [], ignore_authors: [] },
      paths: { include: [], ignore: [...DEFAULT_IGNORE], extra_ignore: [] },
      review: { min_severity: "P2", max_inline_comments: 20, instructions: "" },
      codex: { model: null, reasoning_effort: null, timeout_minutes: 20 },
    });
  });

  it("fills the rest of a section that is given partly", () => {
    const cfg = repoConfigSchema.parse({ review: { min_severity: "P0" } });
    expect(cfg.review).toEqual({ min_severity: "P0", max_inline_comments: 20, instructions: "" });
    expect(cfg.codex).toEqual(DEFAULT_CONFIG.codex);
  });

  it("keeps DEFAULT_CONFIG from being changed by a careless caller", () => {
    expect(() => (DEFAULT_CONFIG.paths.ignore as string[]).push("x")).toThrow(TypeError);
    expect(() => {
      (DEFAULT_CONFIG.review as { min_severity: string }).min_severity = "P0";
    }).toThrow(TypeError);
    expect(repoConfigSchema.parse({}).paths.ignore).toEqual([...DEFAULT_IGNORE]);
  });

  it("hands out a fresh ignore list per parse", () => {
    const a = repoConfigSchema.parse({});
    a.paths.ignore.push("mine");
    expect(repoConfigSchema.parse({}).paths.ignore).not.toContain("mine");
  });

  it("uses the documented path", () => {
    expect(CONFIG_PATH).toBe(".github/codex-pr-bot.yml");
  });
});

describe("repoConfigSchema validation", () => {
  const bad = (input: unknown) => {
    const r = repoConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    return r.success ? "" : z.prettifyError(r.error);
  };

  it("rejects unknown keys at every level", () => {
    expect(bad({ extra: 1 })).toContain('Unrecognized key: "extra"');
    for (const section of ["auto_review", "paths", "review", "codex"]) {
      expect(bad({ [section]: { nope: 1 } })).toMatch(new RegExp(`Unrecognized key: "nope"\\n\\s+→ at ${section}`));
    }
  });

  it("checks ranges and enums", () => {
    expect(bad({ review: { max_inline_comments: 0 } })).toContain("review.max_inline_comments");
    expect(bad({ review: { max_inline_comments: 51 } })).toContain("review.max_inline_comments");
    expect(bad({ review: { max_inline_comments: 2.5 } })).toContain("review.max_inline_comments");
    expect(bad({ codex: { timeout_minutes: 61 } })).toContain("codex.timeout_minutes");
    expect(bad({ review: { min_severity: "P4" } })).toContain("review.min_severity");
    expect(bad({ codex: { reasoning_effort: "max" } })).toContain("codex.reasoning_effort");
  });

  it("accepts the edges of ranges and every enum value", () => {
    for (const n of [1, 50]) expect(repoConfigSchema.parse({ review: { max_inline_comments: n } }).review.max_inline_comments).toBe(n);
    for (const n of [1, 60]) expect(repoConfigSchema.parse({ codex: { timeout_minutes: n } }).codex.timeout_minutes).toBe(n);
    for (const e of ["minimal", "low", "medium", "high", "xhigh", null]) {
      expect(repoConfigSchema.parse({ codex: { reasoning_effort: e } }).codex.reasoning_effort).toBe(e);
    }
  });

  it("rejects negated and empty globs", () => {
    expect(bad({ paths: { extra_ignore: ["!src/**"] } })).toContain("Negated globs");
    expect(bad({ paths: { include: ["  "] } })).toContain("A glob must not be empty");
  });

  it("rejects model names that could be read as flags", () => {
    expect(bad({ codex: { model: "--dangerously-bypass" } })).toContain("codex.model");
    expect(bad({ codex: { model: "gpt 5" } })).toContain("codex.model");
    expect(repoConfigSchema.parse({ codex: { model: "gpt-5.5" } }).codex.model).toBe("gpt-5.5");
  });
});

describe("severityToPriority", () => {
  it.each([
    ["P0", 0],
    ["P1", 1],
    ["P2", 2],
    ["P3", 3],
  ] as const)("%s → %d", (s, p) => {
    expect(severityToPriority(s)).toBe(p);
  });
});

describe("docs/configuration.md", () => {
  const docs = readFileSync(fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url)), "utf8");

  it("documents every key of the schema", () => {
    for (const [section, value] of Object.entries(DEFAULT_CONFIG)) {
      for (const key of Object.keys(value as object)) expect(docs).toContain(`\`${section}.${key}\``);
    }
  });

  it("lists every built-in ignore pattern", () => {
    for (const pattern of DEFAULT_IGNORE) expect(docs).toContain(`\`${pattern}\``);
  });
});
