import { chmodSync, mkdtempSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Scratch directories for tests, under the project's own .data/ folder rather than the system temp
 * dir: codex 0.169.0 cannot run any sandboxed command when its CODEX_HOME or worktree is under /tmp
 * (shared/research/codex.md), so tests must mirror what the app does in production.
 */
export const TEST_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../.data/test");

const created: string[] = [];

export function makeTempDir(prefix: string): string {
  mkdirSync(TEST_ROOT, { recursive: true });
  const dir = mkdtempSync(path.join(TEST_ROOT, `${prefix}-`));
  // Searchable, not listable, by others, like a production DATA_DIR's parents: a root app runs its
  // jails as nobody, which must reach the data dir inside (jail/jail.ts).
  chmodSync(dir, 0o711);
  created.push(dir);
  return dir;
}

/**
 * Removes every directory made in this test file. Called from test/setup.ts after each file, which
 * works wherever makeTempDir was called (a hook registered from inside a test would never run).
 */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
