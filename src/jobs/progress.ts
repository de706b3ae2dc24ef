import type { Logger } from "pino";
import type { Mode, Progress } from "../types.js";

export type ProgressSink = (title: string, summary: string) => Promise<void>;
export type ProgressFormatter = (p: Progress, elapsedMs: number, mode: Mode) => { title: string; summary: string };

/**
 * Turns the agent's event stream into check-run updates at most once per interval: enough for
 * people to see it is alive, few enough to stay far from GitHub's secondary rate limits. Only the
 * latest state is sent; updates never overlap, and a failed update is logged, never fatal.
 */
export class ProgressReporter {
  private latest: Progress | null = null;
  private sentVersion = 0;
  private version = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly format: ProgressFormatter,
    private readonly options: { intervalMs: number; mode: Mode; startedAt: number; log: Logger },
  ) {
    this.timer = setInterval(() => this.flush(), options.intervalMs);
    this.timer.unref();
  }

  update(p: Progress): void {
    if (this.stopped) return;
    this.latest = p;
    this.version++;
  }

  /** Stops the timer and waits for an update in flight, so the final result can't be overwritten. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private flush(): void {
    if (this.stopped || this.latest === null || this.version === this.sentVersion) return;
    const version = this.version;
    const { title, summary } = this.format(this.latest, Date.now() - this.options.startedAt, this.options.mode);
    this.inFlight = this.inFlight
      .then(() => (this.stopped ? undefined : this.sink(title, summary)))
      .then(() => {
        this.sentVersion = version;
      })
      .catch((err: unknown) => this.options.log.warn({ err }, "progress update failed"));
  }
}
