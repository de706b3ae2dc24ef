import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseRepoConfig } from "../../../src/config/load.js";
import { Cancelled, ExecutorError } from "../../../src/errors.js";
import { localAgents } from "../../../src/local/pick-agents.js";
import { recorded, runDatabaseCandidates, startLocalRun } from "../../../src/local/history.js";
import { historyDatabasePath, loadLocalSettings } from "../../../src/local/settings.js";
import { RunStore, type LocalRunInit } from "../../../src/store/runs.js";
import { runsRoutes } from "../../../src/web/runs-routes.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("local-history");
const usage = { inputTokens: 1_000_000, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 };

function init(overrides: Partial<Omit<LocalRunInit, "owner">> = {}): Omit<LocalRunInit, "owner"> {
  return {
    source: "cli",
    repo: "octo/demo",
    workdir: "/src/demo",
    mode: "review",
    executors: ["codex"],
    baseRef: "main",
    headRef: "feature",
    baseSha: "b".repeat(40),
    headSha: "c".repeat(40),
    ...overrides,
  };
}

function read(file: string, id: string) {
  const store = new RunStore(file);
  try {
    return store.get(id);
  } finally {
    store.close();
  }
}

describe("where local runs are recorded", () => {
  const cwd = "/work/app";
  it("DATABASE_PATH, else the state dir's codex-pr-bot.sqlite: DATA_DIR (the app's), XDG_STATE_HOME, ~/.local/state", () => {
    expect(historyDatabasePath({ DATABASE_PATH: "runs/x.sqlite", DATA_DIR: "/srv/data" }, cwd)).toBe("/work/app/runs/x.sqlite");
    expect(historyDatabasePath({ DATA_DIR: "/srv/data" }, cwd)).toBe("/srv/data/codex-pr-bot.sqlite");
    expect(historyDatabasePath({ XDG_STATE_HOME: "/home/u/.state", HOME: "/home/u" }, cwd)).toBe("/home/u/.state/codex-pr-bot/codex-pr-bot.sqlite");
    expect(historyDatabasePath({ HOME: "/home/u" }, cwd)).toBe("/home/u/.local/state/codex-pr-bot/codex-pr-bot.sqlite");
  });

  it("reads the app's default ./.data store too, only when nothing says where the app's is", () => {
    expect(runDatabaseCandidates({ HOME: "/home/u" }, cwd)).toEqual([
      "/home/u/.local/state/codex-pr-bot/codex-pr-bot.sqlite",
      "/work/app/.data/codex-pr-bot.sqlite",
    ]);
    expect(runDatabaseCandidates({ DATA_DIR: ".data" }, cwd)).toEqual(["/work/app/.data/codex-pr-bot.sqlite"]);
    expect(runDatabaseCandidates({ DATABASE_PATH: "/srv/runs.sqlite", HOME: "/home/u" }, cwd)).toEqual(["/srv/runs.sqlite"]);
  });

  it("CODEX_PR_BOT_NO_HISTORY turns history off; bad RUN_RETENTION_DAYS and CODEX_MAX_TOKENS are named", () => {
    const env = { HOME: "/home/u", DATA_DIR: "/srv/data" };
    expect(loadLocalSettings(env, cwd).history).toEqual({ databasePath: "/srv/data/codex-pr-bot.sqlite", retentionDays: 30 });
    for (const off of ["1", "true", "YES", "on"]) expect(loadLocalSettings({ ...env, CODEX_PR_BOT_NO_HISTORY: off }, cwd).history).toBeNull();
    expect(loadLocalSettings({ ...env, CODEX_PR_BOT_NO_HISTORY: "0" }, cwd).history).not.toBeNull();
    expect(loadLocalSettings({ ...env, RUN_RETENTION_DAYS: "7" }, cwd).history?.retentionDays).toBe(7);
    expect(() => loadLocalSettings({ ...env, RUN_RETENTION_DAYS: "0" }, cwd)).toThrow('RUN_RETENTION_DAYS must be a positive integer, got "0"');
    expect(loadLocalSettings(env, cwd).codexMaxTokens).toBeNull();
    expect(loadLocalSettings({ ...env, CODEX_MAX_TOKENS: " 500000 " }, cwd).codexMaxTokens).toBe(500_000);
    expect(() => loadLocalSettings({ ...env, CODEX_MAX_TOKENS: "1.5" }, cwd)).toThrow("CODEX_MAX_TOKENS must be a positive integer");
  });
});

describe("the codex token ceiling of local runs", () => {
  it("is the lower of the repository's codex.max_tokens and the operator's CODEX_MAX_TOKENS, as in the app", () => {
    const settings = (max?: string) => loadLocalSettings({ HOME: "/home/u", DATA_DIR: "/srv/data", CODEX_API_KEY: "sk-test-123456", ...(max ? { CODEX_MAX_TOKENS: max } : {}) }, "/");
    const ceiling = (configYaml: string | null, max?: string) =>
      localAgents(["codex"], settings(max), parseRepoConfig(configYaml, "test.yml"))[0]!.request.tokenCeiling;
    expect(ceiling(null)).toBeNull();
    expect(ceiling("codex:\n  max_tokens: 50000\n")).toEqual({ maxTokens: 50_000, source: "repository" });
    expect(ceiling(null, "100000")).toEqual({ maxTokens: 100_000, source: "operator" });
    expect(ceiling("codex:\n  max_tokens: 50000\n", "100000")).toEqual({ maxTokens: 50_000, source: "repository" });
    expect(ceiling("codex:\n  max_tokens: 500000\n", "100000")).toEqual({ maxTokens: 100_000, source: "operator" });
  });
});

describe("recording a local run", () => {
  it("settles a run that throws as failed, timed out or cancelled, with what the agent spent", async () => {
    const file = path.join(dir, "outcomes.sqlite");
    const history = { databasePath: file, retentionDays: 30 };
    const fail = async (err: unknown, signal?: AbortSignal) => {
      const record = startLocalRun(history, init());
      await expect(recorded(record, () => Promise.reject(err), () => ({ status: "succeeded" }), signal)).rejects.toBe(err);
      return read(file, record.id!)!;
    };
    const budget = new ExecutorError("Codex used 1,000,000 tokens, over the ceiling", "budget", "", { usage, costUsd: null, model: "gpt-5.5" });
    expect(await fail(budget)).toMatchObject({ status: "failed", error: "Codex used 1,000,000 tokens, over the ceiling", usage, costUsd: 1.25 });
    expect(await fail(new ExecutorError("codex ran longer than 30 min", "timeout"))).toMatchObject({ status: "timed_out", usage: null });
    expect(await fail(new Cancelled("the codex run was cancelled"))).toMatchObject({ status: "cancelled", error: "interrupted: the codex run was cancelled" });
    const controller = new AbortController();
    controller.abort(new Error("received SIGTERM"));
    expect(await fail(new Error("git was killed"), controller.signal)).toMatchObject({ status: "cancelled", error: "interrupted: received SIGTERM" });

    const ok = startLocalRun(history, init());
    ok.event('{"type":"thread.started"}');
    expect(await recorded(ok, async () => 42, (n) => ({ status: "succeeded", findings: n }))).toBe(42);
    expect(read(file, ok.id!)).toMatchObject({ status: "succeeded", findings: 42, events: ['{"type":"thread.started"}'] });
  });

  it("records nothing when history is off, and only warns when the store cannot be written", async () => {
    const off = startLocalRun(null, init());
    expect(off.id).toBeNull();
    expect(await recorded(off, async () => "fine", () => ({ status: "succeeded" }))).toBe("fine");

    const warnings: string[] = [];
    const broken = startLocalRun({ databasePath: "/dev/null/runs.sqlite", retentionDays: 30 }, init(), (m) => warnings.push(m));
    expect(broken.id).toBeNull();
    expect(await recorded(broken, async () => "still fine", () => ({ status: "succeeded" }))).toBe("still fine");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^could not record this run in \/dev\/null\/runs\.sqlite: /);
  });
});

describe("local runs on the runs page", () => {
  const file = path.join(dir, "page.sqlite");
  const store = new RunStore(file);
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    store.close();
  });

  it("lists a local fix with its repository, range and source, and shows its checkout and patch", async () => {
    const id = store.createLocal({ ...init({ source: "mcp", mode: "fix", headRef: "<b>topic</b>" }), owner: { host: "h", pid: 1 } });
    store.setPatchOutput(id, "/src/demo/codex-pr-bot-fix.patch");
    store.finish(id, { status: "succeeded" });
    const action = store.createLocal({ ...init({ source: "action", prNumber: 7 }), owner: { host: "h", pid: 1 } });
    const handler = runsRoutes({ runs: store, token: "t0ken" });
    const server = createServer((req, res) => void handler(req, res));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const headers = { authorization: "Bearer t0ken" };

    const list = await (await fetch(`${url}/runs`, { headers })).text();
    expect(list).toContain("<td>octo/demo</td>\n  <td>main..&#60;b&#62;topic&#60;/b&#62;</td>\n  <td>fix</td>\n  <td>local: MCP tool</td>");
    expect(list).toContain("<td>octo/demo#7</td>");
    expect(list).toContain("<td>GitHub Action</td>");
    const detail = await (await fetch(`${url}/runs/${id}`, { headers })).text();
    expect(detail).toContain("<tr><th>Checkout</th><td>/src/demo</td></tr>");
    expect(detail).toContain("<tr><th>Patch</th><td>/src/demo/codex-pr-bot-fix.patch</td></tr>");
    expect(detail).not.toContain("<th>Title</th>");

    const json = (await (await fetch(`${url}/runs?source=action&format=json`, { headers })).json()) as { runs: { id: string }[] };
    expect(json.runs.map((r) => r.id)).toEqual([action]);
    expect((await fetch(`${url}/runs?source=nope&format=json`, { headers })).status).toBe(400);
  });
});
