import { describe, expect, it } from "vitest";
import type { VerifyOutcome } from "../../../src/fix/body.js";
import { changedLines, compareCandidates, selectCandidate, type Candidate, type ReadyCandidate } from "../../../src/fix/best-of-two.js";
import type { FileChange } from "../../../src/fix/collect.js";

function change(additions: number, deletions: number, path = "src/math.js"): FileChange {
  return { path, status: "modified", oldMode: "100644", newMode: "100644", newObject: "a".repeat(40), size: 10, binary: false, linkTarget: null, additions, deletions };
}

function verify(passed: boolean): VerifyOutcome {
  return { command: "npm test", passed, exitCode: passed ? 0 : 1, timedOut: false, durationMs: 10, outputTail: "" };
}

function ready(agent: "codex" | "claude", lines: [number, number], v: VerifyOutcome | null): ReadyCandidate<string> {
  return { agent, kind: "ready", changes: [change(...lines)], verify: v, data: `${agent}-commit` };
}

describe("changedLines", () => {
  it("counts lines added plus lines removed over every file", () => {
    expect(changedLines([])).toBe(0);
    expect(changedLines([change(3, 1), change(0, 2, "b.js")])).toBe(6);
  });
});

describe("selectCandidate", () => {
  it("picks the candidate that passes verification, even when it is the bigger change", () => {
    const s = selectCandidate<string>([ready("codex", [1, 0], verify(false)), ready("claude", [5, 2], verify(true))])!;
    expect(s.winner.agent).toBe("claude");
    expect(s.runnerUp?.agent).toBe("codex");
    expect(s.reason).toBe("its verification passed and codex's failed");
    expect(s.notes).toEqual([]);
  });

  it("when both pass, both fail or nothing is verified, picks the smaller change", () => {
    const both = selectCandidate<string>([ready("codex", [4, 4], verify(true)), ready("claude", [2, 1], verify(true))])!;
    expect(both.winner.agent).toBe("claude");
    expect(both.reason).toBe("both passed verification; it is the smaller change (3 lines against 8)");
    const failed = selectCandidate<string>([ready("codex", [1, 0], verify(false)), ready("claude", [2, 1], verify(false))])!;
    expect(failed.winner.agent).toBe("codex");
    expect(failed.reason).toBe("both failed verification; it is the smaller change (1 line against 3)");
    const none = selectCandidate<string>([ready("claude", [1, 1], null), ready("codex", [3, 0], null)])!;
    expect(none.winner.agent).toBe("claude");
    expect(none.reason).toBe("it is the smaller change (2 lines against 3)");
  });

  it("breaks a tie in favour of codex, whatever the order it gets them in", () => {
    for (const list of [
      [ready("claude", [2, 0], null), ready("codex", [1, 1], null)],
      [ready("codex", [1, 1], null), ready("claude", [2, 0], null)],
    ]) {
      const s = selectCandidate<string>(list)!;
      expect(s.winner.agent).toBe("codex");
      expect(s.runnerUp?.agent).toBe("claude");
      expect(s.reason).toBe("both changed 2 lines, and codex's is preferred on a tie");
    }
    expect(compareCandidates(ready("codex", [1, 0], null), ready("claude", [1, 0], null))).toBeLessThan(0);
  });

  it("uses the only publishable candidate, with a note on what became of the other", () => {
    const failed: Candidate<string> = { agent: "claude", kind: "failed", error: "Claude hit a rate or usage limit: 429" };
    const s = selectCandidate<string>([ready("codex", [1, 0], verify(false)), failed])!;
    expect(s.winner.agent).toBe("codex");
    expect(s.runnerUp).toBeNull();
    expect(s.reason).toBeNull();
    expect(s.notes).toEqual(["**claude** did not finish (Claude hit a rate or usage limit: 429); this fix is from codex alone."]);

    const unchanged = selectCandidate<string>([{ agent: "codex", kind: "unchanged", message: "nothing to do" }, ready("claude", [1, 0], null)])!;
    expect(unchanged.winner.agent).toBe("claude");
    expect(unchanged.notes).toEqual(["**codex** finished without changing any file; this fix is from claude alone."]);

    const refused = selectCandidate<string>([
      {
        agent: "codex",
        kind: "refused",
        changes: [change(2, 0, ".github/workflows/ci.yml")],
        violations: [{ path: ".github/workflows/ci.yml", kind: "workflow", reason: "adds a GitHub Actions workflow" }],
      },
      ready("claude", [9, 9], verify(false)),
    ])!;
    expect(refused.winner.agent).toBe("claude");
    expect(refused.notes).toEqual([
      "**codex**'s change was dropped: it breaks the safety rules for fix-ups (`.github/workflows/ci.yml`: adds a GitHub Actions workflow); this fix is from claude alone.",
    ]);
  });

  it("returns null when no candidate can be published", () => {
    expect(selectCandidate([])).toBeNull();
    expect(
      selectCandidate([
        { agent: "codex", kind: "unchanged", message: "" },
        { agent: "claude", kind: "failed", error: "boom" },
      ]),
    ).toBeNull();
  });
});
