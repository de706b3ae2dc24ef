import { constants, readFileSync } from "node:fs";
import { chmod, chown, lchown, lstat, open, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { isInside } from "../util/paths.js";

/**
 * Running the agent as a separate, unprivileged OS user (AGENT_USER).
 *
 * Codex's read-only sandbox confines writes, not reads, and Claude Code's commands (read-only git,
 * the operator's `bashAllow` such as a test runner running the PR's code) run with no sandbox at all:
 * a prompt-injected agent can `cat` every file the OS user it runs as can read (the GitHub App
 * private key, the run database, other jobs' worktrees). The only defence that holds is the
 * kernel's: run the agent (codex, claude, `fix.verify`) as another user that owns nothing of the
 * bot's. This module resolves that user and, around each run, gives it exactly its own home
 * (CODEX_HOME, or claude's HOME/CLAUDE_CONFIG_DIR; owned by it) and its own worktree and mirror
 * (group-readable while the run lasts), and takes group/other access away from everything else in
 * the data directory. Operator set-up: SECURITY.md.
 */

export interface AgentUser {
  /** Login name, when the user was given by name. */
  name: string | null;
  uid: number;
  gid: number;
}

export interface RunAs {
  user: AgentUser;
  /** The app's data directory; everything in it except the run's own paths is closed to the agent. */
  dataDir: string;
}

export class AgentUserError extends Error {
  override readonly name = "AgentUserError";
}

/**
 * `AGENT_USER`: a login name from /etc/passwd, or `uid:gid` (numeric). Root (uid 0) is refused:
 * it could read everything anyway.
 */
export function parseAgentUser(spec: string, passwd: () => string = () => readFileSync("/etc/passwd", "utf8")): AgentUser {
  const trimmed = spec.trim();
  let user: AgentUser;
  const numeric = /^(\d+):(\d+)$/.exec(trimmed);
  if (numeric) {
    user = { name: null, uid: Number(numeric[1]), gid: Number(numeric[2]) };
  } else {
    if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(trimmed)) {
      throw new AgentUserError(`AGENT_USER "${spec}" is neither a user name nor "uid:gid"`);
    }
    const line = passwd()
      .split("\n")
      .find((l) => l.split(":")[0] === trimmed);
    const fields = line?.split(":");
    if (!fields || fields.length < 4) {
      throw new AgentUserError(`AGENT_USER "${trimmed}" is not in /etc/passwd (create it, or give "uid:gid")`);
    }
    user = { name: trimmed, uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  if (!Number.isInteger(user.uid) || !Number.isInteger(user.gid)) throw new AgentUserError(`AGENT_USER "${spec}": bad ids`);
  if (user.uid === 0 || user.gid === 0) {
    throw new AgentUserError(`AGENT_USER "${spec}" is root (uid or gid 0): it would read everything; use an unprivileged user`);
  }
  return user;
}

/**
 * The umask the app should run with when AGENT_USER is set (call `process.umask(AGENT_UMASK)` at
 * start-up): everything the app creates (database, mirrors, checkouts of concurrent jobs, homes) is
 * then born owner-only, so a running agent cannot read what appears while it runs.
 */
export const AGENT_UMASK = 0o077;

/** Directories granted to a running agent, with how many runs use each (runs can share a mirror). */
const granted = new Map<string, number>();

/** Only the owner keeps access; for files and directories the agent must not reach. */
const ownerOnly = (mode: number): number => mode & 0o700;

/**
 * Prepares one run under `runAs` and returns the function that takes the run's access back.
 * - `home` (the per-run CODEX_HOME or claude HOME) is chowned to the agent, with everything in it
 *   (claude's model-key file included): the agent writes its state there;
 * - the worktree and its mirror (found through the worktree's `.git` file) get the agent's group,
 *   mode 0750, until release;
 * - directories leading to them inside the data dir get the agent's group, mode 0710 (traverse
 *   only, no listing);
 * - everything else in the data dir, other worktrees and mirrors included, loses group/other access.
 *
 * With `writable` (fix/tests runs and their verification: codex workspace-write) the worktree, and
 * only the worktree, is also group-writable (directories rwx, files rw) and its top directory is
 * sticky (1770) with its top-level entries lent to the agent's uid: the agent can then edit, add,
 * delete and rename files anywhere, but the `.git` link (root's, group read-only) can be neither
 * written nor deleted nor replaced, by the kernel's rules and not only codex's sandbox. The mirror
 * stays read-only. On release everything in the worktree is chowned back to the app's uid (the
 * agent's new files included) and loses group/other write and setuid/setgid bits, so nothing of the
 * agent's stays between runs; the app (root) commits, resets and cleans the tree as before.
 */
export async function openAgentAccess(
  runAs: RunAs,
  paths: { home: string; homesRoot: string; worktree: string; writable?: boolean },
): Promise<() => Promise<void>> {
  const { uid, gid } = runAs.user;
  const dataDir = path.resolve(runAs.dataDir);
  const worktree = path.resolve(paths.worktree);
  const homesRoot = path.resolve(paths.homesRoot);
  const writable = paths.writable === true;
  if (!isInside(homesRoot, dataDir)) throw new AgentUserError(`${homesRoot} is outside the data directory ${dataDir}`);
  if (writable && !isInside(worktree, dataDir)) throw new AgentUserError(`${worktree} is outside the data directory ${dataDir}`);
  // A checkout outside the data dir (the CLI on the user's own repository, read-only) and its
  // repository are not the app's to re-permission: the agent reads what their modes already allow.
  const mirror = await mirrorOf(worktree);
  const own = [worktree, ...(mirror ? [mirror] : [])].filter((dir) => isInside(dir, dataDir));
  const appUid = process.getuid?.() ?? 0;

  // The run's homes root is held like its worktree: a concurrent run with another homes root (the
  // local commands, tests) must not close this one while it is in use.
  const held = [...own, homesRoot];
  for (const dir of held) granted.set(dir, (granted.get(dir) ?? 0) + 1);
  try {
    // Close the data dir first, then open the run's own paths.
    // Runs in progress (this one included) keep their paths and the directories leading to them.
    const keep = new Set([homesRoot, ...[...granted.keys()].flatMap((d) => [d, ...ancestorsWithin(d, dataDir)])]);
    await closeDataDir(dataDir, keep);
    const traverse = new Set([dataDir, homesRoot, ...ancestorsWithin(homesRoot, dataDir), ...own.flatMap((d) => ancestorsWithin(d, dataDir))]);
    for (const dir of traverse) {
      await chown(dir, -1, gid); // -1: the owner stays
      await chmod(dir, 0o710);
    }
    for (const dir of own) {
      await chown(dir, -1, gid);
      await chmod(dir, writable && dir === worktree ? 0o1770 : 0o750);
    }
    // With AGENT_UMASK in force the checkout and the mirror are created owner-only; the agent (and
    // its `git diff`) needs to read them. Their top directories are closed again on release, which
    // is what keeps them private between runs.
    for (const dir of own) {
      if (writable && dir === worktree) await groupWritableWorktree(dir, uid, gid);
      else await groupReadableTree(dir, gid);
    }
    // The agent's git refuses a repository owned by another user unless its own global config says so.
    await writeFile(path.join(paths.home, ".gitconfig"), "[safe]\n\tdirectory = *\n", { mode: 0o600 });
    await chownTree(paths.home, uid, gid);
  } catch (err) {
    if (writable) await revokeWrite(worktree, appUid).catch(() => undefined);
    await release(held);
    throw err;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    try {
      if (writable) await revokeWrite(worktree, appUid);
    } finally {
      await release(held);
    }
  };
}

async function release(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const left = (granted.get(dir) ?? 1) - 1;
    if (left > 0) {
      granted.set(dir, left);
      continue;
    }
    granted.delete(dir);
    const info = await lstat(dir).catch(() => null);
    if (info?.isDirectory()) await chmod(dir, ownerOnly(info.mode));
  }
}

/**
 * Takes group/other access from everything in the data dir except `keep` (granted paths and the
 * directories leading to them): the run database, key files, templates, and the worktrees (two
 * levels down: worktrees/<repo>/<slot>) and mirrors of other jobs.
 */
async function closeDataDir(dataDir: string, keep: Set<string>): Promise<void> {
  const visit = async (dir: string, depth: number): Promise<void> => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const full = path.join(dir, name);
      if (keep.has(full)) {
        if (depth > 0) await visit(full, depth - 1);
        continue;
      }
      const info = await lstat(full).catch(() => null);
      if (!info || info.isSymbolicLink()) continue;
      if ((info.mode & 0o077) !== 0) await chmod(full, ownerOnly(info.mode));
    }
  };
  // dataDir/*, dataDir/workspaces/*, dataDir/workspaces/{worktrees,mirrors}/*, worktrees/<repo>/*
  await visit(dataDir, 3);
}

/** The mirror a worktree belongs to, from its `.git` file ("gitdir: <mirror>/worktrees/<name>"). */
async function mirrorOf(worktree: string): Promise<string | null> {
  const text = await readFile(path.join(worktree, ".git"), "utf8").catch(() => null);
  const m = text ? /^gitdir:\s*(.+)\s*$/m.exec(text) : null;
  if (!m) return null;
  const admin = path.resolve(worktree, m[1]!.trim());
  if (path.basename(path.dirname(admin)) !== "worktrees") return null;
  return path.dirname(path.dirname(admin));
}

/** Directories strictly between `root` (included) and `dir` (excluded). */
function ancestorsWithin(dir: string, root: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(dir); isInside(d, root); d = path.dirname(d)) {
    out.push(d);
    if (d === root) break;
  }
  return out;
}

/** chgrp + g+r (g+rx for directories) on a tree; only touches what is not already so. */
async function groupReadableTree(dir: string, gid: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue;
    const full = path.join(dir, entry.name);
    const info = await lstat(full);
    const want = entry.isDirectory() ? 0o050 : 0o040;
    if (info.gid !== gid) await chown(full, -1, gid);
    if ((info.mode & want) !== want) await chmod(full, (info.mode & 0o7777) | want);
    if (entry.isDirectory()) await groupReadableTree(full, gid);
  }
}

/**
 * The worktree of a writing run: chgrp + g+rw (g+rwx for directories) on the tree, the top-level
 * entries lent to the agent's uid (under the sticky top directory only their owner may delete or
 * rename them), and the `.git` link (or directory) left to the app, group read-only.
 */
async function groupWritableWorktree(worktree: string, uid: number, gid: number): Promise<void> {
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (dir === worktree && entry.name === ".git") {
        const info = await lstat(full);
        if (info.isSymbolicLink()) continue;
        if (info.gid !== gid) await chown(full, -1, gid);
        const want = info.isDirectory() ? 0o050 : 0o040;
        await chmod(full, ((info.mode & 0o7777) | want) & ~0o022);
        if (info.isDirectory()) await readOnlyTree(full, gid);
        continue;
      }
      if (dir === worktree) await lchown(full, uid, gid);
      if (entry.isSymbolicLink()) continue;
      const info = await lstat(full);
      const want = entry.isDirectory() ? 0o070 : 0o060;
      if (info.gid !== gid) await chown(full, -1, gid);
      if ((info.mode & want) !== want) await chmod(full, (info.mode & 0o7777) | want);
      if (entry.isDirectory()) await visit(full);
    }
  };
  await visit(worktree);
}

/** groupReadableTree, and group/other write taken away: what the agent must read but never change. */
async function readOnlyTree(dir: string, gid: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue;
    const full = path.join(dir, entry.name);
    const info = await lstat(full);
    const want = entry.isDirectory() ? 0o050 : 0o040;
    if (info.gid !== gid) await chown(full, -1, gid);
    const mode = ((info.mode & 0o7777) | want) & ~0o022;
    if (mode !== (info.mode & 0o7777)) await chmod(full, mode);
    if (entry.isDirectory()) await readOnlyTree(full, gid);
  }
}

/**
 * End of a writing run: everything in the worktree (what the agent created included) goes back to
 * the app's uid and loses group/other write and setuid/setgid; the top directory loses its sticky
 * bit and group write (release() then closes it). Symbolic links are chowned, never followed, and
 * modes are set through a descriptor opened O_NOFOLLOW: the tree is the agent's doing, and root's
 * chmod must not land on whatever a link put in a file's place. Keeps going past a failure and
 * throws the first one at the end.
 */
async function revokeWrite(worktree: string, appUid: number): Promise<void> {
  let failure: unknown = null;
  const attempt = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") failure ??= err;
    }
  };
  const fix = async (full: string): Promise<boolean> => {
    const info = await lstat(full).catch(() => null);
    if (!info) return false;
    if (info.uid !== appUid) await attempt(() => lchown(full, appUid, -1));
    if (info.isSymbolicLink()) return false;
    const mode = info.mode & 0o7777;
    const strip = full === worktree ? 0o7022 : 0o6022;
    // chown already clears setuid/setgid on Linux; the mode is set from what lstat saw either way.
    if ((mode & strip) !== 0 || info.uid !== appUid) await attempt(() => chmodNoFollow(full, info, mode & ~strip));
    return info.isDirectory();
  };
  const visit = async (dir: string): Promise<void> => {
    const names = await readdir(dir).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") failure ??= err;
      return [] as string[];
    });
    for (const name of names) {
      const full = path.join(dir, name);
      if (await fix(full)) await visit(full);
    }
  };
  if (await fix(worktree)) await visit(worktree);
  if (failure !== null) throw failure;
}

/** chmod of `full` only if it still is the file `seen` (no symbolic link followed); sockets are skipped. */
async function chmodNoFollow(full: string, seen: { dev: number; ino: number }, mode: number): Promise<void> {
  const handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY).catch(
    (err: NodeJS.ErrnoException) => {
      // ELOOP: a symbolic link now (links have no mode of their own); ENXIO: a socket.
      if (err.code === "ELOOP" || err.code === "ENXIO") return null;
      throw err;
    },
  );
  if (!handle) return;
  try {
    const now = await handle.stat();
    if (now.dev === seen.dev && now.ino === seen.ino) await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await chownTree(full, uid, gid);
    else await chown(full, uid, gid);
  }
}
