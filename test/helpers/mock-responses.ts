import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An in-process, scripted OpenAI Responses API server for tests: the real `codex` binary talks to it
 * through a custom model provider (see codexMockConfig), so no test ever reaches the network.
 * It speaks the minimal SSE dialect codex 0.169.0 accepts (shared/research/codex.md §3.7).
 *
 * Script it with a list (the nth request gets the nth turn) or a function of the request, e.g.
 *   startMockResponses([execCommand("git status"), message("done")])
 *   startMockResponses((req, n) => (req.hasToolOutput ? message(reviewJson) : execCommand("git status")))
 *   startMockResponses(afterToolOutput(execCommand("git status"), message(reviewJson)))
 */

export interface MockUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

/** What the mock answers to one request. Build them with the helpers below. */
export type Turn =
  | { kind: "message"; text: string; reasoning?: string; usage?: Partial<MockUsage> }
  | { kind: "exec"; cmd: string; workdir?: string; usage?: Partial<MockUsage> }
  | { kind: "patch"; input: string; usage?: Partial<MockUsage> }
  | { kind: "http-error"; status: number; body: unknown }
  | { kind: "failed"; code: string; message: string }
  | { kind: "hang" };

/** One request codex sent, as received. */
export interface MockRequest {
  /** 1-based position among the /responses requests. */
  n: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body (the Responses API request). */
  body: ResponsesBody;
  /** True when the input already holds the output of a tool call (exec_command, apply_patch). */
  hasToolOutput: boolean;
  /** The text of every tool output in the input, in order. */
  toolOutputs: string[];
}

/** The parts of a Responses API request body tests look at; the rest is kept untyped. */
export interface ResponsesBody {
  model?: string;
  input?: unknown[];
  tools?: { type: string; name?: string }[];
  text?: { format?: { type: string; strict?: boolean; name?: string; schema?: unknown }; verbosity?: string };
  [key: string]: unknown;
}

export type Script = Turn[] | ((req: MockRequest, n: number) => Turn);

export interface MockResponses {
  /** Base URL for the provider config, e.g. http://127.0.0.1:PORT/v1 (codex appends /responses). */
  url: string;
  requests: MockRequest[];
  close(): Promise<void>;
}

export const DEFAULT_USAGE: MockUsage = { inputTokens: 100, cachedInputTokens: 40, outputTokens: 20, reasoningTokens: 5 };

export const message = (text: string, extra: { reasoning?: string; usage?: Partial<MockUsage> } = {}): Turn => ({
  kind: "message",
  text,
  ...extra,
});
export const execCommand = (cmd: string, workdir?: string): Turn => ({ kind: "exec", cmd, workdir });
export const applyPatch = (input: string): Turn => ({ kind: "patch", input });
export const httpError = (status: number, body: unknown): Turn => ({ kind: "http-error", status, body });
export const responseFailed = (message: string, code = "server_error"): Turn => ({ kind: "failed", code, message });
export const hang = (): Turn => ({ kind: "hang" });

/** Answers `first` until the input holds a tool output, then `then`: "run a command, then answer". */
export const afterToolOutput =
  (first: Turn, then: Turn) =>
  (req: MockRequest): Turn =>
    req.hasToolOutput ? then : first;

export async function startMockResponses(script: Script): Promise<MockResponses> {
  const requests: MockRequest[] = [];
  const hanging = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || !(req.url ?? "").endsWith("/responses")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `mock: no route for ${req.method} ${req.url}` } }));
        return;
      }
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: ResponsesBody;
      try {
        body = raw ? (JSON.parse(raw) as ResponsesBody) : {};
      } catch {
        res.writeHead(400).end("mock: body is not JSON");
        return;
      }
      const toolOutputs = extractToolOutputs(body.input);
      const n = requests.length + 1;
      const request: MockRequest = {
        n,
        method: req.method,
        url: req.url ?? "",
        headers: req.headers,
        body,
        hasToolOutput: toolOutputs.length > 0,
        toolOutputs,
      };
      requests.push(request);

      let turn: Turn | undefined;
      try {
        turn = typeof script === "function" ? script(request, n) : script[n - 1];
      } catch (err) {
        turn = httpError(500, { error: { message: `mock script threw: ${String(err)}` } });
      }
      // A list that runs out answers with a 400 (not retried), which fails the test loudly.
      turn ??= httpError(400, { error: { message: `mock: script has no turn for request ${n}` } });
      respond(res, turn, `resp_${n}`, hanging);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        hanging.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function respond(res: http.ServerResponse, turn: Turn, id: string, hanging: Set<http.ServerResponse>): void {
  switch (turn.kind) {
    case "http-error": {
      const text = typeof turn.body === "string" ? turn.body : JSON.stringify(turn.body);
      res.writeHead(turn.status, { "content-type": "application/json" });
      res.end(text);
      return;
    }
    case "hang":
      // Headers go out so codex is past connecting and waits on the stream, which never ends.
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    case "failed":
      sse(res, [
        { type: "response.created", response: { id } },
        { type: "response.failed", response: { id, error: { code: turn.code, message: turn.message } } },
      ]);
      return;
    case "message": {
      const events: object[] = [{ type: "response.created", response: { id } }];
      if (turn.reasoning !== undefined) {
        events.push({
          type: "response.output_item.done",
          item: { type: "reasoning", id: `rs_${id}`, summary: [{ type: "summary_text", text: turn.reasoning }], content: [] },
        });
      }
      events.push({
        type: "response.output_item.done",
        item: { type: "message", role: "assistant", id: `msg_${id}`, content: [{ type: "output_text", text: turn.text }] },
      });
      events.push(completed(id, turn.usage));
      sse(res, events);
      return;
    }
    case "exec": {
      const args: Record<string, string> = { cmd: turn.cmd };
      if (turn.workdir !== undefined) args.workdir = turn.workdir;
      sse(res, [
        { type: "response.created", response: { id } },
        {
          type: "response.output_item.done",
          item: { type: "function_call", name: "exec_command", arguments: JSON.stringify(args), call_id: `call_${id}`, id: `fc_${id}` },
        },
        completed(id, turn.usage),
      ]);
      return;
    }
    case "patch":
      sse(res, [
        { type: "response.created", response: { id } },
        {
          type: "response.output_item.done",
          item: { type: "custom_tool_call", name: "apply_patch", input: turn.input, call_id: `call_${id}`, id: `ctc_${id}` },
        },
        completed(id, turn.usage),
      ]);
      return;
  }
}

function completed(id: string, usage: Partial<MockUsage> = {}): object {
  const u = { ...DEFAULT_USAGE, ...usage };
  return {
    type: "response.completed",
    response: {
      id,
      usage: {
        input_tokens: u.inputTokens,
        input_tokens_details: { cached_tokens: u.cachedInputTokens },
        output_tokens: u.outputTokens,
        output_tokens_details: { reasoning_tokens: u.reasoningTokens },
        total_tokens: u.inputTokens + u.outputTokens,
      },
    },
  };
}

function sse(res: http.ServerResponse, events: object[]): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const event of events) {
    res.write(`event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`);
  }
  res.end();
}

function extractToolOutputs(input: unknown): string[] {
  if (!Array.isArray(input)) return [];
  const outputs: string[] = [];
  for (const item of input) {
    if (typeof item !== "object" || item === null) continue;
    const { type, output } = item as { type?: unknown; output?: unknown };
    if (type !== "function_call_output" && type !== "custom_tool_call_output") continue;
    outputs.push(typeof output === "string" ? output : JSON.stringify(output));
  }
  return outputs;
}

/** Every piece of text in the request's input messages, joined (to look for the prompt). */
export function inputText(body: ResponsesBody): string {
  return JSON.stringify(body.input ?? []);
}

/**
 * `-c` overrides that point codex at the mock through a custom provider: SSE only (no websockets),
 * no retries (so failures surface at once) and no API key. Use a known model slug (`gpt-5.5` in
 * 0.169.0): an unknown slug adds a warning item and codex then offers no apply_patch tool.
 */
export function codexMockConfig(url: string): string[] {
  return [
    `model="gpt-5.5"`,
    `model_provider="mock"`,
    `model_providers.mock.name="Mock"`,
    `model_providers.mock.base_url="${url}"`,
    `model_providers.mock.wire_api="responses"`,
    `model_providers.mock.request_max_retries=0`,
    `model_providers.mock.stream_max_retries=0`,
    `model_providers.mock.supports_websockets=false`,
  ];
}
