import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { ABANDONED_MESSAGE } from "../../src/local/history.js";
import { RunStore, type RunSummary } from "../../src/store/runs.js";
import { execCommand, inputText, message, startMockResponses, type MockRequest, type MockResponses, type MockUsage, type Turn } from "../helpers/mock-responses.js";
import { makeJob } from "../helpers/queue-fixtures.js";
import { makeTempDir } from "../helpers/tmp.js";
import { captureIO, CLI, CODEX_BIN, gitIn, makeRepo, makeTemplate, reviewJson, TSX } from "../unit/cli/fixture.js";

/**
 * Local runs in the run history (issue 8): real `codex-pr-bot review` / `fix` runs (the pinned codex
 * against the scripted Responses server, on a real checkout) are recorded in the SQLite run store,
 * and `codex-pr-bot runs` lists them next to the app's runs. Also the token ceiling of a local review.
 */

const base = makeTempDir("cli-runs");
const stateDir = path.join(base, "state");
const databasePath = path.join(stateDir, "codex-pr-bot.sqlite");
let repo: string;
let head: string;
let mock: MockResponses;
let env: NodeJS.ProcessEnv;
/** What codex answers; reset after each test. */
let script: (req: MockRequest) => Turn;

const BOUND_COPY = "sed -i 's/strcpy(buf, v\\[1\\]);/strncpy(buf, v[1], sizeof buf - 1);/' main.c";
const BIG: Partial<MockUsage> = { inputTokens: 200_000, cachedInputTokens: 1_000, outputTokens: 100, reasoningTokens: 40 };

/** Codex runs one real command first, then answers (a review, or the fix's summary). */
function defaultScript(req: MockRequest): Turn {
  const fixing = inputText(req.body).includes("automated software engineer");
  if (req.hasToolOutput) return message(fixing ? "Bounded the copy in main.c." : reviewJson());
  return execCommand(fixing ? BOUND_COPY : "git diff --stat main...HEAD");
}

beforeAll(async () => {
  repo = await makeRepo(base);
  head = (await gitIn(repo, "rev-parse", "HEAD")).trim();
  mock = await startMockResponses((req) => script(req));
  env = {
    PATH: process.env.PATH,
    HOME: base,
    DATA_DIR: stateDir,
    CODEX_HOME_TEMPLATE: makeTemplate(base, mock.url),
    CODEX_BIN,
  };
});

afterAll(async () => {
  await mock.close();
});

afterEach(async () => {
  script = defaultScript;
  await gitIn(repo, "reset", "-q", "--hard", head);
  await gitIn(repo, "clean", "-qfd");
});
script = defaultScript;

async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd = repo) {
  const io = captureIO(cwd, { ...env, ...extraEnv });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

async function runsJson(...args: string[]): Promise<RunSummary[]> {
  const { code, out, err } = await cli(["runs", "--json", ...args]);
  expect(err).toBe("");
  expect(code).toBe(0);
  return JSON.parse(out) as RunSummary[];
}

/** The newest run, with its event log and diff, read straight from the store. */
function stored(id: string) {
  const store = new RunStore(databasePath);
  try {
    return store.get(id)!;
  } finally {
    store.close();
  }
}

/** Commands the agent finished, from the run's recorded event log. */
function completedCommands(id: string): { command: string; exit_code: number | null }[] {
  return stored(id)
    .events.map((line) => JSON.parse(line) as { type: string; item?: { type: string; command: string; exit_code: number | null } })
    .filter((e) => e.type === "item.completed" && e.item?.type === "command_execution")
    .map((e) => e.item!);
}

describe("local runs in the run history", () => {
  it("records a CLI review, and `runs` lists it with status, findings, mode and where it came from", async () => {
    const review = await cli(["review", "--base", "main"]);
    expect(review.err).toBe("");
    expect(review.code).toBe(0);
    // Codex really ran its command in the sandbox (exit 0) before it answered.
    expect(mock.requests.at(-1)!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);

    const [run] = await runsJson("--limit", "1");
    expect(run).toMatchObject({
      source: "cli",
      status: "succeeded",
      mode: "review",
      repo: "repo",
      prNumber: null,
      trigger: null,
      jobId: null,
      findings: 1,
      executors: ["codex"],
      workdir: repo,
      baseRef: "main",
      headRef: "feature",
      headSha: head,
      error: null,
      patchOutput: null,
    });
    expect(run!.usage!.inputTokens).toBeGreaterThan(0);
    expect(run!.durationMs).toBeGreaterThan(0);
    // The event log is the agent's own: the command it ran completed with exit code 0.
    expect(completedCommands(run!.id)).toContainEqual(expect.objectContaining({ command: expect.stringContaining("git diff --stat"), exit_code: 0 }));

    const text = await cli(["runs"]);
    expect(text.code).toBe(0);
    const lines = text.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN\s+QUEUED \(UTC\)\s+STATUS\s+MODE\s+FROM\s+WHAT$/);
    expect(lines[1]).toMatch(new RegExp(`^${run!.id}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  succeeded review cli    repo \\[main\\.\\.feature\\] codex \\d+s 1 finding\\(s\\)$`));
  });

  it("records a fix with its patch file, and an applied fix as applied", async () => {
    const written = await cli(["fix", "bound the copy into buf"]);
    expect(written.code).toBe(0);
    expect(mock.requests.at(-1)!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);
    const patchFile = path.join(repo, "codex-pr-bot-fix.patch");
    expect(readFileSync(patchFile, "utf8")).toContain("+  strncpy(buf, v[1], sizeof buf - 1);");

    const [fix] = await runsJson("--limit", "1");
    expect(fix).toMatchObject({ source: "cli", mode: "fix", status: "succeeded", executors: ["codex"], patchOutput: patchFile, findings: null, error: null });
    expect(completedCommands(fix!.id)).toContainEqual(expect.objectContaining({ command: expect.stringContaining("sed -i"), exit_code: 0 }));
    // The patch itself is kept with the run, as for the app's fix runs.
    expect(stored(fix!.id).diff).toContain("+  strncpy(buf, v[1], sizeof buf - 1);");
    const line = (await cli(["runs", "--limit", "1"])).out.split("\n")[1]!;
    expect(line).toContain(` succeeded fix    cli    repo [main..feature] codex `);
    expect(line).toContain(`patch: ${patchFile}`);

    await gitIn(repo, "clean", "-qfd");
    const applied = await cli(["fix", "--apply", "bound the copy into buf"]);
    expect(applied.code).toBe(0);
    expect(readFileSync(path.join(repo, "main.c"), "utf8")).toContain("strncpy(buf, v[1], sizeof buf - 1);");
    const [second] = await runsJson("--limit", "1");
    expect(second).toMatchObject({ mode: "fix", status: "succeeded", patchOutput: "applied" });
    expect((await cli(["runs", "--limit", "1"])).out).toContain(" patch applied");
  });

  it("records a run whose agent fails as failed, with the agent's error", async () => {
    script = () => message("not json at all");
    const review = await cli(["review", "--base", "main"]);
    expect(review.code).toBe(1);
    expect(review.err).toContain("was not JSON");
    const [run] = await runsJson("--limit", "1");
    expect(run).toMatchObject({ source: "cli", status: "failed", mode: "review", findings: null });
    expect(run!.error).toContain("was not JSON");
    expect(run!.finishedAt).not.toBeNull();
    const failed = await runsJson("--status", "failed", "--source", "cli");
    expect(failed.map((r) => r.id)).toContain(run!.id);
    expect((await cli(["runs", "--limit", "1"])).out).toMatch(/ failed {4}review cli {4}repo \[main\.\.feature\] codex \d+s \(.*was not JSON.*\)$/m);
  });

  it("stops a local review at the repository's codex.max_tokens and records the tokens it used", async () => {
    const config = path.join(base, "ceiling.yml");
    writeFileSync(config, "codex:\n  max_tokens: 50000\n");
    const turns: Turn[] = [{ kind: "exec", cmd: "sleep 1; echo first-step-done", usage: BIG }, { kind: "exec", cmd: "sleep 20; echo second-step-done" }, message(reviewJson())];
    const before = mock.requests.length;
    script = (req) => turns[req.n - before - 1] ?? message("never reached");
    const started = Date.now();
    const review = await cli(["review", "--base", "main", "--config", config]);
    expect(review.code).toBe(1);
    expect(review.err).toContain(
      "Codex used 200,100 tokens (200,000 input, 100 output), over this repository's ceiling of 50,000 (codex.max_tokens), and was stopped before it finished",
    );
    // Stopped long before the second command (20 s) could finish: the usage line reaches the rollout
    // about when codex sends its second request, so the stop comes just before or just after it.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(mock.requests.length - before).toBeGreaterThanOrEqual(1);
    expect(mock.requests.length - before).toBeLessThanOrEqual(2);

    const [run] = await runsJson("--limit", "1");
    // The first command really ran, with exit code 0, before the stop.
    expect(completedCommands(run!.id)).toContainEqual(expect.objectContaining({ command: expect.stringContaining("first-step-done"), exit_code: 0 }));
    expect(run).toMatchObject({ status: "failed", usage: { inputTokens: 200_000, cachedInputTokens: 1_000, outputTokens: 100, reasoningOutputTokens: 40 } });
    expect(run!.error).toContain("over this repository's ceiling of 50,000");
  });

  it("the operator's CODEX_MAX_TOKENS caps a higher codex.max_tokens, as in the app", async () => {
    const config = path.join(base, "high-ceiling.yml");
    writeFileSync(config, "codex:\n  max_tokens: 5000000\n");
    const turns: Turn[] = [{ kind: "exec", cmd: "echo step", usage: BIG }, { kind: "exec", cmd: "sleep 20" }, message(reviewJson())];
    const before = mock.requests.length;
    script = (req) => turns[req.n - before - 1] ?? message("never reached");
    const review = await cli(["review", "--base", "main", "--config", config], { CODEX_MAX_TOKENS: "100000" });
    expect(review.code).toBe(1);
    expect(review.err).toContain("over the installation's ceiling of 100,000 (CODEX_MAX_TOKENS, set by the operator)");

    const bad = await cli(["review", "--base", "main"], { CODEX_MAX_TOKENS: "lots" });
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('CODEX_MAX_TOKENS must be a positive integer, got "lots"');
  });

  it("records an interrupted review (SIGINT) as cancelled, not running", async () => {
    const before = mock.requests.length;
    script = (req) => (req.hasToolOutput ? message(reviewJson()) : execCommand("sleep 30"));
    const child = spawn(TSX, [CLI, "review", "--base", "main"], { cwd: repo, env: { ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    // Codex has asked the model and got its command: the run is under way.
    while (mock.requests.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill("SIGINT");
    expect(await exited).toBe(1);
    expect(stderr).toContain("the codex run was cancelled");

    const [run] = await runsJson("--limit", "1");
    expect(run).toMatchObject({ source: "cli", status: "cancelled", error: "interrupted: received SIGINT" });
    expect(run!.finishedAt).not.toBeNull();
  });

  it("`runs` settles a local run whose process died without finishing it", async () => {
    // A process that has certainly exited: its pid is free.
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => gone.on("exit", r));
    const store = new RunStore(databasePath);
    const id = store.createLocal({
      source: "cli",
      repo: "repo",
      workdir: repo,
      mode: "review",
      executors: ["codex"],
      baseRef: "main",
      headRef: "feature",
      baseSha: head,
      headSha: head,
      owner: { host: os.hostname(), pid: gone.pid! },
    });
    store.close();
    const [run] = await runsJson("--limit", "1");
    expect(run).toMatchObject({ id, status: "failed", error: ABANDONED_MESSAGE });
  });

  it("records nothing with CODEX_PR_BOT_NO_HISTORY=1", async () => {
    const before = (await runsJson("--limit", "200")).length;
    const review = await cli(["review", "--base", "main"], { CODEX_PR_BOT_NO_HISTORY: "1" });
    expect(review.code).toBe(0);
    expect(await runsJson("--limit", "200")).toHaveLength(before);
  });

  it("a run store that cannot be written is a warning on stderr, never a failed review", async () => {
    const warnings: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      warnings.push(String(chunk));
      return true;
    });
    try {
      const review = await cli(["review", "--base", "main"], { DATABASE_PATH: "/dev/null/runs.sqlite" });
      expect(review.code).toBe(0);
      expect(review.out).toMatch(/^main\.c:4: \[P1\]/m);
    } finally {
      spy.mockRestore();
    }
    expect(warnings.join("")).toMatch(/codex-pr-bot: warning: could not record this run in \/dev\/null\/runs\.sqlite: /);
  });
});

describe("codex-pr-bot runs", () => {
  it("lists the app's runs (./.data, the app's default) next to local ones, with a column saying where each came from", async () => {
    const appDir = makeTempDir("cli-runs-app");
    const xdg = path.join(appDir, "xdg");
    const appStore = new RunStore(path.join(appDir, ".data", "codex-pr-bot.sqlite"));
    const appRun = appStore.create(makeJob({ pr: 12 }));
    appStore.close();
    const localStore = new RunStore(path.join(xdg, "codex-pr-bot", "codex-pr-bot.sqlite"));
    const localRun = localStore.createLocal({
      source: "mcp",
      repo: "octo/demo",
      workdir: "/src/demo",
      mode: "fix",
      executors: ["claude"],
      baseRef: "origin/main",
      headRef: "topic",
      baseSha: head,
      headSha: head,
      owner: { host: os.hostname(), pid: process.pid },
    });
    localStore.close();

    const io = captureIO(appDir, { PATH: process.env.PATH, HOME: appDir, XDG_STATE_HOME: xdg });
    expect(await main(["runs"], io)).toBe(0);
    const lines = io.out().trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(new RegExp(`^${localRun}  .{19}  running   fix    mcp    octo/demo \\[origin/main\\.\\.topic\\] claude$`));
    expect(lines[2]).toMatch(new RegExp(`^${appRun}  .{19}  queued    review app    o/r#12 \\[pull_request\\.synchronize by s\\]$`));

    const onlyApp = captureIO(appDir, { PATH: process.env.PATH, HOME: appDir, XDG_STATE_HOME: xdg });
    expect(await main(["runs", "--source", "app", "--json"], onlyApp)).toBe(0);
    expect((JSON.parse(onlyApp.out()) as RunSummary[]).map((r) => r.id)).toEqual([appRun]);
  });

  it("says where it looked when there are no runs, creates no database, and rejects bad options", async () => {
    const empty = makeTempDir("cli-runs-empty");
    const io = captureIO(empty, { PATH: process.env.PATH, HOME: empty, DATA_DIR: path.join(empty, "data") });
    expect(await main(["runs"], io)).toBe(0);
    expect(io.out()).toBe(`No runs in ${path.join(empty, "data", "codex-pr-bot.sqlite")} (not created yet).\n`);
    expect(existsSync(path.join(empty, "data"))).toBe(false);

    const badSource = await cli(["runs", "--source", "cron"]);
    expect(badSource.code).toBe(1);
    expect(badSource.err).toContain("--source must be one of app, cli, mcp, action");
    const badLimit = await cli(["runs", "--limit", "0"]);
    expect(badLimit.code).toBe(1);
    expect(badLimit.err).toContain("--limit must be an integer from 1 to 200");
  });
});
