import { describe, expect, it } from "vitest";
import { ClaudeEventState, describeToolUse, isRateLimitMessage } from "../../../src/executors/claude-events.js";

/**
 * The stream-json parser on lines shaped like the pinned CLI's (2.1.197) real output; the tests in
 * claude.test.ts feed it the real binary's stream as well.
 */

const line = (value: unknown): string => JSON.stringify(value);
const init = line({
  type: "system",
  subtype: "init",
  cwd: "/w",
  session_id: "s1",
  tools: ["Glob", "Grep", "Read", "StructuredOutput"],
  mcp_servers: [],
  model: "claude-sonnet-4-5",
  permissionMode: "dontAsk",
  apiKeySource: "apiKeyHelper",
  claude_code_version: "2.1.197",
  some_future_field: { x: 1 },
});
const assistant = (id: string, content: unknown[], extra: Record<string, unknown> = {}) =>
  line({
    type: "assistant",
    message: { id, type: "message", role: "assistant", model: "claude-sonnet-4-5", content, usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 2, cache_read_input_tokens: 3 } },
    parent_tool_use_id: null,
    session_id: "s1",
    ...extra,
  });
const toolResult = (id: string, content: unknown, extra: Record<string, unknown> = {}) =>
  line({ type: "user", message: { role: "user", content: [{ tool_use_id: id, type: "tool_result", content, ...extra }] }, parent_tool_use_id: null, session_id: "s1" });
const result = (fields: Record<string, unknown>) =>
  line({
    type: "result",
    subtype: "success",
    is_error: false,
    api_error_status: null,
    num_turns: 2,
    result: "done",
    total_cost_usd: 0.0123,
    usage: { input_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 10 },
    modelUsage: {
      "claude-sonnet-4-5": { inputTokens: 100, outputTokens: 50, cacheReadInputTokens: 30, cacheCreationInputTokens: 20, costUSD: 0.01 },
      "claude-haiku-4-5": { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, costUSD: 0.0023 },
    },
    permission_denials: [],
    terminal_reason: "completed",
    ...fields,
  });

describe("ClaudeEventState", () => {
  it("follows a run: init, tool calls and their results, notes, and the result's usage and cost", () => {
    const state = new ClaudeEventState();
    state.push(init);
    expect(state.init).toEqual({
      tools: ["Glob", "Grep", "Read", "StructuredOutput"],
      permissionMode: "dontAsk",
      model: "claude-sonnet-4-5",
      version: "2.1.197",
      mcpServers: [],
      apiKeySource: "apiKeyHelper",
    });
    state.push(assistant("m1", [{ type: "thinking", thinking: "**Checking the copy**\nmore" }]));
    expect(state.progress().lastNote).toBe("Checking the copy");
    state.push(assistant("m1", [{ type: "text", text: "Let me look at main.c.\nThen decide." }]));
    state.push(assistant("m1", [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "git diff\n  --stat", description: "d" } }]));
    expect(state.changed).toBe(true);
    expect(state.progress()).toEqual({ plan: [], currentCommand: "git diff --stat", commandsCompleted: 0, lastNote: "Let me look at main.c." });
    state.push(toolResult("t1", " main.c | 2 ++"));
    state.push(assistant("m2", [{ type: "tool_use", id: "t2", name: "Bash", input: { command: "false" } }]));
    state.push(toolResult("t2", "Exit code 1\n", { is_error: true }));
    state.push(assistant("m3", [{ type: "tool_use", id: "t3", name: "Read", input: { file_path: "/etc/passwd" } }]));
    state.push(toolResult("t3", "Permission to use Read has been denied because Claude Code is running in don't ask mode.", { is_error: true }));
    state.push(assistant("m4", [{ type: "tool_use", id: "t4", name: "Write", input: { file_path: "/w/.git/x", content: "" } }]));
    state.push(toolResult("t4", "<tool_use_error>File is in a directory that is denied by your permission settings.</tool_use_error>", { is_error: true }));
    state.push(assistant("m6", [{ type: "tool_use", id: "t6", name: "Bash", input: { command: "git diff --output=/x" } }]));
    state.push(toolResult("t6", "Permission to use Bash with command git diff --output=/x\nmore has been denied.", { is_error: true }));
    state.push(assistant("m5", [{ type: "tool_use", id: "t5", name: "Grep", input: { pattern: "strcpy" } }]));
    expect(state.commands).toEqual([
      { command: "git diff --stat", exitCode: 0, status: "completed" },
      { command: "false", exitCode: 1, status: "failed" },
      { command: "Read /etc/passwd", exitCode: null, status: "declined" },
      { command: "Write /w/.git/x", exitCode: null, status: "declined" },
      { command: "git diff --output=/x", exitCode: null, status: "declined" },
      { command: "Grep strcpy", exitCode: null, status: "in_progress" },
    ]);
    expect(state.progress()).toMatchObject({ currentCommand: "Grep strcpy", commandsCompleted: 5 });
    // Before the result: the assistant messages' usage, one count per message id.
    expect(state.usage).toEqual({ inputTokens: 90, cachedInputTokens: 18, outputTokens: 6, reasoningOutputTokens: 0 });
    expect(state.costUsd).toBeNull();

    state.push(assistant("m6", [{ type: "text", text: "All good." }]));
    state.push(result({ permission_denials: [{ tool_name: "Read", tool_use_id: "t3", tool_input: { file_path: "/etc/passwd" } }] }));
    expect(state.lastAssistantText).toBe("All good.");
    expect(state.result).toMatchObject({ subtype: "success", isError: false, result: "done", numTurns: 2, totalCostUsd: 0.0123, hasStructuredOutput: false });
    // modelUsage covers every model (sub-agents, auxiliary calls); cache reads and writes count as input.
    expect(state.usage).toEqual({ inputTokens: 160, cachedInputTokens: 30, outputTokens: 55, reasoningOutputTokens: 0 });
    expect(state.costUsd).toBe(0.0123);
    expect(state.warnings).toEqual(['claude was denied Read: {"file_path":"/etc/passwd"}']);
    expect(state.rateLimited).toBe(false);
  });

  it("reads structured output, falls back to usage and summed model costs", () => {
    const state = new ClaudeEventState();
    state.push(result({ structured_output: { verdict: "ok" }, modelUsage: undefined, total_cost_usd: undefined }));
    expect(state.result).toMatchObject({ hasStructuredOutput: true, structuredOutput: { verdict: "ok" } });
    expect(state.usage).toEqual({ inputTokens: 20, cachedInputTokens: 0, outputTokens: 10, reasoningOutputTokens: 0 });
    expect(state.costUsd).toBeNull();

    const summed = new ClaudeEventState();
    summed.push(result({ total_cost_usd: undefined }));
    expect(summed.costUsd).toBeCloseTo(0.0123, 10);
  });

  it("builds the plan from TodoWrite and from TaskCreate/TaskUpdate", () => {
    const state = new ClaudeEventState();
    state.push(assistant("m1", [{ type: "tool_use", id: "t1", name: "TodoWrite", input: { todos: [{ content: "Read", status: "completed", activeForm: "Reading" }, { content: "Fix", status: "in_progress", activeForm: "Fixing" }] } }]));
    expect(state.progress().plan).toEqual([{ text: "Read", completed: true }, { text: "Fix", completed: false }]);
    state.push(assistant("m2", [{ type: "tool_use", id: "t2", name: "TaskCreate", input: { subject: "Run tests", description: "x" } }]));
    state.push(line({ type: "user", message: { role: "user", content: [{ tool_use_id: "t2", type: "tool_result", content: "Task #7 created" }] }, tool_use_result: { task: { id: "7", subject: "Run tests" } } }));
    state.push(assistant("m3", [{ type: "tool_use", id: "t3", name: "TaskUpdate", input: { taskId: "7", status: "completed" } }]));
    expect(state.progress().plan).toEqual([{ text: "Read", completed: true }, { text: "Fix", completed: false }, { text: "Run tests", completed: true }]);
    // Plan tools are not commands.
    expect(state.commands).toEqual([]);
  });

  it("recognises rate limits from the API status, the assistant error and the message", () => {
    const s429 = new ClaudeEventState();
    s429.push(assistant("x", [{ type: "text", text: "API Error: Request rejected (429)" }], { error: "rate_limit" }));
    s429.push(result({ is_error: true, api_error_status: 429, result: "API Error: Request rejected (429) · slow down" }));
    expect(s429.rateLimited).toBe(true);
    expect(s429.lastAssistantText).toBe("API Error: Request rejected (429)");

    const usage = new ClaudeEventState();
    usage.push(result({ is_error: true, result: "Claude AI usage limit reached|1767225600" }));
    expect(usage.rateLimited).toBe(true);

    const other = new ClaudeEventState();
    other.push(result({ is_error: true, api_error_status: 500, result: "API Error: 500 Internal server error" }));
    expect(other.rateLimited).toBe(false);

    for (const text of ["You've hit your session limit · resets 3pm", "529 Overloaded", "Rate limit exceeded", "Too Many Requests"]) {
      expect(isRateLimitMessage(text)).toBe(true);
    }
    expect(isRateLimitMessage("Invalid API key · Fix external API key")).toBe(false);
  });

  it("records API retries as warnings and notes", () => {
    const state = new ClaudeEventState();
    state.push(line({ type: "system", subtype: "api_retry", attempt: 1, max_retries: 2, retry_delay_ms: 600, error_status: 529, error: "overloaded" }));
    expect(state.lastRetry).toEqual({ attempt: 1, status: 529, error: "overloaded" });
    expect(state.warnings).toEqual(["the API call failed with HTTP 529 (overloaded); retry 1 of 2"]);
    expect(state.progress().lastNote).toBe("Retrying the model API (attempt 1)");
  });

  it("tolerates junk, unknown types and odd shapes", () => {
    const state = new ClaudeEventState();
    for (const junk of ["", "not json", "[1,2]", '{"no":"type"}', '{"type":"stream_event","event":{}}', '{"type":"assistant","message":null}', '{"type":"user","message":{"content":"text"}}', '{"type":"result"}', '{"type":"system","subtype":"init","tools":"x"}']) {
      state.push(junk);
    }
    expect(state.malformedLines).toBe(1);
    expect(state.warnings).toHaveLength(3);
    expect(state.result).toMatchObject({ subtype: "unknown", isError: false, result: null });
    expect(state.init?.tools).toEqual([]);
  });
});

describe("describeToolUse", () => {
  it("shows the command for Bash and the target for other tools", () => {
    expect(describeToolUse("Bash", { command: "npm test" })).toBe("npm test");
    expect(describeToolUse("Edit", { file_path: "src/a.ts", old_string: "x" })).toBe("Edit src/a.ts");
    expect(describeToolUse("Glob", { pattern: "**/*.ts" })).toBe("Glob **/*.ts");
    expect(describeToolUse("Mystery", {})).toBe("Mystery");
    expect(describeToolUse("Bash", { command: "x".repeat(400) })).toHaveLength(300);
  });
});
