import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { DOORS, EXECUTOR_CHOICES, pipelineOf, refusal, WORK_MODES, type Door, type ExecutorChoice, type WorkMode } from "../../src/engine/doors.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { defaultClaudeBin } from "../../src/settings.js";
import type { Job } from "../../src/types.js";
import { makeTempDir } from "../helpers/tmp.js";
import { captureIO, CLAUDE_KEY, makeRepo, makeTemplate, gitIn } from "../unit/cli/fixture.js";
import { scenario } from "./helpers.js";

/**
 * Parity of the front doors: every mode × executor choice × door either reaches the engine's one
 * pipeline for its kind of work (with the agents the choice names) or is refused with the reason
 * engine/doors.ts gives, as the door itself shows it. The pipelines are replaced by recorders that
 * stop the run once reached, so no agent runs: what the pipelines do is the other tests' business.
 */

interface Reached {
  pipeline: "review" | "fix" | "ask";
  mode: string;
  agents: string[];
}

const STOP = "parity: the pipeline was reached";

/** The recorder every pipeline is replaced with: notes the call and its agents, then stops the run. */
const { reached, recorder } = vi.hoisted(() => {
  const reached: Reached[] = [];
  const recorder =
    (pipeline: Reached["pipeline"]) =>
    async (req: { mode?: string; pickAgents(): { agents: { name: string }[] } }): Promise<never> => {
      reached.push({ pipeline, mode: req.mode ?? pipeline, agents: req.pickAgents().agents.map((a) => a.name) });
      throw new Error("parity: the pipeline was reached");
    };
  return { reached, recorder };
});

vi.mock("../../src/engine/review.js", async (importOriginal) => ({ ...(await importOriginal<object>()), runReviewPipeline: recorder("review") }));
vi.mock("../../src/engine/fix.js", async (importOriginal) => ({ ...(await importOriginal<object>()), runFixPipeline: recorder("fix") }));
vi.mock("../../src/engine/ask.js", async (importOriginal) => ({ ...(await importOriginal<object>()), runAskPipeline: recorder("ask") }));

const base = makeTempDir("parity");
let repo: string;
let env: NodeJS.ProcessEnv;
let mcp: Client;

beforeAll(async () => {
  repo = await makeRepo(base);
  env = {
    PATH: process.env.PATH,
    HOME: base,
    DATA_DIR: path.join(base, "state"),
    // Nothing is spawned: the executors are built, never run.
    CODEX_HOME_TEMPLATE: makeTemplate(base, "http://127.0.0.1:9"),
    ANTHROPIC_API_KEY: CLAUDE_KEY,
  };
  const server = createMcpServer({ env, cwd: repo, version: "0.0.0-test" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  mcp = new Client({ name: "parity", version: "0" });
  await mcp.connect(clientSide);
});

afterAll(async () => {
  await mcp?.close();
});

/** What a door showed when it stopped: its refusal, or what it made of the recorder's stop. */
type Door_ = (mode: WorkMode, choice: ExecutorChoice) => Promise<string>;

const agentsOf = (choice: ExecutorChoice): string[] => (choice === "both" ? ["codex", "claude"] : [choice]);

/** The app's door: a job on its queue, as a comment command or an MCP dispatch would enqueue it. */
const app: Door_ = async (mode, choice) => {
  // A fake GitHub per run: the test setup clears every nock scope after each test.
  const sc = scenario(`parity-${mode}-${choice}`);
  // Two agents come from the repository's routing; one from the command (or dispatch) naming it.
  sc.gh.defaults({ config: choice === "both" ? `routing:\n  ${mode}: [codex, claude]\n` : null });
  await sc.start([], {
    claude: { bin: defaultClaudeBin(), apiKey: CLAUDE_KEY, oauthToken: null, baseUrl: "http://127.0.0.1:9", model: "claude-sonnet-4-5", passEnv: [], maxRetries: 0 },
  });
  const job: Job = {
    id: `parity-${mode}-${choice}`,
    deliveryId: `parity-${mode}-${choice}`,
    installationId: 77,
    repo: { owner: sc.repo.owner, name: sc.repo.name, defaultBranch: "main", cloneUrl: sc.repo.cloneUrl, htmlUrl: "https://github.com/octo/demo" },
    prNumber: 7,
    mode,
    trigger: { kind: "dispatch", via: "mcp", requestedBy: "parity", ...(choice === "both" ? {} : { executor: choice }) },
    instruction: mode === "fix" ? "bound the copy" : mode === "ask" ? "why divide?" : null,
    pull: null,
    enqueuedAt: Date.now(),
  };
  try {
    await sc.app!.queue.enqueue(job);
    await sc.app!.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    return sc.app!.runs.byJob(job.id)?.error ?? "";
  } finally {
    await sc.close();
  }
};

const cli: Door_ = async (mode, choice) => {
  const io = captureIO(repo, env);
  const args =
    pipelineOf(mode) === "review"
      ? ["review", "--mode", mode, "--executor", choice]
      : pipelineOf(mode) === "fix"
        ? ["fix", "--mode", mode, "--executor", choice, ...(mode === "fix" ? ["bound the copy"] : [])]
        : ["ask", "why?"];
  await main(args, io);
  return io.err();
};

const action: Door_ = async (mode, choice) => {
  const dir = makeTempDir("parity-action");
  const headSha = (await gitIn(repo, "rev-parse", "HEAD")).trim();
  const baseSha = (await gitIn(repo, "rev-parse", "main")).trim();
  const event = path.join(dir, "event.json");
  writeFileSync(
    event,
    JSON.stringify({
      action: "synchronize",
      number: 7,
      pull_request: {
        number: 7,
        state: "open",
        draft: false,
        title: "Copy argv",
        body: "",
        user: { login: "alice" },
        head: { sha: headSha, ref: "feature", repo: { full_name: "octo/demo" } },
        base: { sha: baseSha, ref: "main", repo: { full_name: "octo/demo" } },
      },
      repository: { owner: { login: "octo" }, name: "demo", default_branch: "main", clone_url: "https://github.com/octo/demo.git", html_url: "https://github.com/octo/demo" },
      sender: { login: "alice", type: "User" },
    }),
  );
  const runnerTemp = path.join(dir, "runner-temp");
  mkdirSync(runnerTemp);
  for (const f of ["output", "summary.md"]) writeFileSync(path.join(dir, f), "");
  const io = captureIO(repo, {
    ...env,
    DATA_DIR: "",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: "pull_request",
    GITHUB_EVENT_PATH: event,
    GITHUB_REPOSITORY: "octo/demo",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_OUTPUT: path.join(dir, "output"),
    GITHUB_STEP_SUMMARY: path.join(dir, "summary.md"),
    RUNNER_TEMP: runnerTemp,
  });
  await main(["action", "--mode", mode, "--executor", choice, "--no-post"], io);
  return `${io.err()}${io.out()}`;
};

const mcpDoor: Door_ = async (mode, choice) => {
  const kind = pipelineOf(mode);
  const tools = (await mcp.listTools()).tools.map((t) => t.name);
  if (kind === "ask") {
    // No local ask tool exists to call: the table's reason is what the other local doors say.
    expect(tools.filter((t) => t.includes("ask"))).toEqual([]);
    return refusal("cli", mode, choice)!;
  }
  const result = await mcp.callTool({
    name: kind === "review" ? "review_local" : "fix_local",
    arguments: kind === "review" ? { path: repo, mode, executor: choice } : { path: repo, mode, executor: choice, ...(mode === "fix" ? { instruction: "bound the copy" } : {}) },
  });
  return (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("\n");
};

const DRIVERS: Record<Door, Door_> = { app, cli, action, mcp: mcpDoor };

const cells = DOORS.flatMap((door) => WORK_MODES.flatMap((mode) => EXECUTOR_CHOICES.map((choice) => ({ door, mode, choice }))));

describe("one engine behind every front door", () => {
  it.each(cells)("$door × $mode × $choice", async ({ door, mode, choice }) => {
    reached.length = 0;
    const shown = await DRIVERS[door](mode, choice);
    const refused = refusal(door, mode, choice);
    if (refused === null) {
      expect(reached).toEqual([{ pipeline: pipelineOf(mode), mode, agents: agentsOf(choice) }]);
      // The local doors show the run's error as it is; the app words an unknown one "Internal error".
      expect(shown).toContain(door === "app" ? "Internal error" : STOP);
    } else {
      expect(reached).toEqual([]);
      expect(refused.length).toBeGreaterThan(20);
      expect(shown).toContain(refused);
    }
  });

  it("says which cells are refused, and why (the table docs/architecture.md shows)", () => {
    const refusedCells = cells.filter((c) => refusal(c.door, c.mode, c.choice) !== null).map((c) => `${c.door} ${c.mode} ${c.choice}`);
    expect(refusedCells).toEqual([
      "cli ask codex",
      "cli ask claude",
      "cli ask both",
      "cli fix both",
      "cli tests both",
      "action ask codex",
      "action ask claude",
      "action ask both",
      "action fix codex",
      "action fix claude",
      "action fix both",
      "action tests codex",
      "action tests claude",
      "action tests both",
      "mcp ask codex",
      "mcp ask claude",
      "mcp ask both",
      "mcp fix both",
      "mcp tests both",
    ]);
  });
});

