import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lastReviewedMarker, reviewedMarker } from "../../../src/jobs/review-scope.js";
import { RunStore } from "../../../src/store/runs.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("last-reviewed");
const stores: RunStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** Where an incremental review starts: the last succeeded review of the PR by another job. */
describe("RunStore.lastReviewed", () => {
  it("is the newest succeeded review's head of that PR, never this job's own, a failed one, an audit or another PR's", () => {
    const runs = new RunStore(path.join(dir, "runs.sqlite"));
    stores.push(runs);
    const review = (head: string, status: "succeeded" | "failed", extra: Parameters<typeof makeJob>[0] = {}) => {
      const job = makeJob({ pr: 7, head, ...extra });
      const id = runs.create(job);
      runs.describe(id, { headSha: head, baseSha: "b".repeat(40) });
      runs.start(id);
      runs.finish(id, { status });
      return job;
    };
    expect(runs.lastReviewed("o/r", 7, "none")).toBeNull();
    review("1".repeat(40), "succeeded");
    const second = review("2".repeat(40), "succeeded");
    review("3".repeat(40), "failed");
    review("4".repeat(40), "succeeded", { pr: 8 });
    review("5".repeat(40), "succeeded", { mode: "audit" });
    expect(runs.lastReviewed("o/r", 7, "none")).toEqual({ headSha: "2".repeat(40), baseSha: "b".repeat(40) });
    expect(runs.lastReviewed("o/r", 7, second.id)).toEqual({ headSha: "1".repeat(40), baseSha: "b".repeat(40) });
    expect(runs.lastReviewed("o/other", 7, "none")).toBeNull();
  });
});

describe("the reviewed-head marker", () => {
  it("reads back the newest head from the bot's review bodies", () => {
    expect(lastReviewedMarker([`a\n${reviewedMarker("1".repeat(40))}`, "no marker", `b ${reviewedMarker("2".repeat(40))}`])).toBe("2".repeat(40));
    expect(lastReviewedMarker(["<!-- codex-pr-bot:reviewed:zzz -->"])).toBeNull();
  });
});
