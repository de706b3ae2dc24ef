import { execFileSync } from "node:child_process";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { reportAbandoned } from "../../src/jobs/abandoned.js";
import type { PipelineDeps } from "../../src/jobs/deps.js";
import { logicalKey } from "../../src/jobs/queue.js";
import { describeTrigger } from "../../src/jobs/trigger.js";
import { BullQueue } from "../../src/jobs/bullmq-queue.js";
import type { JobQueue } from "../../src/jobs/queue.js";
import { SqliteQueue } from "../../src/jobs/sqlite-queue.js";
import { runningFixes } from "../../src/fix/registry.js";
import type { RunSummary } from "../../src/store/runs.js";
import type { Job } from "../../src/types.js";
import { APP_ID, INSTALLATION_ID, PRIVATE_KEY, startApp, testSettings, type RunningApp } from "../helpers/app-server.js";
import { INSTALLATION_TOKEN } from "../helpers/fake-github.js";
import { applyPatch, execCommand, message, startMockResponses, type MockRequest, type MockResponses, type Turn } from "../helpers/mock-responses.js";
import { startRedis, type RedisServer } from "../helpers/redis.js";
import { REDIS, skipWithout } from "../helpers/services.js";
import { makeTempDir } from "../helpers/tmp.js";
import { pullRequestPayload } from "../helpers/webhooks.js";
import { CLI, ROOT, TSX } from "../unit/cli/fixture.js";
import { reviewJson, scenario, writeCodexTemplate, type Scenario } from "./helpers.js";

/**
 * `review_pr` / `fix_pr`: an MCP client (the SDK's own, over stdio) asks a `codex-pr-bot mcp` child
 * process to dispatch work; the child authenticates as the app against FakeGitHub over loopback HTTP
 * and puts the job into the SQLite queue file of the app running in this process (real Probot,
 * real codex against the scripted Responses server), which runs it and posts on the fake GitHub.
 */

const GUARD_PATCH =
  '*** Begin Patch\n*** Update File: src/math.js\n@@\n-  return a / b;\n+  if (b === 0) throw new RangeError("division by zero");\n+  return a / b;\n*** End Patch\n';


type DurableApp = RunningApp<JobQueue>;

/**
 * The app as `npm start` runs it: the embedded SQLite queue (one file for queue and runs), or with
 * QUEUE_URL the BullMQ queue on Redis (runs still in the SQLite file).
 */
function startDurableApp(dataDir: string, queueUrl: string | null): Promise<DurableApp> {
  const settings = testSettings(dataDir);
  return startApp<JobQueue>(settings, {
    databasePath: path.join(dataDir, "codex-pr-bot.sqlite"),
    queue: (log, database) =>
      queueUrl
        ? new BullQueue({ url: queueUrl, concurrency: settings.concurrency, log })
        : // A short poll picks up the MCP process's jobs quickly.
          new SqliteQueue({ database, concurrency: settings.concurrency, log, pollMs: 100 }),
  });
}

type ToolResult = Awaited<ReturnType<Client["callTool"]>>;

function textOf(result: ToolResult): string {
  return (result.content as { type: string; text: string }[]).map((c) => c.text).join("\n");
}

function git(bare: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", bare, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

// The whole flow runs on the embedded queue; with QUEUE_URL (Redis) the review_pr flow runs again,
// the rest being the same code whatever the queue. Without redis-server the Redis round is skipped (says so).
const backends = skipWithout(REDIS, "the Redis round of test/integration/mcp-dispatch.test.ts") ? (["sqlite"] as const) : (["sqlite", "redis"] as const);
describe.each(backends)("MCP review_pr / fix_pr dispatch to the GitHub App (%s queue)", (backend) => {
  // The rest is the same code whatever the queue: registered for the embedded round only, so that a
  // CI run reports no skipped test.
  const sqliteOnly = (name: string, fn: () => unknown): void => {
    if (backend === "sqlite") it(name, fn);
  };
  let redis: RedisServer | null = null;
  beforeAll(async () => {
    if (backend === "redis") redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  let sc: Scenario;
  let mock: MockResponses;
  let app: DurableApp;
  let listener: Awaited<ReturnType<Scenario["gh"]["listen"]>>;
  let childEnv: Record<string, string>;
  let script: (req: MockRequest) => Turn;
  const clients: Client[] = [];

  beforeEach(async () => {
    runningFixes.clear();
    sc = scenario("mcp-dispatch");
    const { gh } = sc;
    gh.defaults();
    gh.on("GET", /^\/repos\/octo\/demo\/installation$/, () => [200, { id: INSTALLATION_ID, account: { login: "octo" } }]);
    gh.on("GET", /^\/repos\/octo\/other\/installation$/, () => [404, { message: "Not Found" }]);
    gh.on("GET", gh.repoPath("/pulls/99"), () => [404, { message: "Not Found" }]);
    gh.on("GET", gh.repoPath("/pulls/5"), () => [
      200,
      { ...pullRequestPayload("closed", sc.repo, { number: 5, headSha: sc.headSha, baseSha: sc.baseSha }).pull_request, state: "closed", merged: true },
    ]);
    gh.on("POST", gh.repoPath("/pulls"), (_m, body) => [
      201,
      { number: 8, html_url: "https://github.com/octo/demo/pull/8", draft: (body as { draft?: boolean }).draft ?? false },
    ]);
    listener = await gh.listen();

    script = () => message("unexpected request");
    mock = await startMockResponses((req) => script(req));
    writeCodexTemplate(path.join(sc.dataDir, "codex-template"), mock.url);
    app = await startDurableApp(sc.dataDir, redis?.url ?? null);
    childEnv = {
      PATH: process.env.PATH ?? "",
      HOME: sc.dataDir,
      DATA_DIR: sc.dataDir,
      APP_ID: String(APP_ID),
      PRIVATE_KEY,
      // Probot's Enterprise Server settings are how the child's Octokit reaches the loopback fake.
      GHE_HOST: listener.host,
      GHE_PROTOCOL: "http",
      MCP_REQUESTED_BY: "alice",
      ...(redis ? { QUEUE_URL: redis.url } : {}),
    };
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await app.close();
    await listener.close();
    await mock.close();
    await sc.close();
  });

  async function connect(env: Record<string, string | undefined> = childEnv): Promise<Client> {
    const clean = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    const transport = new StdioClientTransport({ command: TSX, args: [CLI, "mcp"], cwd: ROOT, env: clean, stderr: "pipe" });
    const client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  /** get_run until the run is over, as an MCP client would poll it. */
  async function finished(client: Client, id: string): Promise<RunSummary> {
    // Inside the test's own 60 s, so that a run that never ends says where it stopped.
    const deadline = Date.now() + 40_000;
    for (;;) {
      const result = await client.callTool({ name: "get_run", arguments: { id } });
      expect(result.isError ?? false).toBe(false);
      const run = result.structuredContent as unknown as RunSummary;
      if (run.status !== "queued" && run.status !== "running") return run;
      if (Date.now() > deadline) {
        const runs = app.runs.list().map((r) => ({ id: r.id, jobId: r.jobId, status: r.status, error: r.error }));
        throw new Error(`run ${id} still ${run.status}; the app's runs: ${JSON.stringify(runs)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  function commandsOf(runId: string): { command: string; exit_code: number; status: string }[] {
    return app.runs
      .get(runId)!
      .events.map((line) => JSON.parse(line) as { type: string; item?: { type: string; command: string; exit_code: number; status: string } })
      .filter((e) => e.type === "item.completed" && e.item?.type === "command_execution")
      .map((e) => e.item!);
  }

  sqliteOnly("offers review_pr and fix_pr only with the app's credentials", async () => {
    const withKey = await connect();
    const names = (await withKey.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["review_local", "get_run", "review_pr", "fix_pr"]));

    const withoutKey = await connect({ ...childEnv, PRIVATE_KEY: undefined });
    const without = (await withoutKey.listTools()).tools.map((t) => t.name);
    expect(without).toContain("get_run");
    expect(without).not.toContain("review_pr");
    expect(without).not.toContain("fix_pr");
  });

  it("review_pr queues a review that the app's worker runs with codex and posts on the PR; get_run follows it", async () => {
    script = (req) => (req.toolOutputs.length === 0 ? execCommand("cat src/math.js") : message(reviewJson(null)));
    const client = await connect();

    const result = await client.callTool({ name: "review_pr", arguments: { owner: "octo", repo: "demo", number: 7 } });
    expect(result.isError ?? false).toBe(false);
    const queued = result.structuredContent as { runId: string; jobId: string; status: string; pullRequest: string; headSha: string; note: string };
    expect(queued).toMatchObject({ status: "queued", pullRequest: "https://github.com/octo/demo/pull/7", headSha: sc.headSha });
    expect(queued.runId).toMatch(/^[0-9a-z]{13}[0-9a-f]{10}$/);
    expect(textOf(result)).toContain(`as run ${queued.runId}`);
    expect(queued.note).toMatch(/the app server or `codex-pr-bot worker` runs it/);
    // The child found the installation and read the PR itself, over loopback HTTP, as the app.
    expect(sc.gh.find("GET", /^\/repos\/octo\/demo\/installation$/)).toHaveLength(1);

    const run = await finished(client, queued.runId);
    expect(run).toMatchObject({
      status: "succeeded",
      mode: "review",
      jobId: queued.jobId,
      prNumber: 7,
      headSha: sc.headSha,
      findings: 2,
      executors: ["codex"],
      trigger: { kind: "dispatch", via: "mcp", requestedBy: "alice" },
    });
    expect(run.links.checkRun).toMatch(/^https:\/\/github\.com\/octo\/demo\/runs\/\d+$/);
    expect(run.links.review).toMatch(/^https:\/\/github\.com\/octo\/demo\/pull\/7#pullrequestreview-\d+$/);

    // The agent really ran a sandboxed command, and never saw the token.
    expect(commandsOf(queued.runId)).toEqual([expect.objectContaining({ command: "/bin/bash -lc 'cat src/math.js'", exit_code: 0, status: "completed" })]);
    expect(mock.requests[1]!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);
    expect(JSON.stringify(mock.requests)).not.toContain(INSTALLATION_TOKEN);

    expect(sc.gh.unexpected).toEqual([]);
    const reviews = sc.gh.bodies<{ commit_id: string; comments: { path: string; line: number; body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.commit_id).toBe(sc.headSha);
    expect(reviews[0]!.comments).toHaveLength(1);
    expect(reviews[0]!.comments[0]).toMatchObject({ path: "src/math.js", line: 6, side: "RIGHT" });
    expect(reviews[0]!.comments[0]!.body).toContain("Guard against division by zero");
    const checks = sc.gh.bodies<{ name: string; head_sha: string }>("POST", /\/check-runs$/);
    expect(checks).toEqual([expect.objectContaining({ name: "codex-pr-bot / review", head_sha: sc.headSha })]);
    // A dispatch is not a command: no permission check and nothing to react to.
    expect(sc.gh.find("GET", /\/collaborators\//)).toHaveLength(0);
    expect(sc.gh.find("POST", /\/reactions$/)).toHaveLength(0);
  });

  sqliteOnly("fix_pr queues a fix: codex edits the PR head and the app opens a fix PR and replies in the conversation", async () => {
    script = (req) => {
      if (req.toolOutputs.length === 0) return execCommand("grep -n 'a / b' src/math.js");
      if (req.toolOutputs.length === 1) return applyPatch(GUARD_PATCH);
      return message("- Guarded `divide()` against a zero divisor.");
    };
    const client = await connect();

    const result = await client.callTool({
      name: "fix_pr",
      arguments: { owner: "octo", repo: "demo", number: 7, instruction: "make divide() reject a zero divisor" },
    });
    expect(result.isError ?? false).toBe(false);
    const { runId } = result.structuredContent as { runId: string };

    const run = await finished(client, runId);
    expect(run).toMatchObject({ status: "succeeded", mode: "fix", trigger: { kind: "dispatch", requestedBy: "alice" } });
    expect(run.links.fixPr).toBe("https://github.com/octo/demo/pull/8");
    expect(commandsOf(runId)).toEqual([expect.objectContaining({ command: "/bin/bash -lc \"grep -n 'a / b' src/math.js\"", exit_code: 0, status: "completed" })]);
    expect(JSON.stringify(mock.requests[0]!.body.input)).toContain("make divide() reject a zero divisor");

    expect(sc.gh.unexpected).toEqual([]);
    const branch = `codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}`;
    expect(git(sc.origin.bare, "show", `${branch}:src/math.js`)).toContain('if (b === 0) throw new RangeError("division by zero");');
    const created = sc.gh.bodies<{ base: string; head: string; body: string }>("POST", /\/repos\/octo\/demo\/pulls$/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ base: "feature", head: branch });
    expect(created[0]!.body).toContain("at the request of `alice` (through the MCP server)");
    // The reply goes to the PR conversation and mentions nobody: "alice" is a label, not a login.
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(/^I opened #8 with a fix: https:\/\/github\.com\/octo\/demo\/pull\/8/);
    expect(replies[0]).not.toContain("@");
  });

  sqliteOnly("the executor a dispatch names is the one that runs: claude, not set up here, fails clearly in the PR conversation", async () => {
    const client = await connect();
    const result = await client.callTool({ name: "fix_pr", arguments: { owner: "octo", repo: "demo", number: 7, instruction: "x", executor: "claude" } });
    expect(result.isError ?? false).toBe(false);
    const { runId } = result.structuredContent as { runId: string };

    const run = await finished(client, runId);
    expect(run.status).toBe("failed");
    expect(run.trigger).toEqual({ kind: "dispatch", via: "mcp", requestedBy: "alice", executor: "claude" });
    expect(run).toMatchObject({ executors: ["claude"], error: "Claude failed" });
    expect(mock.requests).toHaveLength(0); // codex was never asked
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(/^\*\*Claude failed\*\*\n\nclaude is not set up on this installation/);
    expect(replies[0]).toContain("Requested by `alice` through the codex-pr-bot MCP server.");
    expect(replies[0]).not.toMatch(/^@/);
    // The fix's own check run names the same agent.
    const completed = sc.gh.bodies<{ status?: string; output?: { title: string } }>("PATCH", /\/check-runs\/\d+$/).filter((b) => b.status === "completed");
    expect(completed.map((b) => b.output?.title)).toEqual(["Claude failed"]);
    expect(sc.gh.unexpected).toEqual([]);
  });

  sqliteOnly("answers bad requests with clear tool errors and queues nothing", async () => {
    const client = await connect();
    const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });

    const notInstalled = await call("review_pr", { owner: "octo", repo: "other", number: 7 });
    expect(notInstalled.isError).toBe(true);
    expect(textOf(notInstalled)).toContain("the app is not installed on octo/other");

    const missing = await call("review_pr", { owner: "octo", repo: "demo", number: 99 });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain("there is no pull request #99 in octo/demo");

    const merged = await call("fix_pr", { owner: "octo", repo: "demo", number: 5 });
    expect(merged.isError).toBe(true);
    expect(textOf(merged)).toContain("octo/demo#5 is merged: only open pull requests can be reviewed or fixed");

    for (const bad of [
      { owner: "octo", repo: "demo", number: -1 },
      { owner: "octo", repo: "demo", number: 1.5 },
      { owner: "octo", repo: "demo", number: "7" },
    ]) {
      const invalid = await call("review_pr", bad);
      expect(invalid.isError).toBe(true);
      expect(textOf(invalid)).toMatch(/number/);
    }
    const badOwner = await call("review_pr", { owner: "octo/../x", repo: "demo", number: 7 });
    expect(badOwner.isError).toBe(true);
    expect(textOf(badOwner)).toContain("owner must be a GitHub user or organisation login");
    const badMode = await call("fix_pr", { owner: "octo", repo: "demo", number: 7, mode: "review" });
    expect(badMode.isError).toBe(true);
    expect(textOf(badMode)).toMatch(/mode/);

    expect(app.runs.list()).toEqual([]);
    expect(sc.gh.unexpected).toEqual([]);
  });

  sqliteOnly("refuses to queue into a database no app uses, and an invalid MCP_REQUESTED_BY", async () => {
    const elsewhere = await connect({ ...childEnv, DATA_DIR: makeTempDir("mcp-dispatch-elsewhere") });
    const lost = await elsewhere.callTool({ name: "review_pr", arguments: { owner: "octo", repo: "demo", number: 7 } });
    expect(lost.isError).toBe(true);
    expect(textOf(lost)).toMatch(/^no queue database at .*codex-pr-bot\.sqlite: start the app once with the same DATA_DIR/);

    const badName = await connect({ ...childEnv, MCP_REQUESTED_BY: "alice\n@everyone" });
    const refused = await badName.callTool({ name: "review_pr", arguments: { owner: "octo", repo: "demo", number: 7 } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("MCP_REQUESTED_BY must be 1-100 characters");
    expect(app.runs.list()).toEqual([]);
    // Neither got as far as GitHub.
    expect(sc.gh.find("GET", /\/installation$/)).toHaveLength(0);
  });

  sqliteOnly("a dispatched job the queue gives up on is reported in the PR conversation, mentioning nobody", async () => {
    const octokit = new ProbotOctokit({ auth: { token: "t" }, retry: { enabled: false }, throttle: { enabled: false } });
    const deps = {
      log: pino({ level: "silent" }),
      runs: app.runs,
      auth: async () => ({ octokit, token: async () => "t" }),
    } as unknown as PipelineDeps;
    const job: Job = {
      id: "job-abandoned",
      deliveryId: "mcp:job-abandoned",
      installationId: INSTALLATION_ID,
      repo: { owner: "octo", name: "demo", defaultBranch: "main", cloneUrl: sc.origin.bare, htmlUrl: "https://github.com/octo/demo" },
      prNumber: 7,
      mode: "fix",
      trigger: { kind: "dispatch", via: "mcp", requestedBy: "alice" },
      instruction: "x",
      pull: null,
      enqueuedAt: Date.now(),
    };
    const runId = app.runs.create(job);
    await reportAbandoned(deps, job, "the process running it stopped twice");

    expect(app.runs.get(runId)).toMatchObject({ status: "failed", error: "the process running it stopped twice" });
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    expect(replies).toEqual([
      "codex-pr-bot stopped working on this and will not retry: the process running it stopped twice. Dispatch it again if it is still needed." +
        "\n\n<sub>Requested by `alice` through the codex-pr-bot MCP server.</sub>",
    ]);
    expect(describeTrigger(job.trigger)).toBe("MCP dispatch by alice");
    expect(describeTrigger({ kind: "dispatch", via: "mcp", requestedBy: "bob", executor: "claude" })).toBe("MCP dispatch by bob (claude)");
  });

  sqliteOnly("keys every dispatch apart: never deduplicated against a push's review of the same head", () => {
    const base: Job = {
      id: "a",
      deliveryId: "d",
      installationId: 1,
      repo: { owner: "o", name: "r", defaultBranch: "main", cloneUrl: "u", htmlUrl: "h" },
      prNumber: 7,
      mode: "review",
      trigger: { kind: "event", event: "pull_request", action: "opened", sender: "s" },
      instruction: null,
      pull: { headSha: "f".repeat(40), headRef: "x", baseSha: "e".repeat(40), baseRef: "main", fromFork: false, isDraft: false, author: "s", title: "t", body: "" },
      enqueuedAt: 0,
    };
    const dispatch = (id: string): Job => ({ ...base, id, trigger: { kind: "dispatch", via: "mcp", requestedBy: "alice" } });
    const keys = new Set([logicalKey(base), logicalKey(dispatch("b")), logicalKey(dispatch("c"))]);
    expect(keys.size).toBe(3);
  });
});
