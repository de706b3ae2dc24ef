import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ExecutorError } from "../errors.js";
import type { Executor } from "./types.js";

/**
 * Whether codex has something to authenticate with, checked before it starts: without any, codex
 * 0.169.0 does not fail, it keeps "waiting for network" against api.openai.com until the run's
 * timeout. One rule for every door (doctor, the CLI, MCP, the Action).
 */

/** What to do when codex has no credentials. */
export const CODEX_CREDENTIALS_HINT =
  "set CODEX_API_KEY (or OPENAI_API_KEY) to an OpenAI API key, or run `codex login` (its auth.json in ~/.codex, " +
  "CODEX_HOME or CODEX_HOME_TEMPLATE), or configure a model_provider in that directory's config.toml";

/** Where codex's credentials come from, in words; null when there are none. */
export function codexCredentialSource(apiKey: string | null, template: string | null): string | null {
  if (apiKey !== null && apiKey.trim() !== "") return "an API key (CODEX_API_KEY / OPENAI_API_KEY)";
  if (template === null) return null;
  if (existsSync(path.join(template, "auth.json"))) return `codex login found in ${template}/auth.json`;
  const config = path.join(template, "config.toml");
  try {
    if (/^\s*model_provider\s*=/m.test(readFileSync(config, "utf8"))) return `custom model provider configured in ${config}`;
  } catch {
    // No config.toml.
  }
  return null;
}

/**
 * The app's codex, refusing before it starts when the installation has no codex credentials (checked
 * at each run: the operator may add a login without a restart). The job turns the refusal into a
 * failed check run saying what the operator must set.
 */
export function requireCodexCredentials(inner: Executor, apiKey: string | null, template: string | null): Executor {
  return {
    name: inner.name,
    run: async (request) => {
      if (codexCredentialSource(apiKey, template) === null) {
        throw new ExecutorError(`codex has no credentials on this installation: the operator must ${CODEX_CREDENTIALS_HINT} (CODEX_HOME_TEMPLATE for the app)`, "spawn");
      }
      return inner.run(request);
    },
  };
}
