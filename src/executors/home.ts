import { chmod, copyFile, mkdir, mkdtemp, readdir, realpath, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isInside } from "../util/paths.js";

/**
 * One CODEX_HOME per run: codex keeps config, auth, state databases and shell snapshots there, so
 * sharing one between concurrent jobs would mix their state, and leaving it behind would leak
 * whatever the agent wrote. Only the operator's `config.toml` and `auth.json` are carried over.
 */

/** The only files taken from the operator's template CODEX_HOME. */
export const TEMPLATE_FILES = ["config.toml", "auth.json"] as const;

export interface CodexHome {
  dir: string;
  /** Removes the directory and everything in it. Safe to call more than once. */
  dispose(): Promise<void>;
}

export async function createCodexHome(options: { root: string; jobId: string; template: string | null }): Promise<CodexHome> {
  const root = path.resolve(options.root);
  await assertNotUnderTmp(root);
  await mkdir(root, { recursive: true, mode: 0o700 });
  await assertNotUnderTmp(await realpath(root));

  const safeId = options.jobId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64) || "job";
  const dir = await mkdtemp(path.join(root, `${safeId}-`));
  await chmod(dir, 0o700);

  let disposed = false;
  const home: CodexHome = {
    dir,
    async dispose() {
      if (disposed) return;
      await removeTree(dir);
      disposed = true;
    },
  };

  try {
    if (options.template !== null) await copyTemplate(options.template, dir);
  } catch (err) {
    await home.dispose();
    throw err;
  }
  return home;
}

/**
 * Removes every per-job home under `root`. For startup, when no run can be in progress: homes of
 * runs that died with the process are otherwise never removed.
 */
export async function clearCodexHomes(root: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const entry of entries) await removeTree(path.join(root, entry));
}

async function copyTemplate(template: string, dir: string): Promise<void> {
  const info = await stat(template).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`the codex home template ${template} is not a directory`);
  for (const name of TEMPLATE_FILES) {
    const source = path.join(template, name);
    const target = path.join(dir, name);
    try {
      await copyFile(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    await chmod(target, 0o600);
  }
}

async function assertNotUnderTmp(dir: string): Promise<void> {
  const tmp = path.resolve(os.tmpdir());
  const tmpReal = await realpath(tmp).catch(() => tmp);
  for (const base of new Set([tmp, tmpReal])) {
    if (isInside(dir, base)) {
      throw new Error(
        `refusing to create codex homes under ${dir}: it is inside the system temp dir (${base}). ` +
          "codex 0.169.0 then cannot run any sandboxed command (it refuses to set up its helper binaries " +
          "under a temp dir) while still reporting success; put the data directory elsewhere.",
      );
    }
  }
}

/** rm -rf that also copes with directories the agent made read-only. */
async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await makeWritable(path.join(dir, entry.name));
  }
}
