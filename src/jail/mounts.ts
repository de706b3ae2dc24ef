import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { isInside } from "../util/paths.js";

/**
 * What the inside of a jail is made of: the read-only system every program needs, and the
 * directories a given program (the agent's own package) needs. Pure lookups on the host's
 * filesystem; jail.ts turns them into bubblewrap arguments.
 */

/** Top-level system paths: bound read-only when they are directories, re-created when links (merged /usr). */
export const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] as const;

/**
 * The few /etc entries a process needs: TLS roots (the model API), name resolution, time zone,
 * the dynamic linker's cache and Debian's alternatives (/usr/bin links point into them). Nothing
 * else of /etc exists inside: no shadow, no ssh keys, no app config. passwd/group are written per
 * jail (jail.ts) so the agent sees only root, itself and nobody.
 */
export const ETC_ENTRIES = [
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/pki",
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/host.conf",
  "/etc/gai.conf",
  "/etc/services",
  "/etc/protocols",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/alternatives",
  "/etc/mime.types",
] as const;

export interface SystemMount {
  kind: "ro-bind" | "symlink";
  /** For a symlink: the link's target; for a bind: the host path. */
  source: string;
  dest: string;
}

/** The read-only system for a jail, as this host lays it out. */
export function systemMounts(): SystemMount[] {
  const mounts: SystemMount[] = [];
  for (const dir of [...SYSTEM_DIRS, ...ETC_ENTRIES]) {
    const info = lstatOrNull(dir);
    if (!info) continue;
    if (info.isSymbolicLink()) {
      const target = readlinkSync(dir);
      // /etc/resolv.conf → /run/systemd/...: bind what it points to; /bin → usr/bin: keep the link.
      if (dir.startsWith("/etc/")) mounts.push({ kind: "ro-bind", source: realpathOrSelf(dir), dest: dir });
      else mounts.push({ kind: "symlink", source: target, dest: dir });
    } else {
      mounts.push({ kind: "ro-bind", source: dir, dest: dir });
    }
  }
  return mounts;
}

/** True when the read-only system of the jail already shows `p` (e.g. node in /usr/bin). */
export function insideSystem(p: string): boolean {
  return SYSTEM_DIRS.some((dir) => isInside(p, dir));
}

/**
 * The directories a program needs inside the jail. For a program inside an npm package (the
 * pinned codex and claude CLIs): that package's directory and its installed optional
 * dependencies (codex's launcher runs the native binary from `@openai/codex-linux-x64`), never the
 * rest of node_modules or the app. For anything else (a test's fake CLI): its own directory.
 */
export function programDirs(bin: string): string[] {
  const real = realpathOrSelf(bin);
  const pkg = packageRoot(real);
  if (!pkg) return [path.dirname(real)];
  const dirs = [pkg];
  const manifest = readJson(path.join(pkg, "package.json"));
  const optional = manifest && typeof manifest.optionalDependencies === "object" && manifest.optionalDependencies !== null
    ? Object.keys(manifest.optionalDependencies as Record<string, unknown>)
    : [];
  const require = createRequire(path.join(pkg, "package.json"));
  for (const name of optional) {
    try {
      dirs.push(path.dirname(realpathOrSelf(require.resolve(`${name}/package.json`))));
    } catch {
      // Optional dependencies for other platforms are not installed.
    }
  }
  return dirs;
}

/** The package directory holding `file`, only when it sits in a node_modules tree. */
function packageRoot(file: string): string | null {
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf("node_modules");
  if (at < 0 || at + 1 >= parts.length - 1) return null;
  const scoped = parts[at + 1]!.startsWith("@");
  const end = at + (scoped ? 3 : 2);
  if (end > parts.length - 1) return null;
  const root = parts.slice(0, end).join(path.sep) || path.sep;
  return existsSync(path.join(root, "package.json")) ? root : null;
}

export function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function lstatOrNull(p: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(readFileSync(file, "utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
