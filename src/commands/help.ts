/**
 * The reply to "@codex help" (and to a command the bot does not know).
 *
 * It shows the configuration the bot will actually use, so maintainers can check the effect of
 * their config file without reading the docs or the logs.
 */
import { stringify } from "yaml";
import type { RepoConfig } from "../config/schema.js";
import type { CommandKind } from "./parse.js";

export interface CommandHelp {
  kind: CommandKind;
  /** What follows the handle, e.g. "ask <question>". */
  usage: string;
  summary: string;
  /** Other words accepted for the same command (see COMMAND_WORDS in parse.ts). */
  aliases: readonly string[];
}

/** Commands offered to users. Only what is implemented is listed; grow it as commands land. */
export const COMMANDS: readonly CommandHelp[] = [
  {
    kind: "review",
    usage: "review",
    summary: "Review the changes in this pull request now and post the findings as one review.",
    aliases: [],
  },
  {
    kind: "audit",
    usage: "audit",
    summary: "Security audit of the changes: injection, auth, secrets, SSRF, path traversal and more, each with an exploit scenario.",
    aliases: ["security", "security-review"],
  },
  {
    kind: "ask",
    usage: "ask <question>",
    summary: "Answer a question about this pull request, with file and line references. The question may span several lines.",
    aliases: ["question"],
  },
  {
    kind: "fix",
    usage: "fix [what to fix]",
    summary:
      "Fix my open findings on this pull request (or what you describe) and open a pull request into this one's branch. " +
      "As a reply to one of my review comments, fixes that finding. For forks, posts the patch instead.",
    aliases: [],
  },
  {
    kind: "tests",
    usage: "tests [focus]",
    summary: "Write tests for the code this pull request changes, following the repository's conventions, and open them as a pull request into this one's branch.",
    aliases: ["test"],
  },
  {
    kind: "help",
    usage: "help",
    summary: "Show this message.",
    aliases: [],
  },
];

export interface HelpInput {
  handles: string[];
  /** Whether the operator set Claude up; says why `@claude` is off when it is not a handle. */
  claudeConfigured?: boolean;
  config: RepoConfig;
  /** Where the config came from, e.g. ".github/codex-pr-bot.yml on main" or "defaults (no config file)". */
  configSource: string;
  /** The word after the handle that was not a command; "" for a bare mention. */
  unknownWord?: string;
}

/** Keeps a user-typed word from breaking out of inline code or growing the reply without bound. */
function inlineCode(text: string): string {
  const clean = text.replace(/[`\r\n]/g, "").slice(0, 40);
  return `\`${clean}\``;
}

/** A fence longer than any backtick run in the content, so instructions containing ``` cannot end it early. */
function fenced(lang: string, content: string): string {
  const longest = Math.max(0, ...Array.from(content.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${content.replace(/\n$/, "")}\n${fence}`;
}

/** Which handles this installation answers, and why one it does not is off. */
function liveHandles(handles: readonly string[], claudeConfigured: boolean | undefined): string {
  const live = `Handles answered here: ${handles.map((h) => `\`@${h}\``).join(", ")}.`;
  if (handles.includes("claude")) return live;
  const why =
    claudeConfigured === true
      ? "Claude is set up, but the operator's BOT_HANDLES leaves `claude` out"
      : "the operator has not set Claude up (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_BASE_URL)";
  return `${live} \`@claude\` is off: ${why}.`;
}

export function formatHelp(input: HelpInput): string {
  const handles = input.handles.length > 0 ? input.handles : ["codex"];
  const primary = handles[0] ?? "codex";
  const out: string[] = [];

  if (input.unknownWord !== undefined && input.unknownWord !== "") {
    out.push(`I don't know the command ${inlineCode(input.unknownWord)}.`, "");
  }

  out.push("| Command | What it does |", "| --- | --- |");
  for (const cmd of COMMANDS) {
    const aliases = cmd.aliases.length > 0 ? ` (also: ${cmd.aliases.map((a) => `\`${a}\``).join(", ")})` : "";
    // Inside a code span "<question>" is shown literally, so no escaping is needed (or possible).
    out.push(`| \`@${primary} ${cmd.usage}\` | ${cmd.summary}${aliases} |`);
  }
  out.push("");

  if (handles.length > 1) {
    const others = handles.slice(1).map((h) => `\`@${h}\``).join(" or ");
    out.push(`Write ${others} instead of \`@${primary}\` to run the same command with that agent.`, "");
  }
  out.push(liveHandles(handles, input.claudeConfigured), "");
  out.push(
    "Commands must start a line of a comment on the pull request. " +
      "Only users with write access to this repository can run them.",
    "",
  );

  const auto = input.config.auto_review;
  out.push(
    auto.enabled
      ? `Pull requests are reviewed automatically when opened, reopened, updated or marked ready for review${auto.drafts ? " (drafts included)" : " (drafts are skipped)"}.`
      : "Automatic reviews are turned off for this repository; use the commands above.",
    "",
  );
  if (auto.enabled && input.config.fix.auto.enabled) {
    out.push(
      `After an automatic review with findings at ${input.config.fix.auto.min_severity} or above, a fix pull request is opened without a command.`,
      "",
    );
  }

  out.push(
    "<details>",
    `<summary>Effective configuration: ${input.configSource.replace(/[<>]/g, "")}</summary>`,
    "",
    fenced("yaml", stringify(input.config)),
    "",
    "</details>",
  );
  return out.join("\n");
}
