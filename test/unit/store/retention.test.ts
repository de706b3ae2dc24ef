import { statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyRetention } from "../../../src/store/retention.js";
import { RunStore } from "../../../src/store/runs.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("retention");
const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);
let seq = 0;
const stores: RunStore[] = [];

function open(): { runs: RunStore; file: string } {
  const file = path.join(dir, `runs-${++seq}.sqlite`);
  const runs = new RunStore(file);
  stores.push(runs);
  return { runs, file };
}

afterEach(() => {
  vi.useRealTimers();
  for (const s of stores.splice(0)) s.close();
});

/** `count` finished runs, one every `everyMs` from START, each with a log of `lines` lines. */
function fill(runs: RunStore, count: number, opts: { everyMs: number; lines?: number; repos?: number }): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    vi.setSystemTime(START + i * opts.everyMs);
    const job = makeJob({ pr: i + 1 });
    const repo = `r${i % (opts.repos ?? 1)}`;
    const id = runs.create({ ...job, repo: { ...job.repo, name: repo } });
    runs.start(id);
    if (opts.lines) runs.appendEvents(id, Array.from({ length: opts.lines }, (_, n) => `{"event":${n},"text":"${"x".repeat(200)}"}`));
    runs.finish(id, { status: i % 7 === 0 ? "failed" : "succeeded" });
    ids.push(id);
  }
  return ids;
}

describe("run history at scale", () => {
  it("pages through every run exactly once, newest first, with and without filters, each page an index range", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { runs, file } = open();
    const ids = fill(runs, 2_000, { everyMs: 1_000, repos: 4 });
    for (const filter of [{}, { repo: "o/r1" }, { status: "failed" as const }, { source: "app" as const }]) {
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = runs.list({ ...filter, limit: 200, ...(before ? { before } : {}) });
        seen.push(...page.map((r) => r.id));
        if (page.length < 200) break;
        before = page.at(-1)!.id;
      }
      const expected = ids.filter((_, i) => ("repo" in filter ? i % 4 === 1 : "status" in filter ? i % 7 === 0 : true));
      expect(expected.length).toBeGreaterThan(200);
      expect(seen).toEqual([...expected].reverse());
    }
    // The plans: no full scan and no sort of the whole table for any first page.
    const db = new Database(file, { readonly: true });
    const plan = (where: string): string =>
      (db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM runs ${where} ORDER BY id DESC LIMIT 50`).all() as { detail: string }[])
        .map((r) => r.detail)
        .join("; ");
    for (const where of ["", "WHERE repo = 'o/r1'", "WHERE status = 'failed'", "WHERE source = 'app'", "WHERE id < 'zzz'"]) {
      expect(plan(where)).not.toMatch(/TEMP B-TREE/);
      expect(plan(where)).not.toMatch(/^SCAN runs$/);
    }
    db.close();
  });

  it("deletes old logs and diffs but keeps the run record; running runs and recent ones keep theirs", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { runs } = open();
    const [old, recent] = fill(runs, 2, { everyMs: 20 * DAY, lines: 3 });
    runs.setDiff(old!, "diff --git a/x b/x\n");
    vi.setSystemTime(START);
    const stillRunning = runs.create(makeJob({ pr: 99 }));
    runs.start(stillRunning);
    runs.appendEvents(stillRunning, ["running"]);
    vi.setSystemTime(START + 30 * DAY);

    expect(runs.pruneLogs(14 * DAY)).toBe(1);
    expect(runs.get(old!)).toMatchObject({ status: "failed", events: [], diff: null, logsPrunedAt: START + 30 * DAY });
    expect(runs.get(recent!)).toMatchObject({ logsPrunedAt: null });
    expect(runs.get(recent!)!.events).toHaveLength(3);
    expect(runs.get(stillRunning)).toMatchObject({ events: ["running"], logsPrunedAt: null });
    // Done once: the partial index no longer lists it.
    expect(runs.pruneLogs(14 * DAY)).toBe(0);
  });

  it("prunes in slices of the given size, oldest first", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { runs } = open();
    const ids = fill(runs, 10, { everyMs: DAY, lines: 1 });
    vi.setSystemTime(START + 40 * DAY);
    // Runs 0..9 were queued 40..31 days ago: all older than 30 days, taken 4 at a time.
    expect(runs.prune(30 * DAY, 4)).toBe(4);
    expect(ids.map((id) => runs.get(id) !== null)).toEqual([false, false, false, false, true, true, true, true, true, true]);
    expect(runs.prune(30 * DAY, 4)).toBe(4);
    expect(runs.prune(30 * DAY, 4)).toBe(2);
    expect(runs.list({ limit: 200 })).toEqual([]);
  });

  it("gives the space of pruned logs back to the file system (auto_vacuum incremental)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { runs, file } = open();
    expect(runs.space().autoVacuum).toBe("incremental");
    fill(runs, 300, { everyMs: 60_000, lines: 20 });
    const full = runs.space();
    expect(full.bytes).toBeGreaterThan(1_000_000);
    vi.setSystemTime(START + 40 * DAY);

    const report = await applyRetention(runs, { runDays: 60, logDays: 14 });
    expect(report).toMatchObject({ runs: 0, logs: 300 });
    expect(report.pagesFreed).toBeGreaterThan(0);
    const after = runs.space();
    expect(after.freeBytes).toBe(0);
    expect(after.bytes).toBeLessThan(full.bytes / 4);
    expect(runs.list({ limit: 200 })).toHaveLength(200);

    // And the records themselves go at RUN_RETENTION_DAYS.
    vi.setSystemTime(START + 100 * DAY);
    expect(await applyRetention(runs, { runDays: 60, logDays: 14 })).toMatchObject({ runs: 300, logs: 0 });
    runs.close();
    // The file on disk shrinks too once the WAL is checkpointed (close does that).
    expect(statSync(file).size).toBeLessThan(full.bytes / 4);
  });
});
