import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { migrate, openDatabase } from "../../../src/store/db.js";
import { newRunId, RUN_MIGRATIONS, RunNotFoundError, RunStore, type LocalRunInit, type RunStoreOptions } from "../../../src/store/runs.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("runs");
let seq = 0;
const stores: RunStore[] = [];

function store(options: RunStoreOptions = {}): RunStore {
  const s = new RunStore(path.join(dir, `runs-${++seq}.sqlite`), options);
  stores.push(s);
  return s;
}

afterEach(() => {
  vi.useRealTimers();
  for (const s of stores.splice(0)) s.close();
});

const usage = { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300, reasoningOutputTokens: 50 };

describe("RunStore", () => {
  it("records a run from enqueue to outcome, with phase timings", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
    const runs = store();
    const job = makeJob({ pr: 7 });
    const id = runs.create(job, { executors: ["codex"] });
    expect(runs.get(id)).toMatchObject({ status: "queued", repo: "o/r", prNumber: 7, jobId: job.id, attempts: 0 });

    vi.setSystemTime(1_002_500);
    runs.start(id);
    runs.phase(id, "checkout", 1200);
    runs.phase(id, "agent", 60_000.4);
    runs.link(id, { checkRun: "https://github.com/o/r/runs/1" });
    runs.phase(id, "publish", 800);
    vi.setSystemTime(1_070_000);
    runs.finish(id, { status: "succeeded", findings: 3, usage, costUsd: 0.0123, links: { review: "https://github.com/o/r/pull/7#r" } });

    const run = runs.get(id)!;
    expect(run).toMatchObject({
      status: "succeeded",
      attempts: 1,
      queuedAt: 1_000_000,
      startedAt: 1_002_500,
      finishedAt: 1_070_000,
      phases: { queue: 2500, checkout: 1200, agent: 60_000, publish: 800 },
      findings: 3,
      usage,
      costUsd: 0.0123,
      executors: ["codex"],
      headSha: job.pull!.headSha,
      trigger: job.trigger,
      links: { checkRun: "https://github.com/o/r/runs/1", review: "https://github.com/o/r/pull/7#r" },
      error: null,
      events: [],
      diff: null,
    });
    expect(runs.byJob(job.id)?.id).toBe(id);
  });

  it("fills in what the worker learns later and restarts a retried run", () => {
    const runs = store();
    const id = runs.create(makeJob({ command: true, mode: "fix" }));
    expect(runs.get(id)).toMatchObject({ headSha: null, prTitle: null });
    runs.describe(id, { headSha: "c".repeat(40), baseSha: "d".repeat(40), prTitle: "Fix it", executors: ["codex", "claude"] });
    runs.start(id);
    runs.finish(id, { status: "failed", error: "interrupted" });
    runs.start(id);
    expect(runs.get(id)).toMatchObject({
      status: "running",
      attempts: 2,
      finishedAt: null,
      error: null,
      headSha: "c".repeat(40),
      prTitle: "Fix it",
      executors: ["codex", "claude"],
    });
  });

  it("keeps the check run a job created across a retry, until another is recorded", () => {
    const runs = store();
    const job = makeJob({ pr: 3 });
    const id = runs.create(job);
    expect(runs.byJob(job.id)?.checkRunId).toBeNull();
    runs.start(id);
    runs.recordCheckRun(id, 1008);
    // The process died here; the retry starts the same run again and finds the check run.
    runs.start(id);
    expect(runs.byJob(job.id)).toMatchObject({ attempts: 2, checkRunId: 1008 });
    runs.finish(id, { status: "succeeded" });
    expect(runs.get(id)?.checkRunId).toBe(1008);
    expect(() => runs.recordCheckRun("nope", 1)).toThrow(RunNotFoundError);
  });


  it("a run recorded after its job's first signal made the check run carries it and its link", () => {
    const runs = store();
    const job = makeJob({ pr: 4 });
    // The intake's first signal came first: the ledger knows the check run, no run exists yet.
    runs.effects.created(job.id, "check_run", "codex-pr-bot / review", { githubId: 2024, url: "https://github.com/o/r/runs/2024" });
    runs.ensureAll([job]);
    const run = runs.byJob(job.id)!;
    expect(run.checkRunId).toBe(2024);
    expect(runs.get(run.id)?.links).toEqual({ pull: `${job.repo.htmlUrl}/pull/4`, checkRun: "https://github.com/o/r/runs/2024" });
    // Another job's check run is not this one's.
    const other = makeJob({ pr: 5 });
    runs.ensureAll([other]);
    expect(runs.byJob(other.id)?.checkRunId).toBeNull();
  });
  it("keeps the oldest event lines up to the cap and counts the rest", () => {
    const runs = store({ maxEventBytes: 100, maxEventLineBytes: 30 });
    const id = runs.create(makeJob());
    runs.appendEvents(id, ["one", "two"]);
    runs.appendEvents(id, ["x".repeat(50)]);
    runs.appendEvents(id, ["a".repeat(25), "b".repeat(25), "late"]);
    const run = runs.get(id)!;
    expect(run.events[0]).toBe("one");
    expect(run.events[1]).toBe("two");
    expect(run.events[2]).toBe(`${"x".repeat(30)}… [line cut at 30 bytes]`);
    // "a…" fits, "b…" would pass 100 bytes: it and everything after it are dropped, even "late".
    expect(run.events.slice(3)).toEqual(["a".repeat(25)]);
    expect(run.eventsDropped).toBe(2);
  });

  it("cuts a long diff at a line boundary and says so", () => {
    const runs = store({ maxDiffBytes: 20 });
    const id = runs.create(makeJob({ mode: "fix" }));
    runs.setDiff(id, "line one\nline two\nline three\n");
    expect(runs.get(id)).toMatchObject({ diff: "line one\nline two\n", diffTruncated: true });
    runs.setDiff(id, "small\n");
    expect(runs.get(id)).toMatchObject({ diff: "small\n", diffTruncated: false });
  });

  it("lists newest first with repo and status filters and a cursor", () => {
    const runs = store();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const job = makeJob({ pr: i + 1 });
      if (i % 2 === 1) job.repo = { ...job.repo, owner: "other" };
      const id = runs.create(job);
      if (i === 4) runs.finish(id, { status: "failed", error: "x" });
      ids.push(id);
    }
    expect(runs.list().map((r) => r.id)).toEqual([...ids].reverse());
    expect(runs.list({ repo: "other/r" }).map((r) => r.prNumber)).toEqual([4, 2]);
    expect(runs.list({ status: "failed" }).map((r) => r.prNumber)).toEqual([5]);
    const page1 = runs.list({ limit: 2 });
    const page2 = runs.list({ limit: 2, before: page1.at(-1)!.id });
    expect([...page1, ...page2].map((r) => r.prNumber)).toEqual([5, 4, 3, 2]);
    expect(runs.list({ limit: 0 })).toHaveLength(1);
  });

  it("prunes runs older than the retention age, with their logs", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const day = 24 * 60 * 60 * 1000;
    vi.setSystemTime(Date.UTC(2026, 0, 1));
    const runs = store();
    const old = runs.create(makeJob());
    runs.appendEvents(old, ["old event"]);
    runs.finish(old, { status: "succeeded" });
    vi.setSystemTime(Date.UTC(2026, 0, 1) + 40 * day);
    const recent = runs.create(makeJob());
    expect(runs.prune(30 * day)).toBe(1);
    expect(runs.get(old)).toBeNull();
    expect(runs.get(recent)).not.toBeNull();
    expect(runs.prune(30 * day)).toBe(0);
  });

  it("fails runs left unfinished by a previous process", () => {
    const runs = store();
    const queued = runs.create(makeJob({ pr: 1 }));
    const running = runs.create(makeJob({ pr: 2 }));
    runs.start(running);
    const done = runs.create(makeJob({ pr: 3 }));
    runs.finish(done, { status: "succeeded" });
    expect(runs.failUnfinished("the app restarted")).toBe(2);
    expect(runs.get(queued)).toMatchObject({ status: "failed", error: "the app restarted" });
    expect(runs.get(running)?.status).toBe("failed");
    expect(runs.get(done)?.status).toBe("succeeded");
  });

  it("refuses updates to a run that does not exist", () => {
    const runs = store();
    expect(() => runs.start("nope")).toThrow(RunNotFoundError);
    expect(() => runs.appendEvents("nope", ["x"])).toThrow(RunNotFoundError);
    expect(() => runs.finish("nope", { status: "failed" })).toThrow(RunNotFoundError);
    expect(runs.get("nope")).toBeNull();
  });

  it("shares one file with the queue and survives reopening", () => {
    const file = path.join(dir, "shared.sqlite");
    const db = openDatabase(file);
    const a = new RunStore(db);
    const id = a.create(makeJob());
    db.close();
    const reopened = new RunStore(file);
    expect(reopened.get(id)?.status).toBe("queued");
    reopened.close();
  });
});

function localRun(overrides: Partial<LocalRunInit> = {}): LocalRunInit {
  return {
    source: "cli",
    repo: "octo/demo",
    workdir: "/home/dev/demo",
    mode: "review",
    executors: ["codex"],
    baseRef: "main",
    headRef: "feature",
    baseSha: "b".repeat(40),
    headSha: "h".repeat(40),
    owner: { host: "laptop", pid: 4242 },
    ...overrides,
  };
}

describe("RunStore with local runs", () => {
  it("records a local review from start to outcome, without job, delivery, installation, PR or trigger", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(2_000_000);
    const runs = store();
    const id = runs.createLocal(localRun({ executors: ["codex", "claude"] }));
    expect(runs.get(id)).toMatchObject({
      source: "cli",
      status: "running",
      attempts: 1,
      queuedAt: 2_000_000,
      startedAt: 2_000_000,
      finishedAt: null,
      durationMs: null,
      jobId: null,
      deliveryId: null,
      installationId: null,
      prNumber: null,
      trigger: null,
      repo: "octo/demo",
      workdir: "/home/dev/demo",
      baseRef: "main",
      headRef: "feature",
      baseSha: "b".repeat(40),
      headSha: "h".repeat(40),
      executors: ["codex", "claude"],
      patchOutput: null,
    });
    vi.setSystemTime(2_041_000);
    runs.finish(id, { status: "succeeded", findings: 2, usage, costUsd: 0.01 });
    expect(runs.get(id)).toMatchObject({ status: "succeeded", findings: 2, usage, costUsd: 0.01, durationMs: 41_000, error: null });
  });

  it("keeps a fix's patch and where it went; the Action's run names its pull request", () => {
    const runs = store();
    const fix = runs.createLocal(localRun({ source: "mcp", mode: "fix" }));
    runs.setDiff(fix, "diff --git a/x b/x\n");
    runs.setPatchOutput(fix, "/home/dev/demo/codex-pr-bot-fix.patch");
    runs.finish(fix, { status: "succeeded" });
    runs.setPatchOutput(fix, "applied");
    expect(runs.get(fix)).toMatchObject({ source: "mcp", mode: "fix", diff: "diff --git a/x b/x\n", patchOutput: "applied", status: "succeeded" });
    expect(() => runs.setPatchOutput("nope", "applied")).toThrow(RunNotFoundError);

    const action = runs.createLocal(localRun({ source: "action", prNumber: 7 }));
    expect(runs.get(action)).toMatchObject({ source: "action", repo: "octo/demo", prNumber: 7, trigger: null });
  });

  it("lists app and local runs together, filtered by source", () => {
    const runs = store();
    const app = runs.create(makeJob({ pr: 3 }));
    const cli = runs.createLocal(localRun());
    const mcp = runs.createLocal(localRun({ source: "mcp" }));
    expect(runs.list().map((r) => [r.id, r.source])).toEqual([
      [mcp, "mcp"],
      [cli, "cli"],
      [app, "app"],
    ]);
    expect(runs.list({ source: "cli" }).map((r) => r.id)).toEqual([cli]);
    expect(runs.list({ source: "app" }).map((r) => r.prNumber)).toEqual([3]);
    expect(runs.list({ repo: "octo/demo", status: "running" }).map((r) => r.id)).toEqual([mcp, cli]);
  });

  it("an app restart fails only the app's unfinished runs, not a review running in a terminal", () => {
    const runs = store();
    const app = runs.create(makeJob());
    const local = runs.createLocal(localRun());
    expect(runs.failUnfinished("the app restarted")).toBe(1);
    expect(runs.get(app)?.status).toBe("failed");
    expect(runs.get(local)?.status).toBe("running");
  });

  it("settles this host's local runs whose process is gone, and only those", () => {
    const runs = store();
    const dead = runs.createLocal(localRun({ owner: { host: "laptop", pid: 1001 } }));
    const alive = runs.createLocal(localRun({ owner: { host: "laptop", pid: 1002 } }));
    const elsewhere = runs.createLocal(localRun({ owner: { host: "desktop", pid: 1001 } }));
    const done = runs.createLocal(localRun({ owner: { host: "laptop", pid: 1001 } }));
    runs.finish(done, { status: "succeeded" });
    const app = runs.create(makeJob());
    runs.start(app);
    const asked: number[] = [];
    const settled = runs.settleAbandoned("laptop", (pid) => (asked.push(pid), pid === 1002), "the process ended");
    expect(settled).toBe(1);
    expect(asked.sort()).toEqual([1001, 1002]);
    expect(runs.get(dead)).toMatchObject({ status: "failed", error: "the process ended" });
    expect(runs.get(dead)!.finishedAt).not.toBeNull();
    expect(runs.get(alive)?.status).toBe("running");
    expect(runs.get(elsewhere)?.status).toBe("running");
    expect(runs.get(done)?.status).toBe("succeeded");
    expect(runs.get(app)?.status).toBe("running");
  });

  it("prunes old local runs with their logs and leaves the app's to the app", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const day = 24 * 60 * 60 * 1000;
    vi.setSystemTime(100 * day);
    const runs = store();
    const oldLocal = runs.createLocal(localRun());
    runs.appendEvents(oldLocal, ["a", "b"]);
    const oldApp = runs.create(makeJob());
    vi.setSystemTime(140 * day);
    const recent = runs.createLocal(localRun());
    expect(runs.pruneLocal(30 * day)).toBe(1);
    expect(runs.get(oldLocal)).toBeNull();
    expect(runs.get(oldApp)).not.toBeNull();
    expect(runs.get(recent)).not.toBeNull();
  });

  it("upgrades a database written before local runs: its runs read back as the app's", () => {
    const file = path.join(dir, "v1.sqlite");
    const db = openDatabase(file);
    migrate(db, "runs", RUN_MIGRATIONS.filter((m) => m.version === 1));
    const job = makeJob({ pr: 9 });
    db.prepare(
      `INSERT INTO runs (id, job_id, delivery_id, installation_id, repo, pr_number, trigger, mode, status, queued_at)
       VALUES ('r1', @job, 'd', 1, 'o/r', 9, @trigger, 'review', 'queued', 1)`,
    ).run({ job: job.id, trigger: JSON.stringify(job.trigger) });
    db.close();
    const upgraded = new RunStore(file);
    stores.push(upgraded);
    expect(upgraded.get("r1")).toMatchObject({ source: "app", jobId: job.id, prNumber: 9, trigger: job.trigger, workdir: null, patchOutput: null });
    expect(upgraded.createLocal(localRun())).toMatch(/^[0-9a-z]+$/);
  });
});

describe("newRunId", () => {
  it("sorts in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 50 }, () => newRunId(1_700_000_000_000));
    ids.push(newRunId(1_700_000_000_001));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^[0-9a-z]+$/);
  });
});
