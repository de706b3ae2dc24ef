import { describe, expect, it } from "vitest";
import { fingerprintMarker } from "../../../src/review/fingerprint.js";
import {
  closedFingerprints,
  fixedReply,
  isDecided,
  isDismissal,
  readConversation,
  settleOpenFindings,
  type ConversationThread,
} from "../../../src/review/conversation.js";

const finding = (title: string, fp: string, priority = 1) =>
  `**<sub><sub>![P${priority} Badge](https://img.shields.io/badge/P${priority}-orange)</sub></sub>  ${title}**\n\nWhy it matters.\n\n${fingerprintMarker(fp)}`;

function thread(id: string, root: string, extra: Partial<ConversationThread> = {}, replies: { body: string; isBot: boolean }[] = []): ConversationThread {
  return {
    id,
    isResolved: false,
    isOutdated: false,
    path: "src/math.js",
    line: 6,
    startLine: null,
    comments: [{ id: 100, body: root, isBot: true }, ...replies.map((r, i) => ({ id: 101 + i, ...r }))],
    ...extra,
  };
}

describe("readConversation", () => {
  it("lists the bot's unresolved findings with short ids, their place and title", () => {
    const c = readConversation([thread("T1", finding("Guard against division by zero", "aaaa000000000001")), thread("T2", finding("Other", "aaaa000000000002", 2), { isOutdated: true, line: null })]);
    expect(c.open).toEqual([
      expect.objectContaining({ id: "F1", threadId: "T1", rootCommentId: 100, fingerprint: "aaaa000000000001", path: "src/math.js", line: 6, title: "Guard against division by zero", priority: 1, outdated: false }),
      expect.objectContaining({ id: "F2", threadId: "T2", line: null, outdated: true, priority: 2 }),
    ]);
    expect(c.decisions).toEqual([]);
  });

  it("takes a thread a person resolved, or dismissed with a reply, as their decision", () => {
    const c = readConversation([
      thread("T1", finding("Resolved by a person", "aaaa000000000001"), { isResolved: true }),
      thread("T2", finding("Dismissed", "aaaa000000000002"), {}, [{ body: "Won't fix: callers check first.", isBot: false }]),
      thread("T3", finding("Discussed", "aaaa000000000003"), {}, [{ body: "Good catch, will do", isBot: false }]),
    ]);
    expect(c.decisions.map((d) => [d.fingerprint, d.how])).toEqual([
      ["aaaa000000000001", "resolved"],
      ["aaaa000000000002", "dismissed"],
    ]);
    expect(c.open.map((f) => f.threadId)).toEqual(["T3"]);
  });

  it("knows its own 'Fixed in' reply: resolved by the bot is fixed; reopened afterwards is a person's call, not re-checked", () => {
    const c = readConversation([
      thread("T1", finding("Fixed", "aaaa000000000001"), { isResolved: true }, [{ body: fixedReply("b".repeat(40)), isBot: true }]),
      thread("T2", finding("Reopened", "aaaa000000000002"), {}, [{ body: fixedReply("b".repeat(40)), isBot: true }]),
    ]);
    expect(c.decisions).toEqual([expect.objectContaining({ fingerprint: "aaaa000000000001", how: "fixed" })]);
    expect(c.open).toEqual([]);
  });

  it("ignores threads that are not the bot's findings", () => {
    const person = thread("T1", finding("Looks like a finding", "aaaa000000000001"));
    person.comments[0]!.isBot = false;
    expect(readConversation([person, thread("T2", "a bot comment without a marker")])).toEqual({ open: [], decisions: [] });
  });
});

describe("decisions", () => {
  const c = readConversation([thread("T1", finding("Guard against division by zero", "aaaa000000000001"), { isResolved: true })]);

  it("match by fingerprint, or by file and the gist of the title when the quoted code changed", () => {
    expect(isDecided({ path: "elsewhere.js", title: "x" }, "aaaa000000000001", c.decisions)).toBe(true);
    expect(isDecided({ path: "src/math.js", title: "[P1] Guard against division-by-zero!" }, "ffff000000000000", c.decisions)).toBe(true);
    expect(isDecided({ path: "src/other.js", title: "Guard against division by zero" }, "ffff000000000000", c.decisions)).toBe(false);
    expect(closedFingerprints(c)).toEqual(new Set(["aaaa000000000001"]));
  });

  it("reads plain dismissals, not questions, thanks, quotes or commands", () => {
    for (const yes of ["won't fix", "This is intended.", "false positive", "Not a bug, by design", "wontfix"]) expect(isDismissal(yes), yes).toBe(true);
    for (const no of ["thanks, fixing", "why is this a problem?", "> won't fix\n\nactually I will", "@codex fix won't fix the other one"]) expect(isDismissal(no), no).toBe(false);
  });
});

describe("settleOpenFindings", () => {
  it("fixed when the agent says so (outdated or not); outdated without it stays open", () => {
    const { open } = readConversation([
      thread("T1", finding("A", "aaaa000000000001")),
      thread("T2", finding("B", "aaaa000000000002"), { isOutdated: true, line: null }),
      thread("T3", finding("C", "aaaa000000000003"), { isOutdated: true, line: null }),
      thread("T4", finding("D", "aaaa000000000004")),
    ]);
    const settled = settleOpenFindings(open, ["f1", "F3", "F9"]);
    expect(settled.fixed.map((f) => f.threadId)).toEqual(["T1", "T3"]);
    expect(settled.outdated.map((f) => f.threadId)).toEqual(["T2"]);
    expect(settled.stillOpen.map((f) => f.threadId)).toEqual(["T4"]);
  });

  it("replies with the short head and a marker the next read recognises", () => {
    expect(fixedReply("0123456789abcdef0123456789abcdef01234567")).toMatch(/^Fixed in 0123456\.\n\n<!-- codex-pr-bot:fixed -->$/);
  });
});
