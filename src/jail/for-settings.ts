import type { Settings } from "../settings.js";
import { Jail } from "./jail.js";
import { jailSettingsFromEnv } from "./settings.js";

const jails = new WeakMap<Settings, Jail>();

/**
 * The app's one jail for its settings: codex, claude and `fix.verify` of every job start in it, and
 * its start-up probe is made once. `warn` receives the per-run warning of AGENT_ISOLATION=none.
 */
export function appJail(settings: Settings, warn?: (message: string) => void): Jail {
  let jail = jails.get(settings);
  if (!jail) {
    jail = new Jail(settings.jail ?? jailSettingsFromEnv(), { dataDir: settings.dataDir, ...(warn ? { warn } : {}) });
    jails.set(settings, jail);
  }
  return jail;
}
