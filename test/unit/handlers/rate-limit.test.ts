import { describe, expect, it } from "vitest";
import { CommandRateLimiter, rateLimitNotice, type CommandRequest } from "../../../src/handlers/rate-limit.js";

const req = (over: Partial<CommandRequest> = {}): CommandRequest => ({ owner: "octo", repo: "demo", prNumber: 7, sender: "alice", command: "codex audit", ...over });
const options = { perSender: 3, senderWindowMs: 60 * 60_000, identicalWindowMs: 60_000, refusedWindowMs: 60 * 60_000, maxKeys: 100 };
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

describe("CommandRateLimiter", () => {
  it("allows one identical command per person and PR per minute, and notifies once", () => {
    const l = new CommandRateLimiter({ ...options, perSender: 100 });
    expect(l.check(req(), 0)).toEqual({ allowed: true });
    // Someone else's identical command moments later is theirs, not a duplicate of alice's.
    expect(l.check(req({ sender: "bob" }), 1_000)).toEqual({ allowed: true });
    expect(l.check(req({ sender: "Alice" }), 2_000)).toEqual({ allowed: false, reason: "identical-command", retryAfterMs: 58_000, notify: true });
    expect(l.check(req({ command: "codex   AUDIT " }), 2_500)).toMatchObject({ allowed: false, notify: false });
    expect(l.check(req({ sender: "bob" }), 3_000)).toMatchObject({ allowed: false, reason: "identical-command", notify: true });
    // Another PR, or another command, is not identical.
    expect(l.check(req({ prNumber: 8 }), 3_000)).toEqual({ allowed: true });
    expect(l.check(req({ command: "codex review" }), 4_000)).toEqual({ allowed: true });
    // The window slides: a minute after the first run it is allowed again, and a new notice may follow.
    expect(l.check(req(), 60_000)).toEqual({ allowed: true });
    expect(l.check(req(), 61_000)).toMatchObject({ allowed: false, notify: true });
  });

  it("keys the duplicate window by the PR head: a push opens a new window at once", () => {
    const l = new CommandRateLimiter({ ...options, perSender: 100 });
    l.noteHead("octo", "demo", 7, SHA_A);
    expect(l.check(req(), 0)).toEqual({ allowed: true });
    expect(l.check(req(), 1_000)).toMatchObject({ allowed: false, reason: "identical-command" });
    // The pull_request event of a push moves the head: the same person's same command runs again.
    l.noteHead("OCTO", "Demo", 7, SHA_B);
    expect(l.check(req(), 2_000)).toEqual({ allowed: true });
    expect(l.check(req(), 3_000)).toMatchObject({ allowed: false, reason: "identical-command" });
    // A head carried by the request itself (review comments) wins over the noted one.
    expect(l.check(req({ head: SHA_A }), 4_000)).toMatchObject({ allowed: false, reason: "identical-command" });
    expect(l.check(req({ head: "c".repeat(40) }), 5_000)).toEqual({ allowed: true });
  });

  it("answers an account refused for permission once per window, and counts nothing against anyone", () => {
    const l = new CommandRateLimiter({ ...options, perSender: 1 });
    const answers = Array.from({ length: 20 }, (_, i) => l.answerRefusal(req({ sender: "reader" }), i * 1_000));
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(answers[0]).toBe(true);
    // Per account and repository; case does not matter.
    expect(l.answerRefusal(req({ sender: "READER" }), 30_000)).toBe(false);
    expect(l.answerRefusal(req({ sender: "other-reader" }), 30_000)).toBe(true);
    expect(l.answerRefusal(req({ sender: "reader", repo: "other" }), 30_000)).toBe(true);
    // An hour after the answer the account may be told again.
    expect(l.answerRefusal(req({ sender: "reader" }), 60 * 60_000 - 1)).toBe(false);
    expect(l.answerRefusal(req({ sender: "reader" }), 60 * 60_000)).toBe(true);
    // None of it touched the limits of the people who may run commands (perSender is 1 here).
    expect(l.check(req({ sender: "maintainer" }), 60 * 60_000)).toEqual({ allowed: true });
    expect(l.check(req({ sender: "reader" }), 60 * 60_000)).toEqual({ allowed: true });
  });

  it("caps commands per sender and repository per hour; refusals are not counted", () => {
    const l = new CommandRateLimiter(options);
    for (const [i, c] of ["a", "b", "c"].entries()) expect(l.check(req({ command: c }), i)).toEqual({ allowed: true });
    expect(l.check(req({ command: "d" }), 10)).toMatchObject({ allowed: false, reason: "sender-limit", notify: true, retryAfterMs: 3_600_000 - 10 });
    expect(l.check(req({ command: "e" }), 20)).toMatchObject({ allowed: false, notify: false });
    // Other people and other repositories have their own budget; case does not matter.
    expect(l.check(req({ command: "d", sender: "bob" }), 30)).toEqual({ allowed: true });
    expect(l.check(req({ command: "d", repo: "other" }), 40)).toEqual({ allowed: true });
    expect(l.check(req({ command: "f", sender: "ALICE" }), 50)).toMatchObject({ allowed: false });
    // An hour after the first command one slot is free again.
    expect(l.check(req({ command: "g" }), 3_600_000)).toEqual({ allowed: true });
    expect(l.check(req({ command: "h" }), 3_600_000)).toMatchObject({ allowed: false });
  });

  it("forgets the least recently used keys beyond maxKeys", () => {
    const l = new CommandRateLimiter({ ...options, maxKeys: 4 });
    l.check(req({ sender: "a", command: "x" }), 0); // 2 keys
    l.check(req({ sender: "b", command: "y" }), 1); // 4 keys
    l.check(req({ sender: "c", command: "z" }), 2); // evicts a's keys
    expect(l.check(req({ sender: "a", command: "x" }), 3)).toEqual({ allowed: true });
  });

  it("words the notice after the limit that was hit", () => {
    expect(rateLimitNotice("alice", { allowed: false, reason: "identical-command", retryAfterMs: 42_000, notify: true })).toBe(
      "@alice you asked for the same command on this commit moments ago, so this one is ignored. Try again in 42 s if you need another run.",
    );
    expect(rateLimitNotice("alice", { allowed: false, reason: "sender-limit", retryAfterMs: 30 * 60_000, notify: true })).toMatch(
      /limit of 10 commands per hour in this repository.*Try again in 30 min\.$/,
    );
  });
});
