import { Jail } from "../../src/jail/jail.js";
import { jailSettingsFromEnv } from "../../src/jail/settings.js";

/**
 * A jail that isolates nothing (AGENT_ISOLATION=none), for tests of process handling with fake
 * CLIs that report host pids or write beside themselves. Everything else runs in the default jail.
 */
export function unjailed(): Jail {
  return new Jail({ ...jailSettingsFromEnv({}), isolation: "none" });
}

/** The default jail, as every door builds it from an environment without AGENT_ISOLATION. */
export function defaultTestJail(dataDir?: string): Jail {
  return new Jail(jailSettingsFromEnv({}), dataDir ? { dataDir } : {});
}
