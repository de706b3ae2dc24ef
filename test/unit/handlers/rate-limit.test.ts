import { describe, expect, it } from "vitest";
import { CommandRateLimiter, rateLimitNotice, type CommandRequest } from "../../../src/handlers/rate-limit.js";

const req = (over: Partial<CommandRequest> = {}): CommandRequest => ({ owner: "octo", repo: "demo", prNumber: 7, sender: "alice", command: "codex audit", ...over });
const options = { perSender: 3, senderWindowMs: 60 * 60_000, identicalWindowMs: 60_000, maxKeys: 100 };

describe("CommandRateLimiter", () => {
  it("allows one identical command per PR per minute, whoever sends it, and notifies once", () => {
    const l = new CommandRateLimiter({ ...options, perSender: 100 });
    expect(l.check(req(), 0)).toEqual({ allowed: true });
    expect(l.check(req({ sender: "bob" }), 1_000)).toEqual({ allowed: false, reason: "identical-command", retryAfterMs: 59_000, notify: true });
    expect(l.check(req({ command: "codex   AUDIT " }), 2_000)).toMatchObject({ allowed: false, notify: false });
    // Another PR, or another command, is not identical.
    expect(l.check(req({ prNumber: 8 }), 3_000)).toEqual({ allowed: true });
    expect(l.check(req({ command: "codex review" }), 4_000)).toEqual({ allowed: true });
    // The window slides: a minute after the first run it is allowed again, and a new notice may follow.
    expect(l.check(req(), 60_000)).toEqual({ allowed: true });
    expect(l.check(req(), 61_000)).toMatchObject({ allowed: false, notify: true });
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
      "@alice the same command was requested on this pull request moments ago, so this one is ignored. Try again in 42 s if you need another run.",
    );
    expect(rateLimitNotice("alice", { allowed: false, reason: "sender-limit", retryAfterMs: 30 * 60_000, notify: true })).toMatch(
      /limit of 10 commands per hour in this repository.*Try again in 30 min\.$/,
    );
  });
});
