import { appendFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readTokenCountLine, RolloutUsage } from "../../../src/executors/rollout.js";
import type { Usage } from "../../../src/types.js";
import { makeTempDir } from "../../helpers/tmp.js";

const base = makeTempDir("rollout");
const scratch = (): string => mkdtempSync(path.join(base, "home-"));

/** A token_count line shaped like codex 0.169.0 writes it (see the real-binary test in codex-token-ceiling). */
function tokenCount(total: { input: number; cached?: number; output: number; reasoning?: number }): string {
  const usage = {
    input_tokens: total.input,
    cached_input_tokens: total.cached ?? 0,
    cache_write_input_tokens: 0,
    output_tokens: total.output,
    reasoning_output_tokens: total.reasoning ?? 0,
    total_tokens: total.input + total.output,
  };
  return JSON.stringify({
    timestamp: "2026-01-01T00:00:00.000Z",
    type: "event_msg",
    payload: {
      type: "token_count",
      info: { total_token_usage: usage, last_token_usage: usage, model_context_window: 258400 },
      rate_limits: { limit_id: "codex", primary: null, secondary: null },
    },
  });
}

const usage = (input: number, cached: number, output: number, reasoning = 0): Usage => ({
  inputTokens: input,
  cachedInputTokens: cached,
  outputTokens: output,
  reasoningOutputTokens: reasoning,
});

function sessionFile(home: string, name = "rollout-2026-01-01T00-00-00-thread.jsonl", day = "2026/01/01"): string {
  const dir = path.join(home, "sessions", day);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `${JSON.stringify({ type: "session_meta", payload: { id: "thread" } })}\n`);
  return file;
}

describe("readTokenCountLine", () => {
  it("reads the cumulative total of a token_count event", () => {
    expect(readTokenCountLine(tokenCount({ input: 5000, cached: 100, output: 300, reasoning: 50 }))).toEqual(usage(5000, 100, 300, 50));
  });

  it("ignores every other line: other events, a token_count without info, text that only mentions it, broken JSON", () => {
    const notUsage = [
      JSON.stringify({ type: "event_msg", payload: { type: "agent_message", message: "token_count" } }),
      JSON.stringify({ type: "event_msg", payload: { type: "token_count", info: null, rate_limits: {} } }),
      // A tool output quoting a token_count line is a string inside a response item, never a line of its own.
      JSON.stringify({ type: "response_item", payload: { type: "function_call_output", output: tokenCount({ input: 1, output: 1 }) } }),
      JSON.stringify({ type: "token_count", info: { total_token_usage: { input_tokens: 9 } } }),
      '{"type":"event_msg","payload":{"type":"token_count"',
      "",
    ];
    for (const line of notUsage) expect(readTokenCountLine(line)).toBeNull();
  });

  it("counts missing or non-numeric fields as zero", () => {
    const line = JSON.stringify({
      type: "event_msg",
      payload: { type: "token_count", info: { total_token_usage: { input_tokens: 7, output_tokens: "3" } } },
    });
    expect(readTokenCountLine(line)).toEqual(usage(7, 0, 0));
  });
});

describe("RolloutUsage", () => {
  it("is null without a sessions directory (a run that never reached the model)", async () => {
    const tail = new RolloutUsage(path.join(scratch(), "sessions"));
    await tail.poll();
    expect(tail.usage).toBeNull();
    expect(await tail.stop()).toBeNull();
  });

  it("follows one file as codex appends to it, including a line written in two pieces", async () => {
    const home = scratch();
    const file = sessionFile(home);
    const seen: Usage[] = [];
    const tail = new RolloutUsage(path.join(home, "sessions"), { onUsage: (u) => seen.push(u) });
    await tail.poll();
    expect(tail.usage).toBeNull();

    appendFileSync(file, `${tokenCount({ input: 5000, cached: 100, output: 300 })}\n`);
    await tail.poll();
    expect(tail.usage).toEqual(usage(5000, 100, 300));

    const second = `${tokenCount({ input: 10000, cached: 200, output: 600 })}\n`;
    appendFileSync(file, second.slice(0, 40));
    await tail.poll();
    expect(tail.usage).toEqual(usage(5000, 100, 300)); // half a line is not a line
    appendFileSync(file, second.slice(40));
    await tail.poll();
    expect(tail.usage).toEqual(usage(10000, 200, 600));
    // Called once per growth, never for polls that found nothing new.
    await tail.poll();
    expect(seen).toEqual([usage(5000, 100, 300), usage(10000, 200, 600)]);
  });

  it("sums the threads of a run (one rollout file each), keeping each thread's latest total", async () => {
    const home = scratch();
    const main = sessionFile(home, "rollout-a-main.jsonl");
    const sub = sessionFile(home, "rollout-b-sub.jsonl", "2026/01/02");
    appendFileSync(main, `${tokenCount({ input: 100, output: 10 })}\n${tokenCount({ input: 300, output: 30 })}\n`);
    appendFileSync(sub, `${tokenCount({ input: 50, cached: 5, output: 5 })}\n`);
    const tail = new RolloutUsage(path.join(home, "sessions"));
    await tail.poll();
    expect(tail.usage).toEqual(usage(350, 5, 35));
  });

  it("skips lines too long to be a token count without holding them, and reads on after them", async () => {
    const home = scratch();
    const file = sessionFile(home);
    const huge = JSON.stringify({ type: "response_item", payload: { type: "message", text: "x".repeat(300_000) } });
    const tail = new RolloutUsage(path.join(home, "sessions"));
    // The long line arrives in pieces across polls, and the line after it must still count.
    appendFileSync(file, huge.slice(0, 100_000));
    await tail.poll();
    appendFileSync(file, huge.slice(100_000));
    await tail.poll();
    appendFileSync(file, `\n${tokenCount({ input: 42, output: 8 })}\n`);
    await tail.poll();
    expect(tail.usage).toEqual(usage(42, 0, 8));
  });

  it("reads a bounded amount per poll while running, and everything on stop()", async () => {
    const home = scratch();
    const file = sessionFile(home);
    const filler = `${JSON.stringify({ type: "response_item", payload: { text: "y".repeat(1024 * 1024) } })}\n`;
    appendFileSync(file, `${filler.repeat(5)}${tokenCount({ input: 77, output: 7 })}\n`);
    const tail = new RolloutUsage(path.join(home, "sessions"));
    await tail.poll();
    expect(tail.usage).toBeNull(); // the first 4 MiB hold no token count
    expect(await tail.stop()).toEqual(usage(77, 0, 7));
  });

  it("reads only rollout files at sessions/YYYY/MM/DD, never through a symlink", async () => {
    const home = scratch();
    sessionFile(home);
    const elsewhere = path.join(home, "planted.jsonl");
    writeFileSync(elsewhere, `${tokenCount({ input: 999_999, output: 1 })}\n`);
    const day = path.join(home, "sessions", "2026", "01", "01");
    symlinkSync(elsewhere, path.join(day, "rollout-linked.jsonl"));
    symlinkSync(path.join(home, "sessions", "2026"), path.join(home, "sessions", "2027"));
    writeFileSync(path.join(day, "notes.jsonl"), `${tokenCount({ input: 7, output: 7 })}\n`);
    writeFileSync(path.join(home, "sessions", "rollout-top.jsonl"), `${tokenCount({ input: 7, output: 7 })}\n`);
    const tail = new RolloutUsage(path.join(home, "sessions"));
    await tail.poll();
    expect(tail.usage).toBeNull();
  });

  it("polls on its own once started, and stop() takes in what was written last", async () => {
    const home = scratch();
    const file = sessionFile(home);
    let resolveSeen: (u: Usage) => void = () => undefined;
    const seen = new Promise<Usage>((resolve) => (resolveSeen = resolve));
    const tail = new RolloutUsage(path.join(home, "sessions"), { intervalMs: 20, onUsage: (u) => resolveSeen(u) });
    tail.start();
    appendFileSync(file, `${tokenCount({ input: 10, output: 1 })}\n`);
    expect(await seen).toEqual(usage(10, 0, 1));
    appendFileSync(file, `${tokenCount({ input: 20, output: 2 })}\n`);
    expect(await tail.stop()).toEqual(usage(20, 0, 2));
    // Stopped: nothing is read any more.
    appendFileSync(file, `${tokenCount({ input: 30, output: 3 })}\n`);
    await new Promise((r) => setTimeout(r, 60));
    expect(tail.usage).toEqual(usage(20, 0, 2));
  });

  it("keeps polling when a listener throws", async () => {
    const home = scratch();
    const file = sessionFile(home);
    const tail = new RolloutUsage(path.join(home, "sessions"), {
      onUsage: () => {
        throw new Error("listener bug");
      },
    });
    appendFileSync(file, `${tokenCount({ input: 1, output: 1 })}\n`);
    await expect(tail.poll()).resolves.toBeUndefined();
    appendFileSync(file, `${tokenCount({ input: 2, output: 2 })}\n`);
    await tail.poll();
    expect(tail.usage).toEqual(usage(2, 0, 2));
  });
});
