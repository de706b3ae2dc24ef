import { describe, expect, it } from "vitest";
import { CodexEventState, isRateLimitMessage, readableProviderMessage } from "../../../src/executors/codex-events.js";

const line = (event: unknown): string => JSON.stringify(event);
const cmd = (type: string, id: string, status: string, exit_code: number | null, command = "/bin/bash -lc 'git status'"): string =>
  line({ type, item: { id, type: "command_execution", command, aggregated_output: "", exit_code, status } });

describe("CodexEventState", () => {
  it("follows a successful 0.169.0 run", () => {
    const state = new CodexEventState();
    const lines = [
      line({ type: "thread.started", thread_id: "t-1" }),
      line({ type: "item.completed", item: { id: "item_0", type: "error", message: "Model metadata for `x` not found." } }),
      line({ type: "turn.started" }),
      cmd("item.started", "item_1", "in_progress", null),
      cmd("item.completed", "item_1", "completed", 0),
      line({ type: "item.completed", item: { id: "item_2", type: "reasoning", text: "**Checking the diff**\n\nDetails" } }),
      line({ type: "item.completed", item: { id: "item_3", type: "agent_message", text: "All good" } }),
      line({
        type: "turn.completed",
        usage: { input_tokens: 200, cached_input_tokens: 80, cache_write_input_tokens: 0, output_tokens: 40, reasoning_output_tokens: 10 },
      }),
    ];
    for (const l of lines) state.push(l);
    expect(state.threadId).toBe("t-1");
    expect(state.turnCompleted).toBe(true);
    expect(state.turnFailed).toBeNull();
    expect(state.usage).toEqual({ inputTokens: 200, cachedInputTokens: 80, outputTokens: 40, reasoningOutputTokens: 10 });
    expect(state.lastAgentMessage).toBe("All good");
    expect(state.commands).toEqual([{ command: "/bin/bash -lc 'git status'", exitCode: 0, status: "completed" }]);
    expect(state.warnings).toEqual(["Model metadata for `x` not found."]);
    expect(state.progress()).toEqual({ plan: [], currentCommand: null, commandsCompleted: 1, lastNote: "All good" });
  });

  it("reports progress changes only when something visible changed", () => {
    const state = new CodexEventState();
    state.push(line({ type: "turn.started" }));
    expect(state.changed).toBe(false);

    state.push(cmd("item.started", "c1", "in_progress", null, "rg foo"));
    expect(state.changed).toBe(true);
    expect(state.progress()).toMatchObject({ currentCommand: "rg foo", commandsCompleted: 0 });
    state.changed = false;

    state.push(cmd("item.updated", "c1", "in_progress", null, "rg foo"));
    expect(state.changed).toBe(false);

    state.push(cmd("item.completed", "c1", "failed", 1, "rg foo"));
    expect(state.changed).toBe(true);
    expect(state.progress()).toMatchObject({ currentCommand: null, commandsCompleted: 1 });
    expect(state.commands).toEqual([{ command: "rg foo", exitCode: 1, status: "failed" }]);
    state.changed = false;

    const todo = (completed: boolean): string =>
      line({ type: "item.updated", item: { id: "p", type: "todo_list", items: [{ text: "Read diff", completed }, { text: "Write review", completed: false }] } });
    state.push(todo(false));
    expect(state.changed).toBe(true);
    state.changed = false;
    state.push(todo(false));
    expect(state.changed).toBe(false);
    state.push(todo(true));
    expect(state.progress().plan).toEqual([
      { text: "Read diff", completed: true },
      { text: "Write review", completed: false },
    ]);
  });

  it("does not use a JSON final answer as the status line", () => {
    const state = new CodexEventState();
    state.push(line({ type: "item.completed", item: { id: "r", type: "reasoning", text: "Looking at main.c" } }));
    state.push(line({ type: "item.completed", item: { id: "m", type: "agent_message", text: '{"findings":[]}' } }));
    expect(state.progress().lastNote).toBe("Looking at main.c");
    expect(state.lastAgentMessage).toBe('{"findings":[]}');
  });

  it("treats top-level errors as warnings until turn.failed arrives", () => {
    const state = new CodexEventState();
    state.push(line({ type: "error", message: "Reconnecting... 1/5 (stream disconnected)" }));
    expect(state.turnFailed).toBeNull();
    expect(state.warnings).toEqual(["Reconnecting... 1/5 (stream disconnected)"]);
    state.push(line({ type: "turn.failed", error: { message: "We're currently experiencing high demand" } }));
    expect(state.turnFailed).toBe("We're currently experiencing high demand");
    expect(state.rateLimited).toBe(false);
  });

  it("recognises rate limits from turn.failed or the last error", () => {
    const failed = new CodexEventState();
    failed.push(line({ type: "turn.failed", error: { message: "exceeded retry limit, last status: 429 Too Many Requests" } }));
    expect(failed.rateLimited).toBe(true);

    const errored = new CodexEventState();
    errored.push(line({ type: "error", message: "You've hit your usage limit." }));
    expect(errored.rateLimited).toBe(true);
  });

  it("ignores malformed lines, unknown events and unknown items without throwing", () => {
    const state = new CodexEventState();
    for (const l of ["not json", "[1,2]", '{"no":"type"}', line({ type: "item.plan.delta", delta: "x" }), line({ type: "item.completed", item: { type: "collab_tool_call" } }), line({ type: "item.completed", item: null }), "   "]) {
      state.push(l);
    }
    expect(state.malformedLines).toBe(1);
    expect(state.warnings).toHaveLength(3);
    expect(state.changed).toBe(false);
    expect(state.progress()).toEqual({ plan: [], currentCommand: null, commandsCompleted: 0, lastNote: null });
  });

  it("defaults missing usage fields to zero (older CLIs send three)", () => {
    const state = new CodexEventState();
    state.push(line({ type: "turn.completed", usage: { input_tokens: 5, cached_input_tokens: 1, output_tokens: 2 } }));
    expect(state.usage).toEqual({ inputTokens: 5, cachedInputTokens: 1, outputTokens: 2, reasoningOutputTokens: 0 });
  });
});

describe("provider messages", () => {
  it.each([
    ["429 Too Many Requests", true],
    ["Rate limit reached for gpt-5.5 in organization org-x", true],
    ["rate_limit_exceeded", true],
    ["You've hit your usage limit. Upgrade to Pro", true],
    ["You exceeded your current quota, please check your plan", true],
    ["mock bad request", false],
    ["stream disconnected before completion", false],
  ])("%s → rate limit %s", (message, expected) => {
    expect(isRateLimitMessage(message)).toBe(expected);
  });

  it("extracts the message from a JSON error body", () => {
    expect(readableProviderMessage('{"error":{"message":"mock bad request","type":"invalid_request_error"}}')).toBe("mock bad request");
    expect(readableProviderMessage("{not json")).toBe("{not json");
    expect(readableProviderMessage("  plain  ")).toBe("plain");
  });
});
