import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { MAX_CONFIG_BYTES, parseRepoConfig } from "../../../src/config/load.js";
import { DEFAULT_CONFIG, DEFAULT_IGNORE } from "../../../src/config/schema.js";

const SOURCE = ".github/codex-pr-bot.yml on main";

/** Runs parseRepoConfig expecting a ConfigError and returns it. */
function configError(text: string): ConfigError {
  try {
    parseRepoConfig(text, SOURCE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).toBe(`Invalid configuration in ${SOURCE}`);
    return e;
  }
  throw new Error("expected a ConfigError");
}

describe("parseRepoConfig: no settings", () => {
  it.each([
    ["a missing file", null],
    ["an empty file", ""],
    ["whitespace", "  \n\t\n"],
    ["comments only", "# nothing here yet\n  # really\n"],
    ["an empty document", "---\n"],
    ["an explicit null", "~\n"],
  ])("%s gives the defaults", (_name, text) => {
    expect(parseRepoConfig(text, SOURCE)).toEqual(DEFAULT_CONFIG);
  });

  it("treats a section with everything commented out as that section's defaults", () => {
    const cfg = parseRepoConfig("review:\n  # min_severity: P3\ncodex:\n  timeout_minutes: 5\n", SOURCE);
    expect(cfg.review).toEqual(DEFAULT_CONFIG.review);
    expect(cfg.codex.timeout_minutes).toBe(5);
  });
});

describe("parseRepoConfig: valid files", () => {
  it("reads a full file", () => {
    const text = `
auto_review:
  enabled: false
  drafts: true
  base_branches: [main, "release/**"]
  ignore_authors: ["dependabot[bot]"]
  forks: skip
  first_time_contributors: skip
commands:
  allow_bots: ["deploy-bot[bot]"]
paths:
  include: ["src/**"]
  ignore: ["*.lock"]
  extra_ignore: ["docs/generated/"]
review:
  min_severity: P3
  max_inline_comments: 5
  instructions: |
    Flag raw SQL outside src/db/.
codex:
  model: gpt-5.5
  reasoning_effort: high
  timeout_minutes: 45
fallback:
  retry: true
  retry_after_minutes: 0
fix:
  verify: npm test
  verify_timeout_minutes: 15
  auto:
    enabled: true
    min_severity: P0
  allow_workflow_changes: true
  allow_binaries: true
  max_file_bytes: 2048
`;
    expect(parseRepoConfig(text, SOURCE)).toEqual({
      auto_review: {
        enabled: false,
        drafts: true,
        base_branches: ["main", "release/**"],
        ignore_authors: ["dependabot[bot]"],
        forks: "skip",
        first_time_contributors: "skip",
      },
      commands: { allow_bots: ["deploy-bot[bot]"] },
      paths: { include: ["src/**"], ignore: ["*.lock"], extra_ignore: ["docs/generated/"] },
      review: { min_severity: "P3", max_inline_comments: 5, instructions: "Flag raw SQL outside src/db/.\n", incremental: true },
      executors: ["codex"],
      fallback: { retry: true, retry_after_minutes: 0 },
      routing: { review: null, audit: null, ask: null, fix: null, tests: null },
      codex: { model: "gpt-5.5", reasoning_effort: "high", timeout_minutes: 45, max_tokens: null },
      claude: { model: null, max_turns: 40, max_budget_usd: null },
      fix: {
        verify: "npm test",
        verify_timeout_minutes: 15,
        auto: { enabled: true, min_severity: "P0" },
        allow_workflow_changes: true,
        allow_binaries: true,
        max_file_bytes: 2048,
      },
    });
  });

  it("keeps the built-in ignore list when only extra_ignore is set", () => {
    const cfg = parseRepoConfig("paths:\n  extra_ignore: ['*.csv']\n", SOURCE);
    expect(cfg.paths.ignore).toEqual([...DEFAULT_IGNORE]);
    expect(cfg.paths.extra_ignore).toEqual(["*.csv"]);
  });

  it("replaces the built-in ignore list when ignore is set", () => {
    expect(parseRepoConfig("paths:\n  ignore: []\n", SOURCE).paths.ignore).toEqual([]);
  });

  it("accepts explicit nulls for nullable settings", () => {
    expect(parseRepoConfig("codex:\n  model: null\n  reasoning_effort: ~\n", SOURCE).codex).toEqual(DEFAULT_CONFIG.codex);
  });
});

describe("parseRepoConfig: invalid files", () => {
  it("quotes an unknown top-level key", () => {
    expect(configError("reviews:\n  min_severity: P1\n").details).toBe('✖ Unrecognized key: "reviews"');
  });

  it("quotes an unknown nested key with its path", () => {
    expect(configError("auto_review:\n  ignore_author: [bob]\n").details).toBe(
      '✖ Unrecognized key: "ignore_author"\n  → at auto_review',
    );
  });

  it("quotes a wrong enum value", () => {
    expect(configError("review:\n  min_severity: high\n").details).toBe(
      '✖ Invalid option: expected one of "P0"|"P1"|"P2"|"P3"\n  → at review.min_severity',
    );
  });

  it("quotes an out-of-range number", () => {
    expect(configError("review:\n  max_inline_comments: 100\n").details).toBe(
      "✖ Too big: expected number to be <=50\n  → at review.max_inline_comments",
    );
    expect(configError("codex:\n  timeout_minutes: 0\n").details).toBe(
      "✖ Too small: expected number to be >=1\n  → at codex.timeout_minutes",
    );
  });

  it("quotes a wrong type", () => {
    expect(configError("auto_review:\n  enabled: 'yes please'\n").details).toContain("→ at auto_review.enabled");
    expect(configError("paths:\n  include: src/**\n").details).toContain("→ at paths.include");
    expect(configError("review: P1\n").details).toContain("→ at review");
  });

  it("lists every problem, not just the first", () => {
    const details = configError("review:\n  min_severity: P9\ncodex:\n  timeout_minutes: 99\nx: 1\n").details;
    expect(details).toContain('Unrecognized key: "x"');
    expect(details).toContain("→ at review.min_severity");
    expect(details).toContain("→ at codex.timeout_minutes");
  });

  it("reports a YAML syntax error with its line and column", () => {
    const details = configError("review:\n  min_severity: P1\n  instructions: [unclosed\nCodex:\n").details;
    expect(details).toMatch(/at line \d+, column \d+/);
    const broken = configError("auto_review:\n  enabled: true\n bad_indent: 1\n").details;
    expect(broken).toContain("at line 3, column 1");
  });

  it("rejects a key repeated in the same mapping", () => {
    expect(configError("review:\n  min_severity: P1\n  min_severity: P3\n").details).toContain("Map keys must be unique at line 3");
  });

  it.each([
    ["a list", "- review\n- audit\n", "it is a list"],
    ["a string", "just some words\n", "it is a string"],
    ["a number", "42\n", "it is a number"],
    ["a boolean", "true\n", "it is a boolean"],
  ])("rejects %s at the top level", (_name, text, phrase) => {
    const details = configError(text).details;
    expect(details).toContain("The top level must be a mapping of settings");
    expect(details).toContain(phrase);
  });

  it("rejects files over 64 KB before parsing them", () => {
    const text = `# ${"x".repeat(MAX_CONFIG_BYTES)}\n`;
    expect(configError(text).details).toBe(`The file is ${text.length} bytes; the limit is 65536 bytes.`);
  });

  it("counts bytes, not characters", () => {
    const text = `# ${"é".repeat(MAX_CONFIG_BYTES / 2)}`;
    expect(text.length).toBeLessThan(MAX_CONFIG_BYTES);
    expect(configError(text).details).toContain("the limit is 65536 bytes");
  });

  it("accepts a file just under the limit", () => {
    const text = `# ${"x".repeat(MAX_CONFIG_BYTES - 3)}\n`;
    expect(new TextEncoder().encode(text).length).toBe(MAX_CONFIG_BYTES);
    expect(parseRepoConfig(text, SOURCE)).toEqual(DEFAULT_CONFIG);
  });

  it("refuses an alias bomb", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    expect(configError(lines.join("\n")).details).toMatch(/alias/i);
  });
});
