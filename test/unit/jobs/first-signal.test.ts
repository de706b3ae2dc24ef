import path from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { AutoReviewSettings } from "../../../src/config/auto-review.js";
import { DEFAULT_CONFIG } from "../../../src/config/schema.js";
import type { Octokit } from "../../../src/github/client.js";
import {
  FirstSignals,
  firstSignalCheckName,
  InstallationPacer,
  SignalTier,
  queuedOutput,
  takeOverFirstSignal,
  wantsEyes,
  worthUpdating,
} from "../../../src/jobs/first-signal.js";
import { MemoryQueue } from "../../../src/jobs/memory-queue.js";
import { RecordingQueue } from "../../../src/jobs/recording-queue.js";
import { RunStore } from "../../../src/store/runs.js";
import { CHECK_NAMES } from "../../../src/jobs/review.js";
import { LocalSignalClaims } from "../../../src/jobs/signal-claims.js";
import { controlledWorker, makeJob, waitFor } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const log = pino({ level: "silent" });

/** Writes for the pacer that record what ran and when (ms since the recorder was made). */
function writeRecorder() {
  const t0 = Date.now();
  const log: { what: string; at: number }[] = [];
  const write = (what: string) => async () => {
    log.push({ what, at: Date.now() - t0 });
    return true;
  };
  return { log, write };
}

const at = (ahead: number, aheadInRepo: { prNumber: number; mode: "review" | "audit" }[] = []) => ({ ahead, running: 2, aheadInRepo });

describe("first signals (issue 23)", () => {
  it("review and audit get the worker's check run name; fix, tests, ask none; commands but unknown words get 👀", () => {
    expect(firstSignalCheckName(makeJob())).toBe(CHECK_NAMES.review);
    expect(firstSignalCheckName(makeJob({ mode: "audit", command: true }))).toBe(CHECK_NAMES.audit);
    expect(firstSignalCheckName(makeJob({ retry: { of: "x", executors: ["claude"], reason: "r", earlier: [] } }))).toBe(`${CHECK_NAMES.review} (retry: claude)`);
    for (const mode of ["fix", "tests", "ask", "help"] as const) expect(firstSignalCheckName(makeJob({ mode, command: true }))).toBeNull();
    // A draft's automatic review is skipped unless the repository asks for drafts: no queued check run.
    const draft = makeJob();
    expect(firstSignalCheckName({ ...draft, pull: { ...draft.pull!, isDraft: true } })).toBeNull();
    expect(wantsEyes(makeJob())).toBe(false);
    expect(wantsEyes(makeJob({ mode: "fix", command: true }))).toBe(true);
    const unknown = makeJob({ mode: "help", command: true });
    expect(wantsEyes({ ...unknown, trigger: { ...(unknown.trigger as object), unknownWord: "dance" } as typeof unknown.trigger })).toBe(false);
  });

  it("the summary says the place and what runs before it, naming only this repository's pull requests", () => {
    const job = makeJob();
    expect(queuedOutput(job, at(0)).title).toBe("Queued: next in line");
    const third = queuedOutput(job, at(4, [{ prNumber: 12, mode: "review" }, { prNumber: 15, mode: "audit" }]));
    expect(third.title).toBe("Queued: 5th in line");
    expect(third.summary).toContain("Before it: #12 (review), #15 (audit) and 2 more jobs elsewhere.");
    expect(third.summary).toContain("2 jobs are running");
    expect(queuedOutput(job, at(1)).summary).toContain("Before it: 1 job in other repositories.");
  });

  it("is rewritten when the job becomes next or its place moved by a quarter (2 at least), not on every start", () => {
    expect(worthUpdating(null, at(5))).toBe(true);
    expect(worthUpdating(at(1), at(0))).toBe(true);
    expect(worthUpdating(at(0), at(0))).toBe(false);
    expect(worthUpdating(at(3), at(2))).toBe(false);
    expect(worthUpdating(at(3), at(1))).toBe(true);
    expect(worthUpdating(at(40), at(32))).toBe(false);
    expect(worthUpdating(at(40), at(30))).toBe(true);
  });

  it("LocalSignalClaims: the intake's claim and a worker's take-over never both win", async () => {
    const claims = new LocalSignalClaims();
    // The worker first: the intake sends nothing.
    expect(await claims.takeOver("a", 10)).toBeNull();
    expect(await claims.claim("a")).toBe(false);
    // The intake first: the worker waits for what it sent.
    expect(await claims.claim("b")).toBe(true);
    const taking = claims.takeOver("b", 1_000);
    expect(await claims.taken("b")).toBe(true);
    await claims.publish("b", { checkRunId: 7, checkRunName: "n", reacted: true });
    expect(await taking).toEqual({ checkRunId: 7, checkRunName: "n", reacted: true });
    // Still sending after the wait: "unknown" (the worker looks for it on GitHub).
    expect(await claims.claim("c")).toBe(true);
    expect(await claims.takeOver("c", 20)).toBe("unknown");
    // Sent before the worker came: handed over at once.
    expect(await claims.claim("d")).toBe(true);
    await claims.publish("d", { checkRunId: 9, checkRunName: "n", reacted: false });
    expect(await claims.taken("d")).toBe(false);
    expect(await claims.takeOver("d", 0)).toEqual({ checkRunId: 9, checkRunName: "n", reacted: false });
  });

  it("InstallationPacer: writes of one installation a spacing apart, by tier (first signals, commands' check runs, updates), installations independent", async () => {
    const pacer = new InstallationPacer(100);
    const { log, write } = writeRecorder();
    await Promise.all([
      pacer.schedule(1, SignalTier.First, write("1a")),
      pacer.schedule(1, SignalTier.Update, write("1-update")),
      pacer.schedule(1, SignalTier.Second, write("1-command-check")),
      pacer.schedule(1, SignalTier.First, write("1b")),
      pacer.schedule(2, SignalTier.First, write("2a")),
    ]);
    expect(log.map((l) => l.what)).toEqual(["1a", "2a", "1b", "1-command-check", "1-update"]);
    const at1 = log.filter((l) => l.what.startsWith("1")).map((l) => l.at);
    for (let i = 1; i < at1.length; i++) expect(at1[i]! - at1[i - 1]!).toBeGreaterThanOrEqual(95);
    expect(log.find((l) => l.what === "2a")!.at).toBeLessThan(50);
  });

  it("InstallationPacer: a pull request's check run goes before a command's check run queued earlier, and spacing holds across an idle lane", async () => {
    const pacer = new InstallationPacer(80);
    const { log, write: w } = writeRecorder();
    await pacer.schedule(7, SignalTier.First, w("eyes A"));
    const checkA = pacer.schedule(7, SignalTier.Second, w("check A"));
    const pr = pacer.schedule(7, SignalTier.First, w("check PR 1"));
    await Promise.all([checkA, pr]);
    expect(log.map((l) => l.what)).toEqual(["eyes A", "check PR 1", "check A"]);
    // The lane went idle; a write 20 ms later still waits for the spacing since the last one.
    await new Promise((r) => setTimeout(r, 20));
    await pacer.schedule(7, SignalTier.First, w("eyes B"));
    const at = log.map((l) => l.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(75);
  });
});

describe("FirstSignals.send with the queue's hand-over (issue 23)", () => {
  function fakeOctokit() {
    const calls: { what: string; body: Record<string, unknown> }[] = [];
    let id = 500;
    const octokit = {
      rest: {
        checks: {
          create: async (body: Record<string, unknown>) => {
            calls.push({ what: "create", body });
            return { data: { id: ++id, html_url: `https://github.com/o/r/runs/${id}` } };
          },
          update: async (body: Record<string, unknown>) => {
            calls.push({ what: "update", body });
            return { data: {} };
          },
        },
        reactions: {
          createForIssueComment: async (body: Record<string, unknown>) => {
            calls.push({ what: "eyes", body });
            return { data: {} };
          },
        },
      },
    };
    return { octokit: octokit as unknown as Octokit, calls };
  }

  it("a job waiting for a busy worker gets a queued check run and its 👀, recorded, and its worker takes them over", async () => {
    const { octokit, calls } = fakeOctokit();
    const runs = new RunStore(":memory:");
    const inner = new MemoryQueue({ concurrency: 1, log });
    const signals = new FirstSignals({ octokit: async () => octokit, queue: inner, runs, log, spacingMs: 10 });
    const queue = new RecordingQueue(inner, runs, log, signals);
    const w = controlledWorker();
    queue.start(w.worker);
    const busy = makeJob({ pr: 1 });
    await queue.enqueue(busy);
    await waitFor(() => w.started.length === 1, "the busy job");
    // The memory queue started it within enqueue(): the intake sends nothing, its worker makes its own.
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([]);

    const command = { ...makeJob({ pr: 2, mode: "audit", command: true }), pull: null };
    const withHead = { ...command, pull: busy.pull };
    await queue.enqueue(withHead);
    await waitFor(() => calls.some((c) => c.what === "create") && calls.some((c) => c.what === "eyes"), "the command's first signals");
    // The 👀 first: it is what the person who asked looks for.
    expect(calls.map((c) => c.what)).toEqual(["eyes", "create"]);
    const created = calls.filter((c) => c.what === "create").at(-1)!;
    expect(created.body).toMatchObject({ name: CHECK_NAMES.audit, status: "queued", external_id: withHead.id });
    expect((created.body.output as { title: string }).title).toBe("Queued: next in line");
    const run = runs.byJob(withHead.id)!;
    expect(run.checkRunId).toBe(501);
    expect(runs.effects.get(withHead.id, "reaction", "eyes")?.state).toBe("created");

    // Its worker: the check run and the 👀 are handed over, and the intake stops touching them.
    w.finish(busy.id);
    await waitFor(() => w.started.length === 2, "the command's job");
    const sent = await takeOverFirstSignal(queue.signals, withHead, log);
    expect(sent).toEqual({ checkRunId: run.checkRunId, checkRunName: CHECK_NAMES.audit, checkRunHead: busy.pull!.headSha, reacted: true });
    // The ledger keeps the head it was queued on: its worker turns it in_progress without reading it back.
    expect(runs.effects.get(withHead.id, "check_run", CHECK_NAMES.audit)?.detail).toEqual({ queuedOn: busy.pull!.headSha });
    expect(await queue.signals!.taken(withHead.id)).toBe(true);
    w.finish(withHead.id);
    await queue.stop(0);
    runs.close();
  });

  it("a job a free worker takes at once: exactly one of intake and worker creates its check run", async () => {
    const { octokit, calls } = fakeOctokit();
    const inner = new MemoryQueue({ concurrency: 2, log });
    const signals = new FirstSignals({ octokit: async () => octokit, queue: inner, runs: null, log, spacingMs: 10 });
    const queue = new RecordingQueue(inner, null, log, signals);
    const own: string[] = [];
    queue.start(async (job) => {
      const sent = await takeOverFirstSignal(queue.signals, job, log);
      if (sent === null || sent === "unknown" || sent.checkRunId === null) own.push(job.id);
    });
    const jobs = [makeJob({ pr: 1 }), makeJob({ pr: 2 }), makeJob({ pr: 3 })];
    for (const j of jobs) await queue.enqueue(j);
    await queue.idle();
    await new Promise((r) => setTimeout(r, 100));
    const byIntake = calls.filter((c) => c.what === "create").map((c) => c.body.external_id);
    expect([...byIntake, ...own].sort()).toEqual(jobs.map((j) => j.id).sort());
    await queue.stop(0);
  });
});

describe("first signals follow the repository's auto_review settings as a worker last read them", () => {
  const auto = (over: Partial<AutoReviewSettings> = {}): AutoReviewSettings => ({ ...DEFAULT_CONFIG.auto_review, ...over });

  it("no queued check run for a push the settings skip; unknown settings keep the defaults (drafts skipped)", () => {
    const push = makeJob();
    const draft = { ...push, pull: { ...push.pull!, isDraft: true } };
    expect(firstSignalCheckName(push, null)).toBe(CHECK_NAMES.review);
    expect(firstSignalCheckName(draft, null)).toBeNull();
    expect(firstSignalCheckName(push, auto({ enabled: false }))).toBeNull();
    expect(firstSignalCheckName(push, auto({ base_branches: ["release/*"] }))).toBeNull();
    expect(firstSignalCheckName(push, auto({ ignore_authors: [push.pull!.author.toUpperCase()] }))).toBeNull();
    expect(firstSignalCheckName(draft, auto({ drafts: true }))).toBe(CHECK_NAMES.review);
    // A command is a request: the settings don't silence it.
    expect(firstSignalCheckName(makeJob({ mode: "audit", command: true }), auto({ enabled: false }))).toBe(CHECK_NAMES.audit);
  });

  it("the intake reads them from the run store: nothing at all for a repository whose automatic reviews are off", async () => {
    const created: unknown[] = [];
    const octokit = { rest: { checks: { create: async (b: unknown) => (created.push(b), { data: { id: 1, html_url: "u" } }) } } } as unknown as Octokit;
    const dir = makeTempDir("auto-review-memo");
    const runs = new RunStore(path.join(dir, "runs.sqlite"));
    // No worker takes the jobs: every one waits, as behind busy workers.
    const inner = new MemoryQueue({ concurrency: 1, log });
    let made = 0;
    const factory = async (): Promise<Octokit> => {
      made++;
      return octokit;
    };
    const signals = new FirstSignals({ octokit: factory, queue: inner, runs, log, spacingMs: 1 });
    const queue = new RecordingQueue(inner, runs, log, signals);
    const job = makeJob({ pr: 3 });
    const repo = `${job.repo.owner}/${job.repo.name}`;
    expect(runs.autoReview.recall(repo)).toBeNull();
    runs.autoReview.remember(repo, auto({ enabled: false }));
    await queue.enqueue(job);
    await new Promise((r) => setTimeout(r, 100));
    expect(created).toEqual([]);
    // Another process (a worker) read them turned back on: the next push is signalled.
    const other = new RunStore(path.join(dir, "runs.sqlite"));
    other.autoReview.remember(repo, auto());
    other.close();
    await queue.enqueue(makeJob({ pr: 4 }));
    await waitFor(() => created.length === 1, "the queued check run of the next push");
    await queue.enqueue(makeJob({ pr: 5 }));
    await waitFor(() => created.length === 2, "the queued check run of a third push");
    // One client for the installation, not one per delivery.
    expect(made).toBe(1);
    signals.stop();
    runs.close();
  });
});
