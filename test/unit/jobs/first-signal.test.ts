import { describe, expect, it } from "vitest";
import { firstSignalCheckName, InstallationPacer, queuedOutput, wantsEyes, worthUpdating } from "../../../src/jobs/first-signal.js";
import { CHECK_NAMES } from "../../../src/jobs/review.js";
import { LocalSignalClaims } from "../../../src/jobs/signal-claims.js";
import { makeJob } from "../../helpers/queue-fixtures.js";

const at = (ahead: number, aheadInRepo: { prNumber: number; mode: "review" | "audit" }[] = []) => ({ ahead, running: 2, aheadInRepo });

describe("first signals (issue 23)", () => {
  it("review and audit get the worker's check run name; fix, tests, ask none; commands but unknown words get 👀", () => {
    expect(firstSignalCheckName(makeJob())).toBe(CHECK_NAMES.review);
    expect(firstSignalCheckName(makeJob({ mode: "audit", command: true }))).toBe(CHECK_NAMES.audit);
    expect(firstSignalCheckName(makeJob({ retry: { of: "x", executors: ["claude"], reason: "r", earlier: [] } }))).toBe(`${CHECK_NAMES.review} (retry: claude)`);
    for (const mode of ["fix", "tests", "ask", "help"] as const) expect(firstSignalCheckName(makeJob({ mode, command: true }))).toBeNull();
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

  it("InstallationPacer: writes of one installation a spacing apart, urgent ones first, installations independent", async () => {
    const pacer = new InstallationPacer(100);
    const t0 = Date.now();
    const log: { what: string; at: number }[] = [];
    const write = (what: string) => async () => {
      log.push({ what, at: Date.now() - t0 });
    };
    await Promise.all([
      pacer.schedule(1, true, write("1a")),
      pacer.schedule(1, false, write("1-update")),
      pacer.schedule(1, true, write("1b")),
      pacer.schedule(2, true, write("2a")),
    ]);
    expect(log.map((l) => l.what)).toEqual(["1a", "2a", "1b", "1-update"]);
    const at1 = log.filter((l) => l.what.startsWith("1")).map((l) => l.at);
    expect(at1[1]! - at1[0]!).toBeGreaterThanOrEqual(95);
    expect(at1[2]! - at1[1]!).toBeGreaterThanOrEqual(95);
    expect(log.find((l) => l.what === "2a")!.at).toBeLessThan(50);
  });
});
