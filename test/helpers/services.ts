import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * System services some tests need and `npm ci` cannot install (redis-server, chromium). On a
 * developer's machine without them those tests are skipped, each file printing one line that says
 * what was skipped and how to install what it needs; with CI=true (.ci/run) nothing is skipped, so a
 * missing service fails the run loudly (startRedis / the browser test throw with the same command).
 */

export interface Service {
  /** What the tests need, as a person would name it. */
  name: string;
  /** The command that installs it on Debian/Ubuntu (what .ci/run does). */
  install: string;
  available(): boolean;
}

/** The executable on PATH, like `command -v`; null when there is none. */
export function onPath(bin: string, envPath: string = process.env.PATH ?? ""): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (dir === "") continue;
    const file = path.join(dir, bin);
    if (existsSync(file)) return file;
  }
  return null;
}

export const REDIS: Service = {
  name: "redis-server",
  install: "sudo apt-get install -y redis-server",
  available: () => onPath("redis-server") !== null,
};

/** Debian's chromium, driven by playwright-core (which never downloads a browser). CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM: Service = {
  name: `chromium (${CHROMIUM_PATH})`,
  install: "sudo apt-get install -y chromium",
  available: () => existsSync(CHROMIUM_PATH) && spawnSync(CHROMIUM_PATH, ["--version"]).status === 0,
};

/** CI=true (or 1): the environment .ci/run and CI providers set. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.CI?.trim() ?? "");
}

const announced = new Set<string>();

/**
 * True when the tests of `what` must be skipped: the service is missing and this is not CI. Says so
 * once per file and service, on one line: vitest's summary only counts skipped tests, not why.
 * In CI this is always false, so the tests run and fail with the missing service's message.
 */
export function skipWithout(service: Service, what: string): boolean {
  if (service.available() || inCI()) return false;
  const line = `skipped ${what}: ${service.name} is not installed (install it with \`${service.install}\`; with CI=true this fails instead)`;
  if (!announced.has(line)) {
    announced.add(line);
    // Straight to the terminal: console output of a file whose tests all skip is not always shown.
    process.stderr.write(`\n  ↓ ${line}\n`);
  }
  return true;
}
