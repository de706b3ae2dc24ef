/**
 * Child processes a bench started, killed when the bench exits however it exits: the normal path
 * stops them gracefully itself; this catches an exception, Ctrl-C or SIGTERM, so no app, worker or
 * redis-server outlives the bench (a SIGKILL of the bench itself cannot be caught).
 */

const pids = new Set<number>();
const closers = new Set<() => Promise<void>>();
let installed = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killAll(): void {
  for (const pid of pids) {
    if (alive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
  pids.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the bench's processes`);
      const all = [...closers].map((close) => close().catch(() => undefined));
      const timer = setTimeout(() => process.exit(130), 10_000);
      void Promise.all(all).finally(() => {
        clearTimeout(timer);
        process.exit(130);
      });
    });
  }
}

/** Kills `pid` with SIGKILL if it is still alive when the bench exits; the returned function forgets it. */
export function killOnExit(pid: number): () => void {
  install();
  pids.add(pid);
  return () => pids.delete(pid);
}

/** Runs `close` (a graceful stop) on Ctrl-C/SIGTERM before exiting; the returned function forgets it. */
export function closeOnSignal(close: () => Promise<void>): () => void {
  install();
  closers.add(close);
  return () => closers.delete(close);
}
