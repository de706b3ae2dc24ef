import http from "node:http";
import { listenLoopback, sendEvents } from "./responses.js";

/**
 * A scripted Responses API model that reads the change the way an agent does: it takes the range
 * and the changed files from the review prompt, asks codex to run `git diff <range> -- <file>` for
 * each file in turn (one tool call per request), and then answers with `answer(prompt)`. Every request
 * is charged by what it carries: input tokens = bytes of the request body / 4, reported in the
 * response's usage (so codex, and the app's run record, account the same figure) and kept here.
 * The accounting is the same for every run, so a smaller prompt and less to read cost fewer tokens.
 */

export interface ReadingModel {
  url: string;
  /** Input tokens charged per request, in order. */
  requests: { inputTokens: number; at: number }[];
  close(): Promise<void>;
}

const BYTES_PER_TOKEN = 4;

export async function startReadingModel(answer: (prompt: string) => string): Promise<ReadingModel> {
  const requests: { inputTokens: number; at: number }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || !(req.url ?? "").endsWith("/responses")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "no route" } }));
        return;
      }
      const raw = Buffer.concat(chunks);
      const inputTokens = Math.ceil(raw.length / BYTES_PER_TOKEN);
      requests.push({ inputTokens, at: Date.now() });
      const body = JSON.parse(raw.toString("utf8")) as { input?: unknown[] };
      const id = `resp_${requests.length}`;
      const prompt = reviewPrompt(body.input ?? []);
      const read = (body.input ?? []).filter((i) => (i as { type?: string }).type === "function_call_output").length;
      const plan = readingPlan(prompt);
      const item =
        plan && read < plan.files.length
          ? {
              type: "function_call",
              name: "exec_command",
              arguments: JSON.stringify({ cmd: `git diff ${plan.range} -- '${plan.files[read]!.replace(/'/g, "")}'` }),
              call_id: `call_${id}`,
              id: `fc_${id}`,
            }
          : { type: "message", role: "assistant", id: `msg_${id}`, content: [{ type: "output_text", text: answer(prompt) }] };
      const events = [
        { type: "response.created", response: { id } },
        { type: "response.output_item.done", item },
        {
          type: "response.completed",
          response: {
            id,
            usage: {
              input_tokens: inputTokens,
              input_tokens_details: { cached_tokens: 0 },
              output_tokens: 50,
              output_tokens_details: { reasoning_tokens: 0 },
              total_tokens: inputTokens + 50,
            },
          },
        },
      ];
      sendEvents(res, events);
    });
  });
  return { requests, ...(await listenLoopback(server)) };
}

/** The bot's review prompt among the input messages (the last user text that holds one). */
function reviewPrompt(input: unknown[]): string {
  let found = "";
  for (const item of input) {
    const content = (item as { role?: string; content?: { text?: string }[] }).content;
    if ((item as { role?: string }).role !== "user" || !Array.isArray(content)) continue;
    for (const c of content) if (typeof c.text === "string" && c.text.includes("automated code reviewer")) found = c.text;
  }
  return found;
}

/** What the prompt asks to review: the first indented `git diff` range and the listed changed files. */
export function readingPlan(prompt: string): { range: string; files: string[] } | null {
  const range = /\n {4}git diff ([0-9a-f]{40}\.\.\.?[0-9a-f]{40})\n/.exec(prompt)?.[1];
  if (!range) return null;
  const section = /\n(?:Files changed since the last review|Changed files to consider)[^\n]*\n((?:- [^\n]*\n)*)/.exec(prompt)?.[1] ?? "";
  const files = [...section.matchAll(/^- \S+ `([^`]+)`$/gm)].map((m) => m[1]!);
  return { range, files };
}
