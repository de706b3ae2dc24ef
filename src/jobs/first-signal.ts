import type { Logger } from "pino";
import { autoReviewSkip, type AutoReviewSettings } from "../config/auto-review.js";
import { CheckRun, type Conclusion } from "../github/checks.js";
import type { Octokit, RepoCoords } from "../github/client.js";
import { fetchPull } from "../github/pulls.js";
import { reactToCommand } from "../github/threads.js";
import type { RunStore } from "../store/runs.js";
import type { Job } from "../types.js";
import { placeLabel, type JobQueue, type QueuePosition, type SentSignal, type SignalClaims } from "./queue.js";
import type { JobRunTracker } from "./run-tracker.js";
import { checkName } from "./review.js";

/**
 * Issue 23: a pull request shows at once that the bot has it, even when every worker is busy. When
 * the queue accepts a job, the intake (this module, from recording-queue.ts) sends its first signals
 * in the background, after the webhook's answer: a `queued` check run on the head (external_id = the
 * job id, the worker's check run name) whose summary says where the job stands, and the 👀 on a
 * command. Both are recorded in the job's effect ledger and handed over through SignalClaims, so the
 * worker takes the check run over (in_progress, then completed) and does not react twice; a superseded
 * job completes it as cancelled (abandoned.ts).
 */

/**
 * The check run a job shows from the moment it is queued, or null for none. One function for the
 * intake and the worker, so the names cannot drift apart.
 *
 * Review and audit: their worker creates exactly this check run (review.ts), so it takes the queued
 * one over. Fix, tests and ask get none: ask has no check run, and a fix's worker opens its own
 * (fix-check.ts) without taking a queued one over; the 👀 is their first signal.
 */
export function firstSignalCheckName(job: Job, auto: AutoReviewSettings | null = null): string | null {
  if (continuesAnother(job)) return null;
  if (job.trigger.kind === "event" && job.pull) {
    // The repository's auto_review settings as a worker last read them: a push whose review they
    // skip gets no queued check run that would only end "skipped".
    if (auto) {
      if (autoReviewSkip(auto, job.pull) !== null) return null;
    } else if (job.pull.isDraft) {
      // Unknown settings: drafts are skipped by default (auto_review.drafts), so no queued check run
      // on every draft push; if the repository reviews drafts, its worker creates the check run.
      return null;
    }
  }
  if (job.mode === "review" || job.mode === "audit") return checkName({ job }, job.mode);
  return null;
}

/** A command gets 👀 when its worker would send one: every command but an unknown word (help answers it). */
export function wantsEyes(job: Job): boolean {
  return job.trigger.kind === "command" && job.trigger.unknownWord === undefined && !continuesAnother(job);
}

/**
 * A job put back on the queue while GitHub was unavailable (jobs/defer.ts, `job.resume`) carries on
 * the check run and the 👀 of the job it continues: it has its first signals already.
 */
function continuesAnother(job: Job): boolean {
  return (job as { resume?: unknown }).resume !== undefined;
}

/** The queued check run's title and summary for a place in the queue (pure). */
export function queuedOutput(job: Job, position: QueuePosition | null): { title: string; summary: string } {
  const what = job.mode === "audit" ? "audit" : "review";
  const head = job.pull ? ` of \`${job.pull.headSha.slice(0, 12)}\`` : "";
  if (!position) {
    return { title: "Queued", summary: `This ${what}${head} is waiting for a free worker; this check run starts when one takes it.` };
  }
  const title = position.ahead === 0 ? "Queued: next in line" : `Queued: ${placeLabel(position.ahead)} in line`;
  const lines: string[] = [];
  const running = position.running === 0 ? "" : ` ${position.running} ${position.running === 1 ? "job is" : "jobs are"} running for this installation.`;
  if (position.ahead === 0) {
    lines.push(`This ${what}${head} starts when a worker is free.${running}`);
  } else {
    const named = position.aheadInRepo.map((a) => `#${a.prNumber} (${a.mode})`);
    const others = position.ahead - named.length;
    const before =
      named.length === 0
        ? `${position.ahead} ${position.ahead === 1 ? "job" : "jobs"} in other repositories`
        : `${named.join(", ")}${others > 0 ? ` and ${others} more ${others === 1 ? "job" : "jobs"} elsewhere` : ""}`;
    lines.push(`This ${what}${head} is waiting for a free worker. Before it: ${before}.${running}`);
  }
  lines.push("This check run turns in progress when a worker takes the job; the place shown is updated when it changes noticeably.");
  return { title, summary: lines.join("\n\n") };
}

/**
 * Whether a queued check run is worth rewriting (pure): when the job becomes next, or its place moved
 * by at least a quarter (and by 2 or more). Not on every job that starts before it: with a long
 * queue that would be a write per job per start, all paced at one a second.
 */
export function worthUpdating(shown: QueuePosition | null, now: QueuePosition): boolean {
  if (!shown) return true;
  if (now.ahead === 0) return shown.ahead !== 0;
  const moved = Math.abs(shown.ahead - now.ahead);
  return moved >= 2 && moved >= Math.ceil(shown.ahead / 4);
}

/** Which of a lane's writes go first: lower first. */
export const SignalTier = {
  /** The first thing a delivery shows: a command's 👀, a pull request's queued check run. */
  First: 0,
  /** A command's check run, after its 👀. */
  Second: 1,
  /** A queued check run's new place. */
  Update: 2,
} as const;
export type SignalTier = (typeof SignalTier)[keyof typeof SignalTier];

/**
 * One write at a time per installation, at least `spacingMs` apart, in three tiers (SignalTier):
 * each delivery's first sign of life (a command's 👀, a pull request's check run), then a command's
 * check run (its asker already has the 👀), then place updates. A task is asked right before its
 * turn whether it still wants to write, so a job a worker took while its first signal waited here
 * sends nothing (the worker creates its own check run).
 *
 * Why our own pacer on a client of its own, not the installation's client: Octokit's throttling
 * plugin paces every write of an installation (throttle id = installation id) through one
 * process-wide Bottleneck limiter, one a second, first come first served; a burst of deliveries
 * would wait behind the reviews and comments the workers are posting, and Bottleneck priorities
 * cannot be set per request through Octokit. So first signals go through a client whose throttle id
 * is `first-signal:<installation>` (its own lane in the plugin, still with its rate-limit handling),
 * and this pacer keeps that lane at GitHub's one write a second per installation. The two lanes
 * together can reach two writes a second for an installation during a burst; first signals are one
 * or two writes per delivery, so they add at most the delivery rate.
 */
export class InstallationPacer {
  private readonly lanes = new Map<number, { next: number; tasks: { tier: SignalTier; run: () => Promise<boolean> }[]; busy: boolean }>();

  constructor(private readonly spacingMs = 1_000) {}

  /**
   * Runs `write` in its turn; resolves when it ran. `write` says whether it sent a request (false: it
   * had nothing left to do, and the next write need not wait), and handles its own errors: one that
   * throws is counted as sent (it may have reached GitHub) and this still resolves.
   */
  schedule(installationId: number, tier: SignalTier, write: () => Promise<boolean>): Promise<void> {
    let lane = this.lanes.get(installationId);
    if (!lane) {
      lane = { next: 0, tasks: [], busy: false };
      this.lanes.set(installationId, lane);
    }
    return new Promise<void>((resolve) => {
      const run = async (): Promise<boolean> => {
        try {
          return await write();
        } catch {
          return true;
        } finally {
          resolve();
        }
      };
      // Before the first task of a later tier; within a tier, in arrival order.
      const at = lane.tasks.findIndex((t) => t.tier > tier);
      if (at < 0) lane.tasks.push({ tier, run });
      else lane.tasks.splice(at, 0, { tier, run });
      void this.drain(installationId);
    });
  }

  private async drain(installationId: number): Promise<void> {
    const lane = this.lanes.get(installationId);
    if (!lane || lane.busy) return;
    lane.busy = true;
    try {
      for (let task = lane.tasks.shift(); task; task = lane.tasks.shift()) {
        const wait = lane.next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const started = Date.now();
        if (await task.run()) lane.next = started + this.spacingMs;
      }
    } finally {
      lane.busy = false;
      if (lane.tasks.length > 0) void this.drain(installationId);
      else this.forgetIdleLanes();
    }
  }

  /** An idle lane is kept until its spacing has passed: a write arriving sooner still waits its turn. */
  private forgetIdleLanes(): void {
    const now = Date.now();
    for (const [id, lane] of this.lanes) if (!lane.busy && lane.tasks.length === 0 && lane.next <= now) this.lanes.delete(id);
  }
}

export interface FirstSignalOptions {
  /** An installation client for first signals only (see InstallationPacer for why its own). */
  octokit: (installationId: number) => Promise<Octokit>;
  /** Positions and the hand-over to workers; a queue without them gets no first signals. */
  queue: Pick<JobQueue, "position" | "signals">;
  /** The effect ledger lives here (null: no run history, the hand-over still works). */
  runs: RunStore | null;
  log: Logger;
  /** How often queued check runs are looked at for a changed place. Default 5 s. */
  refreshMs?: number;
  /** Spacing of this process's first-signal writes per installation. Default 1 s. */
  spacingMs?: number;
}

/** How long an installation's first-signal client is reused. */
const CLIENT_TTL_MS = 10 * 60_000;

interface Tracked {
  job: Job;
  check: CheckRun;
  shown: QueuePosition | null;
}

/** The intake's side: sends first signals and keeps their queued check runs' places current. */
export class FirstSignals {
  private readonly pacer: InstallationPacer;
  private readonly tracked = new Map<string, Tracked>();
  private readonly clients = new Map<number, { at: number; client: Promise<Octokit> }>();
  private readonly timer: NodeJS.Timeout;
  private refreshing = false;

  constructor(private readonly options: FirstSignalOptions) {
    this.pacer = new InstallationPacer(options.spacingMs ?? 1_000);
    this.timer = setInterval(() => void this.refresh(), options.refreshMs ?? 5_000);
    this.timer.unref();
  }

  /**
   * Sends the job's first signals. Call after the queue accepted the job and without awaiting it on
   * the webhook's path: it never rejects, and every failure is logged.
   */
  async send(job: Job): Promise<void> {
    const claims = this.options.queue.signals;
    const name = firstSignalCheckName(job, this.knownAutoReview(job));
    const eyes = wantsEyes(job);
    if (!claims || (name === null && !eyes)) return;
    const log = this.options.log.child({ jobId: job.id, pr: job.prNumber, repo: `${job.repo.owner}/${job.repo.name}` });
    const coords: RepoCoords = { owner: job.repo.owner, repo: job.repo.name };
    const sent: SentSignal = { checkRunId: null, checkRunName: null, checkRunHead: null, reacted: false };
    let claimed = false;
    // Set inside the paced writes (closures): an object, so the compiler does not narrow them to null.
    const made: { check: CheckRun | null; shown: QueuePosition | null } = { check: null, shown: null };
    try {
      const octokit = await this.client(job.installationId);
      // A command carries no head: read it now (a read, not paced), as the worker will when it starts.
      const headSha = name === null ? null : (job.pull?.headSha ?? (await fetchPull(octokit, coords, job.prNumber)).headSha);
      // The claim waits for the job's turn to write: a worker that took the job meanwhile sends its own.
      const claim = async (): Promise<boolean> => {
        if (claimed) return true;
        if ((await this.options.queue.position?.(job)) === null) return false;
        claimed = await claims.claim(job.id);
        return claimed;
      };
      if (eyes && job.trigger.kind === "command") {
        const trigger = job.trigger;
        await this.pacer.schedule(job.installationId, SignalTier.First, async () => {
          if (!(await claim())) return false;
          try {
            this.ledger(log, (r) => r.effects.intend(job.id, "reaction", "eyes"));
            await reactToCommand(octokit, coords, trigger, "eyes");
            sent.reacted = true;
            this.ledger(log, (r) => r.effects.created(job.id, "reaction", "eyes", { githubId: trigger.commentId }));
          } catch (err) {
            log.warn({ err }, "could not react 👀 to the command at intake; its worker reacts when it starts");
          }
          return true;
        });
      }
      if (name !== null && headSha !== null) {
        // A command's check run waits behind other deliveries' first signals: its asker has the 👀.
        const tier = eyes && job.trigger.kind === "command" ? SignalTier.Second : SignalTier.First;
        await this.pacer.schedule(job.installationId, tier, async () => {
          if (!(await claim())) return false;
          try {
            await this.createQueued(job, octokit, coords, name, headSha, sent, made, log);
          } catch (err) {
            log.warn({ err }, "could not create the queued check run; its worker creates the check run when it starts");
          }
          return true;
        });
      }
      if (sent.checkRunId !== null || sent.reacted) log.info({ checkRunId: sent.checkRunId, reacted: sent.reacted, ahead: made.shown?.ahead }, "first signal sent");
    } catch (err) {
      log.warn({ err }, "could not send the job's first signal; its worker sends it when it starts");
    } finally {
      if (claimed) {
        await claims.publish(job.id, sent).catch((err: unknown) => log.warn({ err }, "could not hand the first signal over to the worker"));
      }
    }
    if (made.check) this.tracked.set(job.id, { job, check: made.check, shown: made.shown });
  }

  private async createQueued(
    job: Job,
    octokit: Octokit,
    coords: RepoCoords,
    name: string,
    headSha: string,
    sent: SentSignal,
    made: { check: CheckRun | null; shown: QueuePosition | null },
    log: Logger,
  ): Promise<void> {
    made.shown = (await this.options.queue.position?.(job)) ?? null;
    const output = queuedOutput({ ...job, pull: job.pull ?? ({ headSha } as Job["pull"]) }, made.shown);
    // queuedOn: the worker turns it in_progress without reading it back when its head is still this one.
    this.ledger(log, (r) => r.effects.intend(job.id, "check_run", name, { queuedOn: headSha }));
    const check = await CheckRun.queue(octokit, coords, { name, headSha, externalId: job.id, ...output });
    made.check = check;
    sent.checkRunId = check.id;
    sent.checkRunName = name;
    sent.checkRunHead = headSha;
    const id = check.id;
    this.ledger(log, (r) => {
      const run = r.byJob(job.id);
      // recordCheckRun fills the ledger too. No run: a web-only process keeps none, or the intake has not
      // recorded it yet (it waits for a lull); RunStore.create() then takes the check run from the ledger.
      if (run) r.recordCheckRun(run.id, id, name);
      else r.effects.created(job.id, "check_run", name, { githubId: id, url: check.url });
      if (run && check.url) r.link(run.id, { checkRun: check.url });
    });
  }

  /**
   * The installation's first-signal client, made once per CLIENT_TTL_MS: building an Octokit (its
   * plugins, its REST method tree) per delivery was a measurable share of the intake's time on a
   * burst. Its auth strategy renews the installation token itself.
   */
  private client(installationId: number): Promise<Octokit> {
    const now = Date.now();
    const cached = this.clients.get(installationId);
    if (cached && now - cached.at < CLIENT_TTL_MS) return cached.client;
    const client = this.options.octokit(installationId);
    this.clients.set(installationId, { at: now, client });
    // A failed creation is not kept: the next delivery tries again.
    client.catch(() => {
      if (this.clients.get(installationId)?.client === client) this.clients.delete(installationId);
    });
    return client;
  }

  /** The repository's auto_review settings as a worker last read them, for a pull request event; else null. */
  private knownAutoReview(job: Job): AutoReviewSettings | null {
    if (job.trigger.kind !== "event" || !this.options.runs) return null;
    try {
      return this.options.runs.autoReview.recall(`${job.repo.owner}/${job.repo.name}`);
    } catch (err) {
      this.options.log.warn({ err, jobId: job.id }, "could not read the repository's auto_review settings");
      return null;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.tracked.clear();
    this.clients.clear();
  }

  /** Rewrites queued check runs whose place changed noticeably; drops the ones a worker took. */
  private async refresh(): Promise<void> {
    if (this.refreshing || this.tracked.size === 0) return;
    this.refreshing = true;
    const claims = this.options.queue.signals!;
    try {
      for (const [id, t] of [...this.tracked]) {
        try {
          const now = await this.options.queue.position?.(t.job);
          if (!now || (await claims.taken(id))) {
            this.tracked.delete(id);
            continue;
          }
          if (!worthUpdating(t.shown, now)) continue;
          t.shown = now;
          void this.pacer.schedule(t.job.installationId, SignalTier.Update, async () => {
            // Taken while waiting for its turn: the check run is the worker's now.
            if (!this.tracked.has(id) || (await claims.taken(id))) return false;
            const output = queuedOutput(t.job.pull ? t.job : { ...t.job, pull: null }, now);
            await t.check.progress(output.title, output.summary).catch((err: unknown) =>
              this.options.log.warn({ err, jobId: id }, "could not update the queued check run's place"),
            );
            return true;
          });
        } catch (err) {
          this.options.log.warn({ err, jobId: id }, "could not read the queued job's place");
        }
      }
    } finally {
      this.refreshing = false;
    }
  }

  private ledger(log: Logger, write: (runs: RunStore) => void): void {
    if (!this.options.runs) return;
    try {
      write(this.options.runs);
    } catch (err) {
      log.warn({ err }, "could not record the first signal in the run store");
    }
  }
}

/**
 * The worker's side, first of all (before the run record is read): takes the job's first signal over,
 * waiting a moment while the intake is still sending it. Marks the job taken, so the intake sends
 * nothing more and stops updating the queued check run.
 */
export async function takeOverFirstSignal(claims: SignalClaims | undefined, job: Job, log: Logger, waitMs = 15_000): Promise<SentSignal | null | "unknown"> {
  if (!claims || (firstSignalCheckName(job) === null && !wantsEyes(job))) return null;
  try {
    return await claims.takeOver(job.id, waitMs);
  } catch (err) {
    log.warn({ err }, "could not take the first signal over; looking for it on GitHub");
    return "unknown";
  }
}

/**
 * Then, once the run record is open: records what the intake sent on this run (another process's
 * intake kept it in its own store), so openCheckRun continues that check run and the 👀 is not sent
 * twice. Returns whether the 👀 was sent.
 */
export function adoptFirstSignal(
  sent: SentSignal | null | "unknown",
  job: Job,
  run: Pick<JobRunTracker, "checkRunId" | "ownCheckRun" | "effects">,
): { reacted: boolean } {
  const name = firstSignalCheckName(job);
  if (sent === "unknown") {
    // It may exist: an intended check run makes openCheckRun look for it by external_id first.
    if (name !== null && run.checkRunId === null) run.effects.intend("check_run", name);
    return { reacted: reacted(run) };
  }
  if (sent?.checkRunId != null && sent.checkRunName !== null && run.checkRunId === null) {
    // Sent by another process's intake: this store learns it here, with the head it was queued on.
    if (sent.checkRunHead) run.effects.intend("check_run", sent.checkRunName, { queuedOn: sent.checkRunHead });
    run.ownCheckRun(sent.checkRunId, sent.checkRunName);
  }
  if (sent?.reacted && !reacted(run)) run.effects.created("reaction", "eyes", { githubId: job.trigger.kind === "command" ? job.trigger.commentId : 0 });
  return { reacted: (sent?.reacted ?? false) || reacted(run) };
}

function reacted(run: Pick<JobRunTracker, "effects">): boolean {
  const state = run.effects.get("reaction", "eyes")?.state;
  return state === "created" || state === "completed";
}

/**
 * The queued check run this job's intake created on `headSha`, to be turned in_progress as it is: null
 * when it has none, or it is on another head, or an attempt before this one may have changed it.
 */
export function queuedCheckRunOn(run: Pick<JobRunTracker, "attempt" | "checkRunId" | "effects">, name: string, headSha: string): number | null {
  if (run.attempt > 1 || run.checkRunId === null) return null;
  const effect = run.effects.get("check_run", name);
  const queuedOn = (effect?.detail as { queuedOn?: string } | null | undefined)?.queuedOn;
  return effect?.state === "created" && queuedOn === headSha && effect.githubId === String(run.checkRunId) ? run.checkRunId : null;
}

/**
 * A job that ends before its review starts (refused, invalid config, an automatic review skipped)
 * completes the check run it already has, the queued one from its intake, instead of leaving it
 * queued. False when it has none (the caller then does what it did before first signals).
 */
export async function completeFirstCheckRun(
  octokit: Octokit,
  coords: RepoCoords,
  job: Job,
  run: Pick<JobRunTracker, "checkRunId" | "effects">,
  output: { conclusion: Conclusion; title: string; summary: string },
): Promise<boolean> {
  const name = firstSignalCheckName(job);
  if (name === null || run.checkRunId === null) return false;
  await CheckRun.existing(octokit, coords, run.checkRunId).complete(output);
  run.effects.completed("check_run", name, run.checkRunId);
  return true;
}
