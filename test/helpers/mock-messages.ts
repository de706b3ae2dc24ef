import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An in-process, scripted Anthropic Messages API server for tests: the real, pinned `claude` binary
 * talks to it through ANTHROPIC_BASE_URL, so no test ever reaches the network. It speaks the SSE
 * dialect the CLI consumes (message_start → content_block_* → message_delta → message_stop); a port
 * of shared/research/samples/mock-messages-server.mjs (shared/research/claude.md §1.9).
 *
 * Only main-loop requests (those that carry `tools`) are scripted; auxiliary calls the CLI makes on
 * its own (title generation, classifiers: no tools) get a short canned text and are recorded apart.
 *
 *   startMockMessages([toolUse("Read", { file_path: "main.c" }), structured(review)])
 *   startMockMessages((req) => (req.hasToolResult ? text("done") : toolUse("Bash", { command: "env" })))
 */

export interface MockUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
}

export type Block = { type: "text"; text: string } | { type: "tool_use"; name: string; input: unknown };

/** What the mock answers to one main-loop request. Build them with the helpers below. */
export type Turn =
  | { kind: "blocks"; blocks: Block[]; usage?: Partial<MockUsage> }
  /** A call of the synthetic tool `--json-schema` adds (named like /structured/i), with `input`. */
  | { kind: "structured"; input: unknown; usage?: Partial<MockUsage> }
  | { kind: "http-error"; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: "hang" };

export interface MessagesBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  messages?: { role: string; content: unknown }[];
  tools?: { name: string; [key: string]: unknown }[];
  max_tokens?: number;
  [key: string]: unknown;
}

/** One request the CLI sent to /v1/messages, as received. */
export interface MockMessagesRequest {
  /** 1-based position among the main-loop requests. */
  n: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: MessagesBody;
  /** Names of the tools offered to the model. */
  tools: string[];
  /** True when the last message holds a tool_result. */
  hasToolResult: boolean;
  /** The text of every tool_result in the conversation, in order. */
  toolResults: string[];
  /** The tool_results that were errors (denied or failed), as text. */
  toolErrors: string[];
}

export type Script = Turn[] | ((req: MockMessagesRequest, n: number) => Turn);

export interface MockMessages {
  /** Value for ANTHROPIC_BASE_URL, e.g. http://127.0.0.1:PORT (the CLI appends /v1/messages). */
  url: string;
  /** Main-loop requests (with tools), in order. */
  requests: MockMessagesRequest[];
  /** Every other request (aux messages without tools, count_tokens, probes). */
  other: { method: string; url: string; body: MessagesBody | null }[];
  close(): Promise<void>;
}

export const DEFAULT_USAGE: MockUsage = { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 40, cacheCreationInputTokens: 10 };

export const text = (value: string, usage?: Partial<MockUsage>): Turn => ({ kind: "blocks", blocks: [{ type: "text", text: value }], usage });
export const toolUse = (name: string, input: unknown, options: { text?: string; usage?: Partial<MockUsage> } = {}): Turn => ({
  kind: "blocks",
  blocks: [...(options.text !== undefined ? [{ type: "text" as const, text: options.text }] : []), { type: "tool_use", name, input }],
  usage: options.usage,
});
export const structured = (input: unknown, usage?: Partial<MockUsage>): Turn => ({ kind: "structured", input, usage });
export const httpError = (status: number, body: unknown, headers?: Record<string, string>): Turn => ({
  kind: "http-error",
  status,
  body,
  headers,
});
export const hang = (): Turn => ({ kind: "hang" });

/** Answers `first` until the last message holds a tool result, then `then`. */
export const afterToolResult =
  (first: Turn, then: Turn) =>
  (req: MockMessagesRequest): Turn =>
    req.hasToolResult ? then : first;

/** An Anthropic error body, e.g. apiError("rate_limit_error", "Number of request tokens has exceeded your rate limit"). */
export const apiError = (type: string, message: string): unknown => ({ type: "error", error: { type, message } });

export async function startMockMessages(script: Script): Promise<MockMessages> {
  const requests: MockMessagesRequest[] = [];
  const other: MockMessages["other"] = [];
  const hanging = new Set<http.ServerResponse>();
  let messageCounter = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "";
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: MessagesBody | null = null;
      try {
        body = raw ? (JSON.parse(raw) as MessagesBody) : null;
      } catch {
        body = null;
      }
      const isMessages = req.method === "POST" && /^\/v1\/messages(\?|$)/.test(url);
      if (!isMessages || body === null || !Array.isArray(body.tools) || body.tools.length === 0) {
        other.push({ method: req.method ?? "", url, body });
        if (req.method === "POST" && url.startsWith("/v1/messages/count_tokens")) {
          json(res, 200, { input_tokens: 42 });
        } else if (isMessages && body !== null) {
          const id = `msg_aux_${++messageCounter}`;
          if (body.stream === true) sse(res, messageEvents(id, body.model ?? "mock", [{ type: "text", text: "MOCK_AUX_REPLY" }], "end_turn", { inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }));
          else json(res, 200, { id, type: "message", role: "assistant", model: body.model, content: [{ type: "text", text: "MOCK_AUX_REPLY" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } });
        } else {
          json(res, 404, { type: "error", error: { type: "not_found_error", message: `mock: no route for ${req.method} ${url}` } });
        }
        return;
      }

      const tools = body.tools.map((t) => t.name);
      const messages = Array.isArray(body.messages) ? body.messages : [];
      const { results, errors } = extractToolResults(messages);
      const last = messages.at(-1);
      const n = requests.length + 1;
      const request: MockMessagesRequest = {
        n,
        url,
        headers: req.headers,
        body,
        tools,
        hasToolResult: Array.isArray(last?.content) && (last.content as { type?: string }[]).some((c) => c?.type === "tool_result"),
        toolResults: results,
        toolErrors: errors,
      };
      requests.push(request);

      let turn: Turn | undefined;
      try {
        turn = typeof script === "function" ? script(request, n) : script[n - 1];
      } catch (err) {
        turn = httpError(400, apiError("invalid_request_error", `mock script threw: ${String(err)}`));
      }
      // A list that runs out answers with a 400 (not retried), which fails the test loudly.
      turn ??= httpError(400, apiError("invalid_request_error", `mock: script has no turn for request ${n}`));
      const model = body.model ?? "mock";
      const id = `msg_mock_${++messageCounter}`;
      switch (turn.kind) {
        case "http-error":
          res.writeHead(turn.status, { "content-type": "application/json", ...turn.headers });
          res.end(typeof turn.body === "string" ? turn.body : JSON.stringify(turn.body));
          return;
        case "hang":
          // Headers go out so the CLI is past connecting and waits on a stream that never ends.
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.flushHeaders();
          hanging.add(res);
          res.on("close", () => hanging.delete(res));
          return;
        case "structured": {
          const name = tools.find((t) => /structured/i.test(t));
          if (name === undefined) {
            json(res, 400, apiError("invalid_request_error", `mock: no structured-output tool among ${tools.join(", ")}`));
            return;
          }
          sse(res, messageEvents(id, model, [{ type: "tool_use", name, input: turn.input }], "tool_use", { ...DEFAULT_USAGE, ...turn.usage }));
          return;
        }
        case "blocks": {
          const stop = turn.blocks.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn";
          sse(res, messageEvents(id, model, turn.blocks, stop, { ...DEFAULT_USAGE, ...turn.usage }));
          return;
        }
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    other,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        hanging.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function messageEvents(id: string, model: string, blocks: Block[], stopReason: string, usage: MockUsage): [string, object][] {
  const events: [string, object][] = [
    [
      "message_start",
      {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: usage.inputTokens,
            output_tokens: 1,
            cache_creation_input_tokens: usage.cacheCreationInputTokens,
            cache_read_input_tokens: usage.cacheReadInputTokens,
          },
        },
      },
    ],
  ];
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      events.push(["content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }]);
      events.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: block.text } }]);
    } else {
      events.push([
        "content_block_start",
        { type: "content_block_start", index, content_block: { type: "tool_use", id: `toolu_${id}_${index}`, name: block.name, input: {} } },
      ]);
      events.push([
        "content_block_delta",
        { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } },
      ]);
    }
    events.push(["content_block_stop", { type: "content_block_stop", index }]);
  });
  events.push([
    "message_delta",
    { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.outputTokens } },
  ]);
  events.push(["message_stop", { type: "message_stop" }]);
  return events;
}

function sse(res: http.ServerResponse, events: [string, object][]): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": "req_mock" });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function extractToolResults(messages: { role: string; content: unknown }[]): { results: string[]; errors: string[] } {
  const results: string[] = [];
  const errors: string[] = [];
  for (const message of messages) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as { type?: string; content?: unknown; is_error?: boolean }[]) {
      if (part?.type !== "tool_result") continue;
      const value = contentText(part.content);
      results.push(value);
      if (part.is_error === true) errors.push(value);
    }
  }
  return { results, errors };
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((c: { type?: string; text?: unknown }) => (c?.type === "text" && typeof c.text === "string" ? c.text : JSON.stringify(c))).join("\n");
  }
  return JSON.stringify(content ?? "");
}

/** Everything the CLI sent to the model in one request (system prompt, messages, tools), as text. */
export function requestText(body: MessagesBody): string {
  return JSON.stringify({ system: body.system, messages: body.messages });
}
