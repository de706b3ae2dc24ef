import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../src/store/runs.js";
import type { Job } from "../../src/types.js";
import { afterToolResult, startMockMessages, structured, toolUse } from "../helpers/mock-messages.js";
import { codexMockConfig, execCommand, inputText, message, startMockResponses, type MockResponses } from "../helpers/mock-responses.js";
import { freePort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { claudeEnv, claudeReview, CLI, CODEX_BIN, gitIn, makeRepo, makeTemplate, reviewJson, ROOT, TSX } from "../unit/cli/fixture.js";

/** `codex-pr-bot mcp` through the SDK's own client over stdio, with the real codex against the mock. */

const base = makeTempDir("mcp");
let repo: string;
let mock: MockResponses;
let env: Record<string, string>;

beforeAll(async () => {
  repo = await makeRepo(base);
  // One real command in the sandbox first, so the run reports progress before answering. Fix runs
  // (the change prompt) edit main.c with that command; reviews only look.
  mock = await startMockResponses((req) => {
    const fixing = inputText(req.body).includes("automated software engineer");
    if (req.hasToolOutput) return message(fixing ? "Bounded the copy in main.c." : reviewJson());
    return execCommand(fixing ? "sed -i 's/strcpy(buf, v\\[1\\]);/strncpy(buf, v[1], sizeof buf - 1);/' main.c" : "git diff --stat main...HEAD");
  });
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

/**
 * Progress arrives in order: "starting codex", what the agent is doing, then (maybe) the final line.
 * The server sends the final notification before the result, but the SDK's client runs notification
 * handlers a microtask later than it settles the response and drops the request's progress handler,
 * so a final notification read in the same chunk as the result is not seen: it may be missing.
 */
function expectOrderedProgress(progress: { progress: number; message?: string }[], final: string): void {
  expect(progress[0]!.message).toBe("starting codex");
  expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));
  const doneAt = progress.findIndex((p) => p.message?.startsWith("done"));
  if (doneAt >= 0) {
    expect(doneAt).toBe(progress.length - 1);
    expect(progress[doneAt]!.message).toBe(final);
  }
  for (const p of progress.slice(1, doneAt >= 0 ? doneAt : undefined)) expect(p.message).toMatch(/command\(s\) run/);
}

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
      // get_run too: this server records its own runs, so there is a store to read.
      expect(tools.map((t) => t.name).sort()).toEqual(["fix_local", "get_run", "review_local"]);
      expect(tools.find((t) => t.name === "review_local")!.inputSchema.properties).toHaveProperty("path");

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
      expectOrderedProgress(progress, "done: 1 finding(s)");

      // The run is in the history: get_run returns it as the MCP tool's, with what the review found.
      const runId = (result.structuredContent as { runId: string }).runId;
      expect(runId).toMatch(/^[0-9a-z]{23}$/);
      expect(text).toContain(`Recorded as run ${runId} (get_run shows it).`);
      const found = await client.callTool({ name: "get_run", arguments: { id: runId } });
      expect(found.isError ?? false).toBe(false);
      expect(found.structuredContent).toMatchObject({
        id: runId,
        source: "mcp",
        status: "succeeded",
        mode: "review",
        findings: 1,
        workdir: repo,
        baseRef: "main",
        headRef: "feature",
        executors: ["codex"],
        prNumber: null,
        trigger: null,
        error: null,
      });
      expect((found.structuredContent as { usage: { inputTokens: number } }).usage.inputTokens).toBeGreaterThan(0);
      // The agent's command really ran (exit 0): it is in the run's recorded event log.
      const store = new RunStore(path.join(env.DATA_DIR!, "codex-pr-bot.sqlite"));
      try {
        const events = store.get(runId)!.events.map((l) => JSON.parse(l) as { type: string; item?: { type: string; exit_code: number } });
        expect(events.some((e) => e.type === "item.completed" && e.item?.type === "command_execution" && e.item.exit_code === 0)).toBe(true);
      } finally {
        store.close();
      }
    } finally {
      await client.close();
    }
  });

  it("review_local with executor both merges codex's and claude's findings", async () => {
    const claudeMock = await startMockMessages(afterToolResult(toolUse("Bash", { command: "git log --oneline -1" }), structured(claudeReview())));
    const client = await connect(claudeEnv(claudeMock.url));
    try {
      const result = await client.callTool({ name: "review_local", arguments: { path: repo, base: "main", executor: "both" } }, undefined, { timeout: 120_000 });
      expect(result.isError ?? false).toBe(false);
      expect(claudeMock.requests[1]!.toolResults.join("\n")).toContain("copy argv");
      const json = result.structuredContent as { findings: { title: string; agents: string[] }[]; agents: { name: string; status: string; commandsRun: number }[] };
      expect(json.findings[0]).toMatchObject({ title: "Unbounded strcpy overflows buf", agents: ["codex", "claude"] });
      expect(json.findings[1]).toMatchObject({ title: "Missing check that argv[1] exists", agents: ["claude"] });
      expect(json.agents.map((a) => [a.name, a.status, a.commandsRun])).toEqual([
        ["codex", "succeeded", 1],
        ["claude", "succeeded", 1],
      ]);
    } finally {
      await client.close();
      await claudeMock.close();
    }
  });

  it("fix_local returns the patch and the changed files, and applies it with apply: true", async () => {
    const client = await connect();
    try {
      const progress: { progress: number; message?: string }[] = [];
      const result = await client.callTool(
        { name: "fix_local", arguments: { path: repo, base: "main", instruction: "bound the copy into buf" } },
        undefined,
        { onprogress: (p) => progress.push(p), timeout: 120_000 },
      );
      expect(result.isError ?? false).toBe(false);
      const json = result.structuredContent as {
        status: string;
        patch: string;
        changedFiles: { path: string; status: string; additions: number; deletions: number }[];
        commands: { command: string; exitCode: number | null; status: string }[];
        applied: unknown;
      };
      expect(json.status).toBe("changed");
      expect(json.changedFiles).toEqual([{ path: "main.c", status: "modified", additions: 1, deletions: 1, binary: false }]);
      expect(json.patch).toContain("+  strncpy(buf, v[1], sizeof buf - 1);");
      // The agent's command really ran (exit 0) in the scratch worktree, not in the checkout.
      expect(json.commands).toEqual([expect.objectContaining({ exitCode: 0, status: "completed" })]);
      expect(json.commands[0]!.command).toContain("sed -i");
      expect(json.applied).toBeNull();
      expect(readFileSync(path.join(repo, "main.c"), "utf8")).toContain("strcpy(buf, v[1]);");
      expect((result.content as { text: string }[])[0]!.text).toContain("```diff");
      expectOrderedProgress(progress, "done: 1 file(s) changed");

      const applied = await client.callTool(
        { name: "fix_local", arguments: { path: repo, base: "main", instruction: "bound the copy into buf", apply: true } },
        undefined,
        { timeout: 120_000 },
      );
      expect(applied.isError ?? false).toBe(false);
      expect(applied.structuredContent).toMatchObject({ status: "changed", applied: { method: "clean", conflicts: [] } });
      expect(readFileSync(path.join(repo, "main.c"), "utf8")).toContain("strncpy(buf, v[1], sizeof buf - 1);");
      // Both fixes are runs: the first returned its patch to the client, the second applied it.
      const returnedRun = await client.callTool({ name: "get_run", arguments: { id: (result.structuredContent as { runId: string }).runId } });
      expect(returnedRun.structuredContent).toMatchObject({ source: "mcp", mode: "fix", status: "succeeded", patchOutput: "returned" });
      const appliedRun = await client.callTool({ name: "get_run", arguments: { id: (applied.structuredContent as { runId: string }).runId } });
      expect(appliedRun.structuredContent).toMatchObject({ source: "mcp", mode: "fix", status: "succeeded", patchOutput: "applied" });

      // Now the tree is dirty: applying again is refused before the agent runs.
      const before = mock.requests.length;
      const refused = await client.callTool({ name: "fix_local", arguments: { path: repo, instruction: "again", apply: true } });
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain("uncommitted changes (main.c)");
      expect(mock.requests.length).toBe(before);
    } finally {
      await client.close();
      await gitIn(repo, "checkout", "--", "main.c");
    }
  });

  it("review_local names an unreachable model API in a progress notification at once, and fails with the cause", async () => {
    const port = await freePort(); // nothing listens there: connections are refused
    const template = path.join(base, "refused-template");
    mkdirSync(template, { recursive: true });
    writeFileSync(path.join(template, "config.toml"), `${codexMockConfig(`http://127.0.0.1:${port}/v1`).join("\n")}\n`);
    const client = await connect({ CODEX_HOME_TEMPLATE: template, CODEX_CONNECT_RETRIES: "1" });
    try {
      const progress: { progress: number; message?: string }[] = [];
      const result = await client.callTool(
        { name: "review_local", arguments: { path: repo, base: "main" } },
        undefined,
        { onprogress: (p) => progress.push(p), timeout: 120_000 },
      );
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain(`codex cannot reach the model API at 127.0.0.1:${port}`);
      expect(progress.map((p) => p.message)).toContain(`codex cannot reach the model API at 127.0.0.1:${port} (Connection failed: error sending request): retrying 1/1`);
    } finally {
      await client.close();
    }
  });

  it("fix_local needs an instruction in fix mode", async () => {
    const client = await connect();
    try {
      const result = await client.callTool({ name: "fix_local", arguments: { path: repo } });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain("needs an instruction");
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

  it("get_run reads the app's runs from DATABASE_PATH", async () => {
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
    const client = await connect({ DATABASE_PATH: databasePath });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["fix_local", "get_run", "review_local"]);
      const found = await client.callTool({ name: "get_run", arguments: { id: runId } });
      expect(found.structuredContent).toMatchObject({ id: runId, repo: "o/r", prNumber: 7, status: "queued" });
      const missing = await client.callTool({ name: "get_run", arguments: { id: "nope" } });
      expect(missing.isError).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("offers no get_run with history off and no run store to read", async () => {
    const client = await connect({ CODEX_PR_BOT_NO_HISTORY: "1", DATA_DIR: makeTempDir("mcp-no-history") });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["fix_local", "review_local"]);
    } finally {
      await client.close();
    }
  });
});
