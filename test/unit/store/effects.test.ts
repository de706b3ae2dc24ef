import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RunStore } from "../../../src/store/runs.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("effects");
let seq = 0;
const stores: RunStore[] = [];
function store(): RunStore {
  const s = new RunStore(path.join(dir, `effects-${++seq}.sqlite`));
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

describe("EffectLedger", () => {
  it("records an intent, then what GitHub created, and an intent never downgrades it", () => {
    const runs = store();
    const job = makeJob({ pr: 3 });
    runs.create(job);
    runs.effects.intend(job.id, "reply", "");
    expect(runs.effects.get(job.id, "reply", "")).toMatchObject({ state: "intended", githubId: null });
    runs.effects.created(job.id, "reply", "", { githubId: 42, url: "https://github.com/o/r/pull/3#issuecomment-42" });
    runs.effects.intend(job.id, "reply", "");
    expect(runs.effects.get(job.id, "reply", "")).toMatchObject({ state: "created", githubId: "42" });
    expect(runs.effects.get(job.id, "review", "abc")).toBeNull();
  });

  it("lists check runs created and never completed, with their job's run, for the start-up sweep", () => {
    const runs = store();
    const open = makeJob({ pr: 1 });
    const done = makeJob({ pr: 2 });
    const openRun = runs.create(open);
    const doneRun = runs.create(done);
    runs.recordCheckRun(openRun, 101, "codex-pr-bot / review");
    runs.recordCheckRun(doneRun, 102, "codex-pr-bot / review");
    runs.effects.completed(done.id, "check_run", "codex-pr-bot / review");
    expect(runs.effects.openCheckRuns()).toEqual([
      expect.objectContaining({ jobId: open.id, checkRunId: 101, name: "codex-pr-bot / review", prNumber: 1, runStatus: "queued" }),
    ]);
  });

  it("keeps a review GitHub refused, found again by repo, PR, head and mode", () => {
    const runs = store();
    const job = makeJob({ pr: 9 });
    runs.create(job);
    const head = job.pull!.headSha;
    runs.effects.intend(job.id, "review", head, { body: "draft" });
    runs.effects.failed(job.id, "review", head, { body: "the composed review", comments: [] });
    expect(runs.effects.keptReview({ repo: "o/r", prNumber: 9, headSha: head, mode: job.mode })?.detail).toEqual({
      body: "the composed review",
      comments: [],
    });
    expect(runs.effects.keptReview({ repo: "o/r", prNumber: 9, headSha: "other", mode: job.mode })).toBeNull();
    runs.effects.created(job.id, "review", head, { githubId: 5 });
    expect(runs.effects.keptReview({ repo: "o/r", prNumber: 9, headSha: head, mode: job.mode })).toBeNull();
  });

  it("goes with its run when retention prunes the run", () => {
    const runs = store();
    const job = makeJob({ pr: 4 });
    const id = runs.create(job);
    runs.recordCheckRun(id, 7, "n");
    expect(runs.prune(-1)).toBe(1);
    expect(runs.effects.forJob(job.id)).toEqual([]);
  });
});
