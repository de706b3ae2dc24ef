import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";

/**
 * One process running agents per DATA_DIR. Worktree slots, the mirror locks and the paths lent to
 * the jail's user (security/agent-user.ts) are tracked in each process's memory, so two processes
 * running agents in one DATA_DIR hand out the same worktree slot and take the jail's permissions
 * away from each other's running jobs: jobs fail and reviews are lost (measured with two BullMQ
 * workers, bench/scale.ts). A start that would share one is refused instead, saying what to do.
 * The run history may still be one file for every process (DATABASE_PATH).
 */
export const LOCK_FILE = ".agents.lock";

export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
  /** The process's start time in clock ticks since boot (Linux /proc), so a reused pid is not taken for the holder. */
  procStart?: string | null;
}

export interface DataDirClaim {
  release(): void;
}

/** Claims `dataDir` for this process, or throws DataDirInUseError naming the process that holds it. */
export function claimDataDir(dataDir: string, isAlive: (holder: Holder) => boolean = processAlive): DataDirClaim {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), procStart: procStartOf(process.pid) };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${JSON.stringify(me)}\n`);
      closeSync(fd);
      return claimOf(file, me);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(file);
    // This very process (an app loaded again on the same directory) or a process that is gone: take it over.
    const stale = holder === null || (holder.host === me.host && (holder.pid === me.pid || !isAlive(holder)));
    if (!stale) {
      const where = holder.host === me.host ? `process ${holder.pid}` : `process ${holder.pid} on ${holder.host}`;
      throw new DataDirInUseError(
        `DATA_DIR ${dataDir} is already used by ${where} (since ${holder.startedAt}). Two processes running agents in one ` +
          "DATA_DIR hand out the same worktrees and lose jobs: give each worker process its own DATA_DIR (the run history " +
          `can stay one shared file with DATABASE_PATH). If that process is gone, delete ${file}.`,
      );
    }
    rmSync(file, { force: true });
  }
  throw new DataDirInUseError(`could not claim DATA_DIR ${dataDir}: another process claimed it at the same moment`);
}

/** Claims this process still holds, released at exit through one listener (not one per claim). */
const held = new Set<() => void>();
let exitHook = false;

function claimOf(file: string, me: Holder): DataDirClaim {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    held.delete(release);
    // Only our own claim: a successor may hold it by now.
    const holder = readHolder(file);
    if (holder && holder.pid === me.pid && holder.host === me.host && holder.startedAt === me.startedAt) rmSync(file, { force: true });
  };
  held.add(release);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const r of [...held]) r();
    });
  }
  return { release };
}

function readHolder(file: string): Holder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<Holder>;
    return typeof parsed.pid === "number" && typeof parsed.host === "string"
      ? { pid: parsed.pid, host: parsed.host, startedAt: String(parsed.startedAt ?? ""), procStart: typeof parsed.procStart === "string" ? parsed.procStart : null }
      : null;
  } catch {
    return null;
  }
}

/** The holder's process still runs: its pid exists and, where Linux tells, it started when the holder did. */
function processAlive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // A container restarted on the same volume reuses pids: another process with the holder's pid is not the holder.
  const now = procStartOf(holder.pid);
  return !(holder.procStart && now && holder.procStart !== now);
}

/** Field 22 of /proc/<pid>/stat (start time since boot), or null off Linux. */
function procStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}
