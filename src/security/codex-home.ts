import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Settings every per-run CODEX_HOME gets on top of the operator's template, for checkouts of
 * untrusted pull requests. Written into the home's config.toml (not argv) so the operator can still
 * override them deliberately in the template.
 *
 * - `project_doc_max_bytes = 0`: codex 0.169.0 injects the checkout's AGENTS.md into the prompt as
 *   instructions; in a PR checkout that file is the author's, not the maintainers' (repository
 *   instructions come from the default branch's bot config instead). The agent can still read it
 *   as a file, which is content.
 * Project-local `.codex/config.toml` and MCP servers are already ignored: codex only loads them
 * for trusted projects, and the bot never passes `--trust` (shared/research/codex.md §3.4).
 */
export const UNTRUSTED_CHECKOUT_CONFIG: readonly (readonly [string, string])[] = [["project_doc_max_bytes", "0"]];

export async function hardenCodexHome(home: string): Promise<void> {
  const file = path.join(home, "config.toml");
  const existing = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw err;
  });
  // Top-level keys must come before the first [table]; a key the operator set is left alone
  // (a duplicate key would make the whole file invalid).
  const lines = UNTRUSTED_CHECKOUT_CONFIG.filter(([key]) => !new RegExp(`^\\s*${key}\\s*=`, "m").test(existing)).map(
    ([key, value]) => `${key} = ${value}\n`,
  );
  if (lines.length === 0) return;
  await writeFile(file, `# added by codex-pr-bot for untrusted checkouts\n${lines.join("")}${existing}`, { mode: 0o600 });
}
