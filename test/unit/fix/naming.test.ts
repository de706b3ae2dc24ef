import { describe, expect, it } from "vitest";
import { branchBase, branchPrefix, commitIdentity, isBotBranch, pickBranch } from "../../../src/fix/naming.js";
import { FixRegistry, fixKey } from "../../../src/fix/registry.js";

describe("branch names", () => {
  it("say mode, PR and head, and never reuse a taken name", () => {
    expect(branchBase("fix", 7, "abcdef0123456789")).toBe("codex-pr-bot/fix/7-abcdef0");
    expect(branchBase("tests", 12, "abcdef0123456789")).toBe("codex-pr-bot/tests/12-abcdef0");
    expect(branchPrefix("fix", 7)).toBe("codex-pr-bot/fix/7-");
    expect(pickBranch("b", [])).toBe("b");
    expect(pickBranch("b", ["b", "b-2", "other"])).toBe("b-3");
    expect(isBotBranch("codex-pr-bot/fix/7-abc")).toBe(true);
    expect(isBotBranch("feature")).toBe(false);
  });
});

describe("commitIdentity", () => {
  it("uses the app's bot account, overridable by the operator", () => {
    expect(commitIdentity({ APP_ID: "12345" })).toEqual({ name: "codex-pr-bot[bot]", email: "12345+codex-pr-bot[bot]@users.noreply.github.com" });
    expect(commitIdentity({})).toEqual({ name: "codex-pr-bot[bot]", email: "codex-pr-bot[bot]@users.noreply.github.com" });
    expect(commitIdentity({ FIX_COMMIT_NAME: "my-bot[bot]", APP_ID: "9" })).toEqual({ name: "my-bot[bot]", email: "9+my-bot[bot]@users.noreply.github.com" });
    expect(commitIdentity({ FIX_COMMIT_EMAIL: "bot@example.com" }).email).toBe("bot@example.com");
  });
});

describe("FixRegistry", () => {
  it("holds one fix per PR until that job releases it", () => {
    const r = new FixRegistry();
    const key = fixKey("Octo", "Demo", 7);
    expect(key).toBe("octo/demo#7");
    const first = { jobId: "a", mode: "fix" as const, link: "l1", since: 1 };
    expect(r.claim(key, first)).toBe(first);
    expect(r.claim(key, { ...first, jobId: "b" })).toBe(first);
    r.release(key, "b"); // not the holder: no effect
    expect(r.get(key)).toBe(first);
    r.release(key, "a");
    expect(r.get(key)).toBeNull();
  });
});
