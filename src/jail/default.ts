import { Jail } from "./jail.js";
import { jailSettingsFromEnv } from "./settings.js";

let shared: Jail | null = null;

/**
 * The jail of a door that did not build its own: the same settings, read from the same
 * environment variables. Executors fall back to it, so forgetting to pass a jail never means
 * running unjailed.
 */
export function defaultJail(): Jail {
  shared ??= new Jail(jailSettingsFromEnv());
  return shared;
}
