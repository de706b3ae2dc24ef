import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * How agent runs are jailed, from the operator's environment. One reader for every front door
 * (the app, the CLI, MCP, the Action), so none of them can come up with a weaker default.
 */

export type Isolation = "bwrap" | "none";

export interface JailSettings {
  /** `bwrap` (default): every agent and test command in its own namespaces. `none`: the operator opted out. */
  isolation: Isolation;
  /** The bubblewrap binary; null when none was found (the probe then says so). */
  bwrap: string | null;
  /** RLIMIT_NPROC inside one jail: processes and threads of that run alone. */
  maxProcesses: number;
  /** RLIMIT_DATA per process inside the jail, in MiB: a runaway allocation fails there, not on the host. */
  maxMemoryMb: number;
  /**
   * The uid:gid a jail runs as when the app runs as root and AGENT_USER is unset: never root,
   * whose processes the kernel exempts from the process limit. Default 65534:65534 (nobody).
   */
  rootFallbackUser: { uid: number; gid: number };
}

export const DEFAULT_MAX_PROCESSES = 1024;
export const DEFAULT_MAX_MEMORY_MB = 8192;
const NOBODY = { uid: 65534, gid: 65534 };

export class JailSettingsError extends Error {
  override readonly name = "JailSettingsError";
}

/**
 * AGENT_ISOLATION (bwrap | none), AGENT_JAIL_BWRAP (path of bwrap), AGENT_MAX_PROCESSES,
 * AGENT_MAX_MEMORY_MB. Throws JailSettingsError with the variable's name on a bad value.
 */
export function jailSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): JailSettings {
  const raw = (env.AGENT_ISOLATION ?? "").trim().toLowerCase();
  if (raw !== "" && raw !== "bwrap" && raw !== "none") {
    throw new JailSettingsError(`AGENT_ISOLATION must be "bwrap" (the default) or "none", not "${env.AGENT_ISOLATION}"`);
  }
  return {
    isolation: raw === "none" ? "none" : "bwrap",
    bwrap: findBwrap(env.AGENT_JAIL_BWRAP),
    maxProcesses: positiveInt(env, "AGENT_MAX_PROCESSES", DEFAULT_MAX_PROCESSES, 16),
    maxMemoryMb: positiveInt(env, "AGENT_MAX_MEMORY_MB", DEFAULT_MAX_MEMORY_MB, 256),
    rootFallbackUser: NOBODY,
  };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new JailSettingsError(`${name} must be a whole number of at least ${min}, not "${raw}"`);
  return n;
}

/**
 * AGENT_JAIL_BWRAP, else the bubblewrap the pinned @openai/codex package ships for its own sandbox
 * (a version we test with, present wherever codex is), else the system's (Debian: `bubblewrap`).
 */
export function findBwrap(explicit?: string): string | null {
  if (explicit?.trim()) return path.resolve(explicit.trim());
  const bundled = bundledBwrap();
  if (bundled) return bundled;
  for (const candidate of ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]) if (existsSync(candidate)) return candidate;
  return null;
}

function bundledBwrap(): string | null {
  const arch = process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : null;
  if (process.platform !== "linux" || arch === null) return null;
  try {
    const require = createRequire(import.meta.url);
    const pkg = path.dirname(require.resolve(`@openai/codex-linux-${process.arch}/package.json`));
    const file = path.join(pkg, "vendor", `${arch}-unknown-linux-musl`, "codex-resources", "bwrap");
    return existsSync(file) ? file : null;
  } catch {
    return null;
  }
}
