import { Cancelled } from "../errors.js";

/**
 * A FIFO, in-process mutex whose waiters can give up. Git serialises writers with lock files and
 * fails instead of waiting, so two fetches or worktree-adds on one mirror must queue here.
 */
export class Mutex {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new Cancelled("cancelled while waiting for the repository lock"));
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.splice(this.waiters.indexOf(grant), 1);
        reject(new Cancelled("cancelled while waiting for the repository lock"));
      };
      const grant = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    // Handing over directly keeps `held` true, so nobody can jump the queue in between.
    if (next) next();
    else this.held = false;
  }
}
