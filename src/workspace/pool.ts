import { Cancelled } from "../errors.js";

interface Waiter<S> {
  grant: (slot: S) => void;
}

/**
 * A fixed set of slots handed out one lease at a time, first come first served. Waiting is
 * abortable because a job superseded by a newer push must not sit in the queue holding nothing.
 */
export class SlotPool<S> {
  private readonly free: S[];
  private readonly leased = new Set<S>();
  private readonly waiters: Waiter<S>[] = [];

  constructor(slots: readonly S[]) {
    this.free = [...slots];
  }

  /** `pick` chooses among several free slots (e.g. prefer a warm one); waiters take what frees up. */
  acquire(signal?: AbortSignal, pick: (free: readonly S[]) => S = (free) => free[0]!): Promise<S> {
    if (signal?.aborted) return Promise.reject(new Cancelled("cancelled while waiting for a free worktree"));
    const slot = this.tryAcquire(pick);
    return slot !== null ? Promise.resolve(slot) : this.enqueue(signal);
  }

  /**
   * A free slot right now, or null: never waits. For a job that already holds a slot of this pool and
   * wants another; waiting there could deadlock against a job doing the same. Queued waiters keep
   * their turn: while anyone waits, nothing is taken past them.
   */
  tryAcquire(pick: (free: readonly S[]) => S = (free) => free[0]!): S | null {
    if (this.free.length === 0 || this.waiters.length > 0) return null;
    const slot = pick(this.free);
    this.free.splice(this.free.indexOf(slot), 1);
    this.leased.add(slot);
    return slot;
  }

  release(slot: S): void {
    if (!this.leased.delete(slot)) return;
    const next = this.waiters.shift();
    if (next) {
      this.leased.add(slot);
      next.grant(slot);
    } else {
      this.free.push(slot);
    }
  }

  isLeased(slot: S): boolean {
    return this.leased.has(slot);
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private enqueue(signal?: AbortSignal): Promise<S> {
    return new Promise<S>((resolve, reject) => {
      const waiter: Waiter<S> = {
        grant: (slot) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(slot);
        },
      };
      const onAbort = (): void => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Cancelled("cancelled while waiting for a free worktree"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }
}
