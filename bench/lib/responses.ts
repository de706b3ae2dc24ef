import http from "node:http";
import type { AddressInfo } from "node:net";
import { wallMs } from "./common.js";

/**
 * A scripted, instant OpenAI Responses API for the real codex binary (the SSE dialect codex 0.169.0
 * accepts; see test/helpers/mock-responses.ts, which this follows): every request is answered with
 * one assistant message, the text `answer(request body)` returns at that moment, after an optional delay that
 * stands in for model time. Requests are timestamped.
 */
export interface ResponsesServer {
  /** Base URL for the provider config (codex appends /responses). */
  url: string;
  requests: ModelRequest[];
  close(): Promise<void>;
}

export interface ModelRequest {
  at: number;
  doneAt: number;
  /** The request body's size as sent (bytes). */
  bytes: number;
  /** Characters of its `instructions` and `input` (what the prompt costs), when the body is plain JSON. */
  promptChars: number | null;
}

function promptChars(body: string): number | null {
  try {
    const parsed = JSON.parse(body) as { instructions?: unknown; input?: unknown };
    return JSON.stringify(parsed.instructions ?? "").length + JSON.stringify(parsed.input ?? []).length;
  } catch {
    return null;
  }
}

/**
 * `delayMs` is the model time of every request, or a function of the request's 1-based number (a
 * few slow requests among instant ones).
 */
export async function startResponses(answer: (request: string) => string, options: { delayMs?: number | ((n: number) => number) } = {}): Promise<ResponsesServer> {
  const requests: ModelRequest[] = [];
  const server = http.createServer((req, res) => {
    const at = wallMs();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || !(req.url ?? "").endsWith("/responses")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `mock: no route for ${req.method} ${req.url}` } }));
        return;
      }
      const n = requests.length + 1;
      const raw = Buffer.concat(chunks);
      const entry: ModelRequest = { at, doneAt: 0, bytes: raw.length, promptChars: req.headers["content-encoding"] ? null : promptChars(raw.toString("utf8")) };
      requests.push(entry);
      const reply = (): void => {
        const id = `resp_${n}`;
        const events = [
          { type: "response.created", response: { id } },
          {
            type: "response.output_item.done",
            item: { type: "message", role: "assistant", id: `msg_${id}`, content: [{ type: "output_text", text: answer(Buffer.concat(chunks).toString("utf8")) }] },
          },
          {
            type: "response.completed",
            response: {
              id,
              usage: {
                input_tokens: 1000,
                input_tokens_details: { cached_tokens: 0 },
                output_tokens: 200,
                output_tokens_details: { reasoning_tokens: 0 },
                total_tokens: 1200,
              },
            },
          },
        ];
        sendEvents(res, events);
        entry.doneAt = wallMs();
      };
      const delay = typeof options.delayMs === "function" ? options.delayMs(n) : options.delayMs;
      if (delay) setTimeout(reply, delay);
      else reply();
    });
  });
  return { requests, ...(await listenLoopback(server)) };
}

/** The Responses API's SSE stream: each event as `event:`/`data:` lines, then the end. */
export function sendEvents(res: http.ServerResponse, events: readonly { type: string }[]): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const e of events) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  res.end();
}

/** Starts a scripted model server on a loopback port: its base URL for a provider config, and close(). */
export async function listenLoopback(server: http.Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The codex template config.toml: a custom provider pointing at the scripted server. */
export function codexConfigToml(url: string): string {
  return [
    'model = "gpt-5.5"',
    'model_provider = "mock"',
    "[model_providers.mock]",
    'name = "Mock"',
    `base_url = "${url}"`,
    'wire_api = "responses"',
    "request_max_retries = 0",
    "stream_max_retries = 0",
    "supports_websockets = false",
    "",
  ].join("\n");
}

export interface BenchFinding {
  path: string;
  line: number;
  anchor: string;
  title: string;
  priority?: number;
}

/** The review JSON codex is asked for (src/executors/findings.ts), with the given findings. */
export function reviewJson(findings: BenchFinding[]): string {
  return JSON.stringify({
    findings: findings.map((f) => ({
      title: f.title,
      body: `${f.title}: this line needs another look (bench finding).`,
      priority: f.priority ?? 2,
      confidence_score: 0.8,
      code_location: { file_path: f.path, line_range: { start: f.line, end: f.line } },
      anchor_code: f.anchor,
      suggestion: null,
    })),
    overall_correctness: findings.length > 0 ? "patch is incorrect" : "patch is correct",
    overall_explanation: "Scripted bench review.",
    overall_confidence_score: 0.7,
  });
}
