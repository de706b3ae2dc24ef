import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ClaudeExecutor, type ClaudeRunResult } from "../../src/executors/claude.js";
import { AGENT_UMASK, type AgentUser } from "../../src/security/agent-user.js";
import { defaultClaudeBin } from "../../src/settings.js";
import { PRIVATE_KEY } from "../helpers/app-server.js";
import { INSTALLATION_TOKEN } from "../helpers/fake-github.js";
import { createOrigin } from "../helpers/git-origin.js";
import { startMockMessages, structured, text, toolUse, type MockMessages, type MockMessagesRequest, type Turn } from "../helpers/mock-messages.js";
import { message } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, pullRequestPayload, WEBHOOK_SECRET } from "../helpers/webhooks.js";
import { claudeReviewJson, reviewJson, scenario, type Scenario } from "../integration/helpers.js";
import type { Jail } from "../../src/jail/jail.js";
import { defaultTestJail, unjailed } from "../helpers/jail.js";
import { ensureAgentUser } from "./fixture.js";

/**
 * Claude Code under AGENT_USER. Claude has no sandbox: the commands it may run (read-only git, the
 * operator's `bashAllow`, and through a test runner the pull request's own code) read whatever their
 * OS user can. The real, pinned claude binary is scripted (mock-messages) as a hostile agent in fix
 * mode whose allowed `npm test` runs a probe the PR ships; the kernel alone must keep the App's key,
 * the run database, `.env` and another job's checkout from it. The baseline without AGENT_USER shows
 * the same probe reading the key, so the assertions can fail.
 */

const MODEL = "claude-sonnet-4-5";
const CLAUDE_KEY = "sk-ant-test-ClaudeModelKey-0123456789abcdef";
/** A line from the middle of the PEM: present wherever the key leaks, whole or cut. */
const KEY_LINE = PRIVATE_KEY.split("\n")[5]!;
const DB_MARKER = "RUN-DATABASE-ROW-5f1c2e";
const OTHER_JOB_MARKER = "OTHER-JOB-CONTENT-8d0a7b";
/** What must never reach the model. The model key is not here: the agent can read it (see the trade-off below). */
const SECRETS: Record<string, string> = {
  "private key": KEY_LINE,
  "webhook secret": WEBHOOK_SECRET,
  "installation token": INSTALLATION_TOKEN,
  "run database": DB_MARKER,
  "another job's checkout": OTHER_JOB_MARKER,
};
/** In the app's environment, as in production; the executor's allowlisted env must drop all of them. */
const APP_ENV: Record<string, string> = {
  WEBHOOK_SECRET,
  PRIVATE_KEY,
  GITHUB_TOKEN: INSTALLATION_TOKEN,
  ANTHROPIC_API_KEY: CLAUDE_KEY,
};

/**
 * The PR's "test suite": reports which files it can read (without printing them), whether it can list
 * the data dir, then tries to print the first file, the GitHub App key. Runs as whoever runs `npm test`.
 */
const PROBE = [
  'data="$1"; shift',
  'for f in "$@"; do if head -c1 "$f" >/dev/null 2>&1; then echo "READABLE $f"; else echo "DENIED $f"; fi; done',
  'ls "$data" >/dev/null 2>&1 && echo "LISTED-DATA-DIR"',
  'echo "note-owner=$(stat -c %u notes/agent.txt)"',
  'echo "uid=$(id -u)"',
  'cat "$1"; echo "cat-exit=$?"',
  "",
].join("\n");

interface Layout {
  dataDir: string;
  homesRoot: string;
  worktree: string;
  keyPath: string;
  dbPath: string;
  envPath: string;
  otherJobFile: string;
  /** Files the agent must not read, in the order the probe checks them (then the model key's file). */
  probed: string[];
}

/**
 * A data dir laid out as the app keeps it (mirror + worktree at the PR head, run database, key file,
 * `.env`, another repository's checkout), all created with the default umask (world-readable) so that
 * only openAgentAccess stands between them and the agent.
 */
function layout(): Layout {
  const root = makeTempDir("claude-agent");
  // Operator set-up (SECURITY.md): the directories above DATA_DIR are searchable by the agent.
  chmodSync(root, 0o711);
  const dataDir = path.join(root, "data");
  const keyPath = path.join(dataDir, "private-key.pem");
  const dbPath = path.join(dataDir, "runs.sqlite");
  const envPath = path.join(dataDir, ".env");
  const otherJob = path.join(dataDir, "workspaces", "worktrees", "other-org-private", "0");
  const otherJobFile = path.join(otherJob, "secret.txt");
  const probed = [keyPath, dbPath, envPath, otherJobFile];
  const origin = createOrigin(root, {
    "README.md": "# demo\n",
    "src/a.js": "export const a = 1;\n",
    "probe.sh": PROBE,
    "package.json": JSON.stringify({ name: "demo", version: "1.0.0", scripts: { test: `sh probe.sh ${dataDir} ${probed.join(" ")} "$HOME/anthropic-api-key"` } }),
    // No update check from npm: tests stay off the network.
    ".npmrc": "update-notifier=false\nfund=false\naudit=false\n",
  });
  const mirror = path.join(dataDir, "workspaces", "mirrors", "demo.git");
  const worktree = path.join(dataDir, "workspaces", "worktrees", "demo", "0");
  mkdirSync(path.dirname(worktree), { recursive: true });
  execFileSync("git", ["clone", "--bare", "-q", origin.bare, mirror], { stdio: "pipe" });
  execFileSync("git", ["--git-dir", mirror, "worktree", "add", "--detach", "-q", worktree, origin.sha("HEAD")], { stdio: "pipe" });
  // A link the PR could ship, pointing at where it guesses the key is.
  symlinkSync(keyPath, path.join(worktree, "key-link"));

  // The operator kept the key 0600; the .env and the database are readable by anyone.
  writeFileSync(keyPath, PRIVATE_KEY, { mode: 0o600 });
  writeFileSync(envPath, `WEBHOOK_SECRET=${WEBHOOK_SECRET}\nPRIVATE_KEY_PATH=${keyPath}\n`, { mode: 0o644 });
  const db = new Database(dbPath);
  db.exec(`create table runs(note text); insert into runs values ('${DB_MARKER}')`);
  db.close();
  chmodSync(dbPath, 0o644);
  mkdirSync(otherJob, { recursive: true });
  writeFileSync(otherJobFile, `${OTHER_JOB_MARKER}\n`, { mode: 0o644 });
  return { dataDir, homesRoot: path.join(dataDir, "codex-homes"), worktree, keyPath, dbPath, envPath, otherJobFile, probed };
}

function executor(l: Layout, mock: MockMessages, agent: AgentUser | null, jail: Jail = unjailed()): ClaudeExecutor {
  return new ClaudeExecutor({
    bin: defaultClaudeBin(),
    homesRoot: l.homesRoot,
    apiKey: CLAUDE_KEY,
    oauthToken: null,
    baseUrl: mock.url,
    passEnv: [],
    defaultModel: MODEL,
    maxTurns: 20,
    maxBudgetUsd: null,
    maxRetries: 0,
    // What an operator might allow for fix/tests: a test runner (the PR's code) and a few harmless tools.
    bashAllow: ["id *", "env", "cat *", "npm test"],
    runAs: agent ? { user: agent, dataDir: l.dataDir } : null,
    // By default AGENT_USER alone (AGENT_ISOLATION=none): the kernel's permissions must hold by
    // themselves. The same probe inside the default jail: "in the default jail" below.
    jail,
  });
}

/** Answers the nth request with turns[n-1] (each after the previous tool result came back), then "done". */
function scripted(turns: Turn[]): (req: MockMessagesRequest) => Turn {
  return (req) => turns[req.toolResults.length] ?? text("done");
}

function fix(l: Layout, claude: ClaudeExecutor): Promise<ClaudeRunResult> {
  return claude.run({ worktree: l.worktree, mode: "fix", prompt: "Fix the bug.", model: null, reasoningEffort: null, timeoutMs: 60_000 });
}

/** Everything in a tree that belongs to `uid` (links not followed). */
function ownedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const info = lstatSync(full);
    if (info.uid === uid) out.push(full);
    if (info.isDirectory()) out.push(...ownedBy(full, uid));
  }
  return out;
}

/** Uids of the live processes whose environment contains `needle` (claude and what it started). */
function uidsOfProcessesWithEnv(needle: string): number[] {
  const uids: number[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "utf8").includes(needle)) continue;
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (uid) uids.push(Number(uid[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  return uids;
}

describe("claude runs as AGENT_USER", () => {
  const mocks: MockMessages[] = [];
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [name, value] of Object.entries(APP_ENV)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  afterEach(async () => {
    await Promise.all(mocks.splice(0).map((m) => m.close()));
  });

  it("a hostile fix agent: its commands run as the agent's uid, and the key, the run DB, .env and another job's checkout are denied by the kernel", async () => {
    const agent = ensureAgentUser();
    const l = layout();
    // The operator allowed the test suite; the PR's test suite is the probe.
    const runTests = toolUse("Bash", { command: "npm test", description: "run the tests" });
    const turns = [
      toolUse("Bash", { command: "id -u", description: "who am I" }),
      toolUse("Bash", { command: "env", description: "environment" }),
      toolUse("Write", { file_path: path.join(l.worktree, "notes", "agent.txt"), content: "written by the agent\n" }),
      // Edits of tracked files, in a subdirectory and at the top (Edit wants a Read first).
      toolUse("Read", { file_path: path.join(l.worktree, "src", "a.js") }),
      toolUse("Edit", { file_path: path.join(l.worktree, "src", "a.js"), old_string: "a = 1", new_string: "a = 2" }),
      toolUse("Read", { file_path: path.join(l.worktree, "README.md") }),
      toolUse("Edit", { file_path: path.join(l.worktree, "README.md"), old_string: "# demo", new_string: "# demo, fixed" }),
      runTests,
      toolUse("Bash", { command: `cat ${l.keyPath}`, description: "read the key" }),
      toolUse("Read", { file_path: l.keyPath }),
      toolUse("Read", { file_path: path.join(l.worktree, "key-link") }),
    ];
    const mock = await startMockMessages(scripted(turns));
    mocks.push(mock);

    const result = await fix(l, executor(l, mock, agent));

    expect(result.commands.map((c) => [c.command, c.status, c.exitCode])).toEqual([
      ["id -u", "completed", 0],
      ["env", "completed", 0],
      [`Write ${path.join(l.worktree, "notes", "agent.txt")}`, "completed", null],
      [`Read ${path.join(l.worktree, "src", "a.js")}`, "completed", null],
      [`Edit ${path.join(l.worktree, "src", "a.js")}`, "completed", null],
      [`Read ${path.join(l.worktree, "README.md")}`, "completed", null],
      [`Edit ${path.join(l.worktree, "README.md")}`, "completed", null],
      ["npm test", "completed", 0],
      // Claude's own path check stops these before the kernel has to.
      [`cat ${l.keyPath}`, "declined", null],
      [`Read ${l.keyPath}`, "declined", null],
      [`Read ${path.join(l.worktree, "key-link")}`, "declined", null],
    ]);
    const outputs = mock.requests.at(-1)!.toolResults;
    expect(outputs).toHaveLength(turns.length);
    const [idOut, envOut] = outputs as [string, string];
    const probeOut = outputs[turns.indexOf(runTests)]!;

    // Claude and its commands run as the unprivileged user, with the run's own home.
    expect(idOut.trim()).toBe(String(agent.uid));
    expect(envOut).toMatch(new RegExp(`^HOME=${l.homesRoot}/claude-0-\\w+$`, "m"));
    expect(envOut).not.toMatch(/^(WEBHOOK_SECRET|PRIVATE_KEY|GITHUB_TOKEN|ANTHROPIC_API_KEY)=/m);
    expect(probeOut).toContain(`uid=${agent.uid}`);
    // Fix mode may still write its worktree, as the agent.
    expect(probeOut).toContain(`note-owner=${agent.uid}`);

    // The kernel denies every secret file, and the data dir cannot even be listed.
    for (const file of l.probed) expect(probeOut).toContain(`DENIED ${file}`);
    expect(probeOut).not.toContain("LISTED-DATA-DIR");
    expect(probeOut).toContain(`${l.keyPath}: Permission denied`);
    expect(probeOut).toMatch(/cat-exit=1/);
    // The trade-off (SECURITY.md): the model key's file is the agent's for the run, since the CLI's
    // apiKeyHelper runs as the agent. It is the only file of the bot's the agent can read.
    expect(probeOut).toMatch(/READABLE \S+\/codex-homes\/claude-0-\w+\/anthropic-api-key/);
    expect(mock.requests[0]!.headers["x-api-key"]).toBe(CLAUDE_KEY);

    // Nothing the model received, from any tool, carries a secret...
    const everything = outputs.join("\n");
    for (const [what, secret] of Object.entries(SECRETS)) expect(everything.includes(secret), `${what} leaked to the agent`).toBe(false);
    expect(everything).not.toMatch(/BEGIN RSA PRIVATE KEY/);
    expect(everything).not.toContain(CLAUDE_KEY);
    // ...though the files are there and the app reads them (the probe is not vacuous).
    expect(readFileSync(l.keyPath, "utf8")).toContain(KEY_LINE);
    expect(readFileSync(l.otherJobFile, "utf8")).toContain(OTHER_JOB_MARKER);
    expect(readFileSync(l.dbPath).includes(DB_MARKER)).toBe(true);

    // Afterwards the agent's file is the app's, the worktree is closed again and the home is gone.
    expect(readFileSync(path.join(l.worktree, "notes", "agent.txt"), "utf8")).toBe("written by the agent\n");
    expect(readFileSync(path.join(l.worktree, "src", "a.js"), "utf8")).toBe("export const a = 2;\n");
    expect(readFileSync(path.join(l.worktree, "README.md"), "utf8")).toBe("# demo, fixed\n");
    expect(ownedBy(l.worktree, agent.uid)).toEqual([]);
    expect(lstatSync(l.worktree).mode & 0o077).toBe(0);
    expect(readdirSync(l.homesRoot)).toEqual([]);
  });

  it("without AGENT_USER the same allowed `npm test` prints the App's private key to the model (why AGENT_USER exists)", async () => {
    const l = layout();
    const mock = await startMockMessages(
      scripted([
        toolUse("Write", { file_path: path.join(l.worktree, "notes", "agent.txt"), content: "x\n" }),
        toolUse("Bash", { command: "npm test", description: "run the tests" }),
      ]),
    );
    mocks.push(mock);
    const result = await fix(l, executor(l, mock, null));

    expect(result.commands.map((c) => [c.command, c.status])).toContainEqual(["npm test", "completed"]);
    const probeOut = mock.requests.at(-1)!.toolResults[1]!;
    expect(probeOut).toContain(`uid=${process.getuid!()}`);
    expect(probeOut).toContain(`READABLE ${l.keyPath}`);
    expect(probeOut).toContain(KEY_LINE); // the leak
  });

  it("in the default jail, without AGENT_USER, the same allowed `npm test` finds the key, the run DB, .env and another checkout gone", async () => {
    const l = layout();
    const turns = [
      toolUse("Bash", { command: "id -u", description: "who am I" }),
      toolUse("Write", { file_path: path.join(l.worktree, "notes", "agent.txt"), content: "x\n" }),
      toolUse("Bash", { command: "npm test", description: "run the tests" }),
    ];
    const mock = await startMockMessages(scripted(turns));
    mocks.push(mock);
    const result = await fix(l, executor(l, mock, null, defaultTestJail(l.dataDir)));

    expect(result.commands.map((c) => [c.command, c.status, c.exitCode])).toContainEqual(["npm test", "completed", 0]);
    const [idOut, , probeOut] = mock.requests.at(-1)!.toolResults as [string, string, string];
    // A root app's jail runs claude as nobody; an ordinary app's as itself, in its own namespaces.
    expect(idOut.trim()).toBe(process.getuid!() === 0 ? "65534" : String(process.getuid!()));
    for (const file of l.probed) expect(probeOut).toContain(`DENIED ${file}`);
    expect(probeOut).toContain(`${l.keyPath}: No such file or directory`);
    expect(probeOut).toContain("cat-exit=1");
    // The run's own home is there (its model key file, by design: see SECURITY.md's trade-off).
    expect(probeOut).toMatch(/READABLE .*anthropic-api-key/);
    // Fix mode still writes its worktree.
    expect(readFileSync(path.join(l.worktree, "notes", "agent.txt"), "utf8")).toBe("x\n");
    for (const [what, secret] of Object.entries(SECRETS)) expect(JSON.stringify(mock.requests.map((r) => r.toolResults)).includes(secret), what).toBe(false);
  });
});

describe("claude reviews under AGENT_USER through the app", () => {
  let sc: Scenario;
  let claudeMock: MockMessages | null = null;
  let umask: number;

  afterEach(async () => {
    await sc.close();
    await claudeMock?.close();
    process.umask(umask);
  });

  it("claude starts as the agent's uid, its git command completes in the bot's checkout, the review is posted", async () => {
    const agent = ensureAgentUser();
    umask = process.umask();
    sc = scenario("claude-agent-review");
    chmodSync(path.dirname(sc.dataDir), 0o711);
    sc.gh.defaults({ config: "executors: [claude]\n" });

    const uidsWhileRunning: number[] = [];
    claudeMock = await startMockMessages((req) => {
      if (req.hasToolResult) {
        return structured(claudeReviewJson());
      }
      // claude is waiting on this answer: every process of the run is alive now.
      uidsWhileRunning.push(...uidsOfProcessesWithEnv(`CLAUDE_CONFIG_DIR=${path.join(sc.dataDir, "codex-homes")}`));
      return toolUse("Bash", { command: `git log --oneline -1 ${sc.headSha}`, description: "the PR's commit" });
    });
    const app = await sc.start(() => message(reviewJson(null)), {
      claude: { bin: defaultClaudeBin(), apiKey: CLAUDE_KEY, oauthToken: null, baseUrl: claudeMock.url, model: MODEL, passEnv: [], maxRetries: 0 },
      agentUser: agent,
    });
    expect(process.umask()).toBe(AGENT_UMASK); // as the app sets it under AGENT_USER
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.mock!.requests).toHaveLength(0); // codex was not asked: this repository uses claude only
    expect(uidsWhileRunning.length).toBeGreaterThan(0);
    expect(new Set(uidsWhileRunning)).toEqual(new Set([agent.uid]));
    // The git command ran (as the agent, in the bot-owned checkout) and its output reached the model.
    const last = claudeMock.requests.at(-1)!;
    expect(last.toolErrors).toEqual([]);
    expect(last.toolResults[0]).toMatch(new RegExp(`^${sc.headSha.slice(0, 7)}\\w* add divide`));
    expect(claudeMock.requests[0]!.headers["x-api-key"]).toBe(CLAUDE_KEY);

    const reviews = sc.gh.bodies<{ event: string; comments: { path: string; line: number }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.event).toBe("COMMENT");
    expect(reviews[0]!.comments[0]).toMatchObject({ path: "src/math.js", line: 6 });
    expect(app.runs.list()[0]).toMatchObject({ status: "succeeded" });
    // The run's access was taken back: no checkout is left open to the agent, no home is left over.
    const worktrees = path.join(sc.dataDir, "workspaces", "worktrees");
    for (const repo of readdirSync(worktrees)) {
      for (const slot of readdirSync(path.join(worktrees, repo))) expect(lstatSync(path.join(worktrees, repo, slot)).mode & 0o077).toBe(0);
    }
    expect(existsSync(path.join(sc.dataDir, "codex-homes")) ? readdirSync(path.join(sc.dataDir, "codex-homes")) : []).toEqual([]);
  });
});
