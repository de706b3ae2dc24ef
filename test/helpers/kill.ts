import type { AppProcess } from "../../bench/lib/app-process.js";
import { waitFor } from "./queue-fixtures.js";

/** SIGKILLs an app process (no shutdown handler runs) and waits until it is gone. */
export async function killApp(app: AppProcess): Promise<void> {
  process.kill(app.pid, "SIGKILL");
  await waitFor(() => !alive(app.pid), "the killed app to exit", 10_000);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
