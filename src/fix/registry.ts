/**
 * One fix at a time per pull request: the fixes this process has accepted and not finished, by PR.
 * A fix is registered when its command is accepted (so a second request while the first still
 * waits in the queue is answered too) and removed when its job ends, whatever the outcome.
 *
 * In memory on purpose: the queue already runs one job per PR at a time within a process, and a
 * restart loses in-process jobs along with this map. Several processes sharing a durable queue
 * would each keep their own map; the fix PR's branch name (one per PR head) still keeps two fixes of
 * the same head from overwriting each other.
 */

export interface RunningFix {
  jobId: string;
  mode: "fix" | "tests";
  /** Where people can see it: the comment that asked for it (or the review, for automatic fixes). */
  link: string;
  since: number;
}

export class FixRegistry {
  private readonly running = new Map<string, RunningFix>();
  private workers = false;

  /**
   * Called where jobs run. Only a process that runs the jobs itself can tell when a fix ends, so a
   * web-only process (WORKERS=0) registers nothing: it would never see its registrations released.
   * There, the queue's one-job-per-PR rule still runs a second fix only after the first.
   */
  markWorkerProcess(): void {
    this.workers = true;
  }

  /** Whether this process runs jobs, i.e. whether registrations here are ever released. */
  get tracksJobs(): boolean {
    return this.workers;
  }

  /** The fix registered for `pr`, if any. */
  get(pr: string): RunningFix | null {
    return this.running.get(pr) ?? null;
  }

  /** Registers `fix` unless another one is registered; returns the one that holds the PR. */
  claim(pr: string, fix: RunningFix): RunningFix {
    const current = this.running.get(pr);
    if (current) return current;
    this.running.set(pr, fix);
    return fix;
  }

  /** Removes the registration of `jobId` (and only that one). */
  release(pr: string, jobId: string): void {
    if (this.running.get(pr)?.jobId === jobId) this.running.delete(pr);
  }

  /** For tests: forget every registration (the worker-process mark stays). */
  clear(): void {
    this.running.clear();
  }
}

/** The process-wide registry shared by the command handlers and the fix job. */
export const runningFixes = new FixRegistry();

export function fixKey(owner: string, repo: string, pr: number): string {
  return `${owner}/${repo}#${pr}`.toLowerCase();
}
