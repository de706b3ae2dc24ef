import type { SentSignal, SignalClaims } from "./queue.js";

type Entry =
  | { state: "sending"; done: Promise<void>; settle: () => void; sent: SentSignal | null; taken: boolean }
  | { state: "sent"; sent: SentSignal }
  | { state: "taken" };

/** Entries kept at most; the oldest go first (a job is taken within its queue wait, long before). */
const MAX_ENTRIES = 20_000;

/**
 * SignalClaims within one process: the embedded queues (memory, SQLite) run their jobs in the process
 * that accepted them, so the intake and the worker meet in this map. Every step is synchronous
 * between awaits, so a claim and a take-over cannot both win.
 */
export class LocalSignalClaims implements SignalClaims {
  private readonly entries = new Map<string, Entry>();

  async claim(jobId: string): Promise<boolean> {
    if (this.entries.has(jobId)) return false;
    let settle!: () => void;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.set(jobId, { state: "sending", done, settle, sent: null, taken: false });
    return true;
  }

  async publish(jobId: string, sent: SentSignal): Promise<void> {
    const entry = this.entries.get(jobId);
    if (entry?.state !== "sending") return;
    entry.sent = sent;
    entry.settle();
    // Taken while sending: the worker is waiting for exactly this, and owns it from now on.
    this.set(jobId, entry.taken ? { state: "taken" } : { state: "sent", sent });
  }

  async takeOver(jobId: string, waitMs: number): Promise<SentSignal | null | "unknown"> {
    const entry = this.entries.get(jobId);
    if (entry?.state !== "sending") {
      this.set(jobId, { state: "taken" });
      return entry?.state === "sent" ? entry.sent : null;
    }
    entry.taken = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      entry.done.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), waitMs);
      }),
    ]);
    clearTimeout(timer);
    this.set(jobId, { state: "taken" });
    return timedOut ? "unknown" : entry.sent;
  }

  async taken(jobId: string): Promise<boolean> {
    const entry = this.entries.get(jobId);
    return entry?.state === "taken" || (entry?.state === "sending" && entry.taken);
  }

  private set(jobId: string, entry: Entry): void {
    this.entries.delete(jobId);
    this.entries.set(jobId, entry);
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
