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
      auto_review: {
        enabled: true,
        drafts: false,
        base_branches: [],
        ignore_authors: [],
        forks: "review",
        first_time_contributors: "review",
      },
      commands: { allow_bots: [] },
      paths: { include: [], ignore: [...DEFAULT_IGNORE], extra_ignore: [] },
      review: { min_severity: "P2", max_inline_comments: 20, instructions: "", incremental: true },
      executors: ["codex"],
      fallback: { retry: false, retry_after_minutes: 10 },
      routing: { review: null, audit: null, ask: null, fix: null, tests: null },
      codex: { model: null, reasoning_effort: null, timeout_minutes: 20, max_tokens: null },
      claude: { model: null, max_turns: 40, max_budget_usd: null },
      fix: {
        verify: null,
        verify_timeout_minutes: 10,
        auto: { enabled: false, min_severity: "P1" },
        allow_workflow_changes: false,
        allow_binaries: false,
        max_file_bytes: 1024 * 1024,
      },
    });
  });

  it("checks the executor lists", () => {
    const bad = (input: unknown): string => {
      const r = repoConfigSchema.safeParse(input);
      return r.success ? "" : z.prettifyError(r.error);
    };
    expect(repoConfigSchema.parse({ executors: ["codex", "claude"], routing: { audit: ["claude"] } }).routing.audit).toEqual(["claude"]);
    expect(bad({ executors: [] })).toContain("executors");
    expect(bad({ executors: ["codex", "codex"] })).toContain("List each executor once");
    expect(bad({ executors: ["gemini"] })).toContain("executors");
    expect(bad({ routing: { merge: ["codex"] } })).toContain("routing");
  });

  it("checks the contributor policy and the bot allow-list", () => {
    const bad = (input: unknown): string => {
      const r = repoConfigSchema.safeParse(input);
      return r.success ? "" : z.prettifyError(r.error);
    };
    const cfg = repoConfigSchema.parse({ auto_review: { forks: "skip" }, commands: { allow_bots: [" renovate[bot] "] } });
    expect(cfg.auto_review).toMatchObject({ forks: "skip", first_time_contributors: "review" });
    expect(cfg.commands.allow_bots).toEqual(["renovate[bot]"]);
    expect(bad({ auto_review: { forks: "fix" } })).toContain("auto_review.forks");
    expect(bad({ auto_review: { first_time_contributors: true } })).toContain("auto_review.first_time_contributors");
    expect(bad({ commands: { allow_bots: [""] } })).toContain("commands.allow_bots");
    expect(bad({ commands: { allow_bots: "renovate[bot]" } })).toContain("commands.allow_bots");
    expect(bad({ commands: { rate_limit: 5 } })).toContain("commands");
  });

  it("fills the rest of a section that is given partly", () => {
    const cfg = repoConfigSchema.parse({ review: { min_severity: "P0" } });
    expect(cfg.review).toEqual({ min_severity: "P0", max_inline_comments: 20, instructions: "", incremental: true });
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
    for (const section of ["auto_review", "paths", "review", "codex", "fix"]) {
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

  it("checks the fix section", () => {
    expect(bad({ fix: { auto: { nope: true } } })).toMatch(/Unrecognized key: "nope"\n\s+→ at fix\.auto/);
    expect(bad({ fix: { verify: "" } })).toContain("fix.verify");
    expect(bad({ fix: { verify: "   " } })).toContain("fix.verify");
    expect(bad({ fix: { verify_timeout_minutes: 0 } })).toContain("fix.verify_timeout_minutes");
    expect(bad({ fix: { verify_timeout_minutes: 61 } })).toContain("fix.verify_timeout_minutes");
    expect(bad({ fix: { max_file_bytes: 1023 } })).toContain("fix.max_file_bytes");
    expect(bad({ fix: { max_file_bytes: 100 * 1024 * 1024 + 1 } })).toContain("fix.max_file_bytes");
    expect(bad({ fix: { auto: { min_severity: "high" } } })).toContain("fix.auto.min_severity");
    expect(bad({ fix: { allow_binaries: "yes" } })).toContain("fix.allow_binaries");
    const cfg = repoConfigSchema.parse({ fix: { verify: "  npm test  ", auto: { enabled: true } } });
    expect(cfg.fix.verify).toBe("npm test");
    expect(cfg.fix.auto).toEqual({ enabled: true, min_severity: "P1" });
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
      expect(docs).toContain(`\`${section}`);
      if (Array.isArray(value)) continue; // a top-level list (executors) is one key
      for (const [key, inner] of Object.entries(value as object)) {
        expect(docs).toContain(`\`${section}.${key}\``);
        // Nested sections (fix.auto) document their own keys too.
        if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
          for (const sub of Object.keys(inner as object)) expect(docs).toContain(`\`${section}.${key}.${sub}\``);
        }
      }
    }
  });

  it("lists every built-in ignore pattern", () => {
    for (const pattern of DEFAULT_IGNORE) expect(docs).toContain(`\`${pattern}\``);
  });
});
