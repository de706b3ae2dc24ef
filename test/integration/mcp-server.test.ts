import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../src/store/runs.js";
import type { Job } from "../../src/types.js";
import { afterToolOutput, execCommand, message, startMockResponses, type MockResponses } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { CLI, CODEX_BIN, makeRepo, makeTemplate, reviewJson, ROOT, TSX } from "../unit/cli/fixture.js";

/** `codex-pr-bot mcp` through the SDK's own client over stdio, with the real codex against the mock. */

const base = makeTempDir("mcp");
let repo: string;
let mock: MockResponses;
let env: Record<string, string>;

beforeAll(async () => {
  repo = await makeRepo(base);
  // One real command in the sandbox first, so the run reports progress before answering.
  mock = await startMockResponses(afterToolOutput(execCommand("git diff --stat main...HEAD"), message(reviewJson())));
  env = {
    PATH: process.env.PATH ?? "",
    HOME: base,
    DATA_DIR: path.join(base, "state"),
    CODEX_HOME_TEMPLATE: makeTemplate(base, mock.url),
    CODEX_BIN,
  };
});

afterAll(async () => {
  await mock.close();
});

async function connect(extraEnv: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({ command: TSX, args: [CLI, "mcp"], cwd: ROOT, env: { ...env, ...extraEnv }, stderr: "pipe" });
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

describe("codex-pr-bot mcp", () => {
  it("lists review_local and runs it with progress notifications", async () => {
    const client = await connect();
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["review_local"]);
      expect(tools[0]!.inputSchema.properties).toHaveProperty("path");

      const progress: { progress: number; message?: string }[] = [];
      const result = await client.callTool(
        { name: "review_local", arguments: { path: repo, base: "main" } },
        undefined,
        { onprogress: (p) => progress.push(p), timeout: 120_000 },
      );
      expect(result.isError ?? false).toBe(false);
      const text = (result.content as { type: string; text: string }[])[0]!.text;
      expect(text).toMatch(/^main\.c:4: \[P1\] Unbounded strcpy overflows buf$/m);
      expect(result.structuredContent).toMatchObject({ verdict: "patch is incorrect", findings: [{ path: "main.c", startLine: 4, inDiff: true }] });
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress[0]!.message).toBe("starting codex");
      expect(progress.at(-1)!.message).toBe("done: 1 finding(s)");
    } finally {
      await client.close();
    }
  });

  it("rejects invalid tool input", async () => {
    const client = await connect();
    try {
      const result = await client.callTool({ name: "review_local", arguments: { path: repo, mode: "delete-everything" } });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toMatch(/mode/);
    } finally {
      await client.close();
    }
  });

  it("offers get_run when a GitHub App and its run store are configured", async () => {
    const databasePath = path.join(base, "runs.sqlite");
    const store = new RunStore(databasePath);
    const job: Job = {
      id: "job-1",
      deliveryId: "d-1",
      installationId: 1,
      repo: { owner: "o", name: "r", defaultBranch: "main", cloneUrl: "https://github.com/o/r.git", htmlUrl: "https://github.com/o/r" },
      prNumber: 7,
      mode: "review",
      trigger: { kind: "event", event: "pull_request", action: "opened", sender: "a" },
      instruction: null,
      pull: null,
      enqueuedAt: Date.now(),
    };
    const runId = store.create(job);
    store.close();
    const client = await connect({ APP_ID: "123", DATABASE_PATH: databasePath });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["get_run", "review_local"]);
      const found = await client.callTool({ name: "get_run", arguments: { id: runId } });
      expect(found.structuredContent).toMatchObject({ id: runId, repo: "o/r", prNumber: 7, status: "queued" });
      const missing = await client.callTool({ name: "get_run", arguments: { id: "nope" } });
      expect(missing.isError).toBe(true);
    } finally {
      await client.close();
    }
  });
});
