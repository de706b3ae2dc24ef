/**
 * Turns the text of the repository config file into a validated RepoConfig.
 *
 * Pure on purpose: the GitHub adapter fetches the file from the DEFAULT branch (never the PR head,
 * so a pull request cannot change how it is reviewed) and hands the text here. Every failure is a
 * ConfigError whose details quote the exact problem, because they end up in a failed check run
 * that the maintainer has to act on.
 */
import { parseDocument } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import { DEFAULT_CONFIG, repoConfigSchema, type RepoConfig } from "./schema.js";

/** A config file is a few hundred bytes; anything this large is a mistake or an attempt to stall YAML parsing. */
export const MAX_CONFIG_BYTES = 64 * 1024;

const SECTIONS = ["auto_review", "paths", "review", "codex", "claude", "routing", "fallback", "fix", "commands"] as const;

/**
 * @param text   file contents, or null when the file does not exist
 * @param source where it came from, for messages, e.g. ".github/codex-pr-bot.yml on main"
 */
export function parseRepoConfig(text: string | null, source: string): RepoConfig {
  if (text === null) return DEFAULT_CONFIG;
  const message = `Invalid configuration in ${source}`;

  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_CONFIG_BYTES) {
    throw new ConfigError(message, `The file is ${bytes} bytes; the limit is ${MAX_CONFIG_BYTES} bytes.`);
  }
  if (text.trim() === "") return DEFAULT_CONFIG;

  // uniqueKeys (the default) makes a repeated key an error instead of "last one wins", which
  // would silently drop half of what the maintainer wrote.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(message, doc.errors.map((e) => e.message.trimEnd()).join("\n\n"));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // toJS throws on alias bombs (too many alias expansions) and similar structural problems.
    throw new ConfigError(message, err instanceof Error ? err.message : String(err));
  }

  // Empty or comments-only file.
  if (data === null || data === undefined) return DEFAULT_CONFIG;
  if (typeof data !== "object" || Array.isArray(data)) {
    const kind = Array.isArray(data) ? "a list" : `a ${typeof data}`;
    throw new ConfigError(message, `The top level must be a mapping of settings (such as "review:"), but it is ${kind}.`);
  }

  // A section whose keys are all commented out ("review:" followed by nothing) parses as null;
  // treat it as an empty section rather than rejecting a file that reads as "use the defaults".
  const record = { ...(data as Record<string, unknown>) };
  for (const section of SECTIONS) {
    if (section in record && record[section] === null) record[section] = {};
  }

  const parsed = repoConfigSchema.safeParse(record);
  if (!parsed.success) throw new ConfigError(message, z.prettifyError(parsed.error));
  return parsed.data;
}
