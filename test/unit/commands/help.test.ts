import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { COMMANDS, formatHelp } from "../../../src/commands/help.js";
import { parseCommand } from "../../../src/commands/parse.js";
import { parseRepoConfig } from "../../../src/config/load.js";
import { DEFAULT_CONFIG } from "../../../src/config/schema.js";

const base = { handles: ["codex"], config: DEFAULT_CONFIG, configSource: "defaults (no config file)" };

/** The YAML inside the <details> block. */
function yamlBlock(markdown: string): string {
  const match = /(`{3,})yaml\n([\s\S]*?)\n\1\n/.exec(markdown);
  if (!match?.[2]) throw new Error("no yaml block");
  return match[2];
}

describe("formatHelp", () => {
  it("lists every command with its usage and aliases", () => {
    const md = formatHelp(base);
    for (const cmd of COMMANDS) expect(md).toContain(`\`@codex ${cmd.usage}\``);
    expect(md).toContain("`@codex ask <question>`");
    expect(md).toContain("`security`, `security-review`");
  });

  it("lists every command the parser knows, fix and tests included", () => {
    expect(COMMANDS.map((c) => c.kind)).toEqual(["review", "audit", "ask", "fix", "tests", "help"]);
    const md = formatHelp(base);
    expect(md).toContain("`@codex fix [what to fix]`");
    expect(md).toContain("`@codex tests [focus]`");
  });

  it("mentions automatic fixes only when they are on", () => {
    expect(formatHelp(base)).not.toContain("fix pull request is opened without a command");
    const config = parseRepoConfig("fix:\n  auto:\n    enabled: true\n    min_severity: P0\n", "test");
    expect(formatHelp({ ...base, config })).toContain("After an automatic review with findings at P0 or above, a fix pull request is opened without a command.");
  });

  it("advertises only aliases the parser accepts", () => {
    for (const cmd of COMMANDS) {
      for (const word of [cmd.kind, ...cmd.aliases]) {
        expect(parseCommand(`@codex ${word}`, ["codex"])).toMatchObject({ kind: cmd.kind });
      }
    }
  });

  it("says who may run commands", () => {
    expect(formatHelp(base)).toContain("Only users with write access to this repository can run them.");
  });

  it("starts with the unknown word when there is one", () => {
    const md = formatHelp({ ...base, unknownWord: "frobnicate" });
    expect(md.split("\n")[0]).toBe("I don't know the command `frobnicate`.");
  });

  it("adds no unknown-command line for a bare mention or a help request", () => {
    expect(formatHelp({ ...base, unknownWord: "" })).not.toContain("I don't know");
    expect(formatHelp(base)).not.toContain("I don't know");
  });

  it("keeps a hostile unknown word inside its code span and short", () => {
    const md = formatHelp({ ...base, unknownWord: "`x`@everyone" + "a".repeat(200) });
    const first = md.split("\n")[0] ?? "";
    expect(first).toMatch(/^I don't know the command `[^`]{1,40}`\.$/);
  });

  it("mentions the other handle when several are configured", () => {
    const md = formatHelp({ ...base, handles: ["codex", "claude"], claudeConfigured: true });
    expect(md).toContain("Write `@claude` instead of `@codex`");
    expect(md).toContain("Handles answered here: `@codex`, `@claude`.");
    expect(formatHelp(base)).not.toContain("Write `@claude`");
  });

  it("says which handles are live and why @claude is not", () => {
    expect(formatHelp({ ...base, claudeConfigured: false })).toContain(
      "Handles answered here: `@codex`. `@claude` is off: the operator has not set Claude up (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_BASE_URL).",
    );
    expect(formatHelp({ ...base, claudeConfigured: true })).toContain("`@claude` is off: Claude is set up, but the operator's BOT_HANDLES leaves `claude` out.");
  });

  it("shows the effective configuration as YAML that parses back to it", () => {
    const md = formatHelp(base);
    expect(md).toContain("<details>");
    expect(md).toContain("<summary>Effective configuration: defaults (no config file)</summary>");
    expect(parseYaml(yamlBlock(md))).toEqual(DEFAULT_CONFIG);
  });

  it("uses a fence that instructions containing ``` cannot close", () => {
    const config = parseRepoConfig('review:\n  instructions: "see:\\n```\\nstuff\\n```"\n', "test");
    const md = formatHelp({ ...base, config, configSource: ".github/codex-pr-bot.yml on main" });
    expect(md).toContain("````yaml");
    expect(parseYaml(yamlBlock(md))).toEqual(config);
  });

  it("says whether automatic reviews are on", () => {
    expect(formatHelp(base)).toContain("reviewed automatically");
    const off = parseRepoConfig("auto_review:\n  enabled: false\n", "test");
    expect(formatHelp({ ...base, config: off })).toContain("Automatic reviews are turned off");
  });
});
