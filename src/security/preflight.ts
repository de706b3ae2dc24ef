import { constants } from "node:fs";
import { access, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { AgentUser } from "./agent-user.js";

/**
 * Start-up (and `doctor`) checks of what the agents could read. Codex's read-only sandbox confines
 * writes, not reads, and Claude's commands run with no sandbox at all, so an agent can read whatever
 * its OS user can: these checks say, in words an operator can act on, when that includes the App's
 * private key or the app's own data, and when AGENT_USER could not even start the agents.
 * They only report; they change nothing.
 */

export interface PreflightInput {
  /** PRIVATE_KEY_PATH, resolved; null when the key comes from the PRIVATE_KEY variable. */
  privateKeyPath: string | null;
  /** AGENT_USER, or null when the agent runs as the app's own user. */
  agentUser: AgentUser | null;
  dataDir: string;
  /** Other secret files worth checking, e.g. the `.env` next to the app. Missing files are skipped. */
  extraSecretFiles?: string[];
  /**
   * Programs AGENT_USER must be able to run: the codex and claude binaries and the node that runs
   * codex's launcher. Only checked under AGENT_USER; missing files are reported too.
   */
  agentPrograms?: string[];
  /** The app's own uid (tests pass one); default process.getuid(). */
  appUid?: number;
}

export interface PreflightWarning {
  code:
    | "same-user"
    | "key-readable"
    | "secret-readable"
    | "agent-is-root"
    | "data-dir-unreachable"
    | "not-root"
    | "program-not-executable";
  message: string;
}

/** What an OS user can do with a path, from mode bits along the way (no ACLs, no capabilities). */
export interface Access {
  read: boolean;
  /** The path could not be examined (e.g. it does not exist). */
  unknown: boolean;
}

/**
 * Whether `user` (uid, primary gid only: the agent is spawned with no supplementary groups) can
 * read `file`: every directory on the way must be searchable (x) and the file readable (r).
 */
export async function canUserRead(file: string, user: { uid: number; gid: number }): Promise<Access> {
  const { allowed, unknown } = await canUser(file, user, 0o4);
  return { read: allowed, unknown };
}

/** Whether `user` can execute `file` (exec follows links): search on every directory on the way, x on the file. */
export async function canUserExecute(file: string, user: { uid: number; gid: number }): Promise<{ execute: boolean; unknown: boolean }> {
  const { allowed, unknown } = await canUser(file, user, 0o1);
  return { execute: allowed, unknown };
}

async function canUser(file: string, user: { uid: number; gid: number }, bit: number): Promise<{ allowed: boolean; unknown: boolean }> {
  const given = path.resolve(file);
  if (user.uid === 0) return { allowed: true, unknown: false };
  try {
    // A link is opened through its own directories and then its target's (node_modules/.bin/claude).
    const target = await realpath(given);
    for (const dir of new Set([...directoriesTo(given), ...directoriesTo(target)])) {
      if (!allows(await stat(dir), user, 0o1)) return { allowed: false, unknown: false };
    }
    return { allowed: allows(await stat(target), user, bit), unknown: false };
  } catch {
    return { allowed: false, unknown: true };
  }
}

/** `/`, `/a`, `/a/b` for `/a/b/file`. */
function directoriesTo(file: string): string[] {
  const chain: string[] = [];
  for (let d = path.dirname(file); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  return chain;
}

/** Owner bits for the owner, else group bits for the group, else other bits (POSIX order). */
function allows(info: { uid: number; gid: number; mode: number }, user: { uid: number; gid: number }, bit: number): boolean {
  if (info.uid === user.uid) return ((info.mode >> 6) & bit) !== 0;
  if (info.gid === user.gid) return ((info.mode >> 3) & bit) !== 0;
  return (info.mode & bit) !== 0;
}

export async function agentIsolationWarnings(input: PreflightInput): Promise<PreflightWarning[]> {
  const warnings: PreflightWarning[] = [];
  const appUid = input.appUid ?? process.getuid?.() ?? -1;
  const secrets = [
    ...(input.privateKeyPath ? [{ file: input.privateKeyPath, what: "the GitHub App private key (PRIVATE_KEY_PATH)" }] : []),
    ...(input.extraSecretFiles ?? []).map((file) => ({ file, what: `the secret file ${file}` })),
  ];

  if (input.agentUser === null) {
    const readable: string[] = [];
    for (const s of secrets) {
      if (await exists(s.file)) readable.push(s.what);
    }
    warnings.push({
      code: "same-user",
      message:
        `the agents run as the app's own OS user (uid ${appUid}): codex's read-only sandbox does not stop reads and ` +
        `Claude's commands run unsandboxed, so a prompt-injected agent can read ${readable.length > 0 ? `${readable.join(", ")}, ` : ""}` +
        `the run database and other jobs' workspaces under ${input.dataDir}. Set AGENT_USER to an unprivileged user (SECURITY.md).`,
    });
    for (const s of secrets) {
      if (await exists(s.file)) {
        warnings.push({
          code: s.file === input.privateKeyPath ? "key-readable" : "secret-readable",
          message: `the agents can read ${s.what}: they run as the same OS user as the app. Set AGENT_USER (SECURITY.md).`,
        });
      }
    }
    return warnings;
  }

  const user = input.agentUser;
  const label = user.name ?? `${user.uid}:${user.gid}`;
  if (user.uid === 0) {
    warnings.push({ code: "agent-is-root", message: `AGENT_USER ${label} is root: it can read everything.` });
    return warnings;
  }
  if (user.uid === appUid) {
    warnings.push({
      code: "same-user",
      message: `AGENT_USER ${label} is the app's own user (uid ${appUid}): it isolates nothing. Use a separate unprivileged user.`,
    });
  } else if (appUid !== 0) {
    warnings.push({
      code: "not-root",
      message: `AGENT_USER is set but the app runs as uid ${appUid}, not root: it cannot start the agents as ${label}.`,
    });
  }
  for (const s of secrets) {
    const a = await canUserRead(s.file, user);
    if (a.read) {
      warnings.push({
        code: s.file === input.privateKeyPath ? "key-readable" : "secret-readable",
        message: `AGENT_USER ${label} can read ${s.what}: make it readable by the app's user only (chmod 600, owned by the app's user).`,
      });
    }
  }
  const dataDir = path.resolve(input.dataDir);
  for (let d = path.dirname(dataDir); ; d = path.dirname(d)) {
    const info = await stat(d).catch(() => null);
    if (info && !allows(info, user, 0o1)) {
      warnings.push({
        code: "data-dir-unreachable",
        message: `AGENT_USER ${label} cannot reach DATA_DIR ${dataDir} (no search permission on ${d}): the agents will not find their homes or worktrees.`,
      });
      break;
    }
    if (path.dirname(d) === d) break;
  }
  for (const program of new Set(input.agentPrograms ?? [])) {
    const a = await canUserExecute(program, user);
    if (a.unknown) {
      warnings.push({ code: "program-not-executable", message: `${program} does not exist: AGENT_USER ${label} cannot run it.` });
    } else if (!a.execute) {
      warnings.push({
        code: "program-not-executable",
        message: `AGENT_USER ${label} cannot run ${program} (no execute permission on it or search permission on a directory above it): every run of that agent would fail. Make it and its directories world-executable (chmod o+x).`,
      });
    }
  }
  return warnings;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
