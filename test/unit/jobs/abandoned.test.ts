import path from "node:path";
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { CheckRun } from "../../../src/github/checks.js";
import { recordSuperseded, reportAbandoned } from "../../../src/jobs/abandoned.js";
import type { PipelineDeps } from "../../../src/jobs/deps.js";
import { RunStore } from "../../../src/store/runs.js";
import { FakeGitHub } from "../../helpers/fake-github.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

/**
 * Issue 22 below the process level: the check run a job created is found again (by the id the run
 * store recorded, else by external_id = the job's id) and completed by whoever ends the job.
 */

const octokit = () =>
  new ProbotOctokit({ auth: { token: "t" }, retry: { enabled: false }, throttle: { enabled: false } }) as InstanceType<typeof ProbotOctokit>;
const coords = { owner: "o", repo: "r" };
const dir = makeTempDir("abandoned");
let gh: FakeGitHub;
const stores: RunStore[] = [];

afterEach(() => {
  gh.dispose();
  for (const s of stores.splice(0)) s.close();
});

type Stored = { id: number; name: string; head_sha: string; external_id: string | null; status: string; conclusion: string | null; html_url: string };

/** Check runs GitHub holds: GET by id, list for a ref, PATCH. */
function withCheckRuns(runs: Stored[]): FakeGitHub {
  gh = new FakeGitHub("o", "r");
  gh.on("GET", gh.repoPath("/check-runs/(\\d+)"), (m) => {
    const run = runs.find((r) => r.id === Number(m[1]));
    return run ? [200, run] : [404, { message: "Not Found" }];
  });
  gh.on("GET", gh.repoPath("/commits/([0-9a-f]+)/check-runs"), (m, _b, call) => {
    const name = new URL(call.path, "http://x").searchParams.get("check_name");
    const list = runs.filter((r) => r.head_sha === m[1] && (name === null || r.name === name));
    return [200, { total_count: list.length, check_runs: list }];
  });
  gh.on("PATCH", gh.repoPath("/check-runs/(\\d+)"), (m, body) => {
    const run = runs.find((r) => r.id === Number(m[1]))!;
    Object.assign(run, body as object);
    return [200, run];
  });
  gh.on("POST", gh.repoPath("/check-runs"), (_m, body) => [201, { id: 5000, html_url: "h", ...(body as object) }]);
  return gh;
}

const run = (over: Partial<Stored>): Stored => ({
  id: 1,
  name: "codex-pr-bot / review",
  head_sha: "a".repeat(40),
  external_id: null,
  status: "in_progress",
  conclusion: null,
  html_url: "https://github.com/o/r/runs/1",
  ...over,
});

function deps(runs: RunStore | null): PipelineDeps {
  return { log: pino({ level: "silent" }), runs, auth: async () => ({ octokit: octokit(), token: async () => "t" }) } as unknown as PipelineDeps;
}

function store(): RunStore {
  const s = new RunStore(path.join(dir, `runs-${stores.length}-${Date.now()}.sqlite`));
  stores.push(s);
  return s;
}

describe("CheckRun.find", () => {
  it("finds the job's check run by external_id when no id was recorded: the one in progress, not an older completed one", async () => {
    withCheckRuns([
      run({ id: 7, external_id: "job-1", status: "completed", conclusion: "cancelled" }),
      run({ id: 8, external_id: "job-1" }),
      run({ id: 9, external_id: "job-2" }),
    ]);
    const found = await CheckRun.find(octokit(), coords, { name: "codex-pr-bot / review", headSha: "a".repeat(40), externalId: "job-1", knownId: null });
    expect(found).toMatchObject({ status: "in_progress", check: { id: 8 } });
    expect(gh.calls.map((c) => c.path)).toEqual([`/repos/o/r/commits/${"a".repeat(40)}/check-runs?check_name=codex-pr-bot%20%2F%20review&filter=all&per_page=100`]);
  });

  it("uses the recorded id first, and falls back to external_id when GitHub no longer has it", async () => {
    withCheckRuns([run({ id: 8, external_id: "job-1" })]);
    expect(await CheckRun.find(octokit(), coords, { name: "codex-pr-bot / review", headSha: "a".repeat(40), externalId: "job-1", knownId: 8 })).toMatchObject({ check: { id: 8 } });
    expect(gh.calls).toHaveLength(1);
    expect(await CheckRun.find(octokit(), coords, { name: "codex-pr-bot / review", headSha: "a".repeat(40), externalId: "job-1", knownId: 99 })).toMatchObject({ check: { id: 8 } });
    expect(await CheckRun.find(octokit(), coords, { name: "codex-pr-bot / review", headSha: "a".repeat(40), externalId: "job-3", knownId: null })).toBeNull();
  });
});

describe("a job that will not run again completes its own check run", () => {
  it("abandoned: the recorded check run is completed as a failure that says why, and no new one is created", async () => {
    const runs = store();
    const job = makeJob();
    const id = runs.create(job);
    runs.start(id);
    runs.recordCheckRun(id, 8);
    const checks = [run({ id: 8, external_id: job.id })];
    withCheckRuns(checks);
    await reportAbandoned(deps(runs), job, "The job was interrupted 2 times (the process running it stopped) and will not be retried.");
    expect(gh.find("POST", /check-runs$/)).toEqual([]);
    expect(checks[0]).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "Interrupted" } });
    expect((checks[0] as { output?: { summary: string } }).output?.summary).toMatch(/will not retry: The job was interrupted 2 times .* will not be retried\. Ask again with a command/);
    expect(runs.get(id)).toMatchObject({ status: "failed" });
  });

  it("abandoned before it created any check run: one is created, completed", async () => {
    withCheckRuns([]);
    await reportAbandoned(deps(null), makeJob(), "gave up");
    expect(gh.bodies("POST", /check-runs$/)).toMatchObject([{ status: "completed", conclusion: "failure", output: { title: "Interrupted" } }]);
  });

  it("superseded after it had started (the app was down): its check run, found by external_id, is completed as cancelled", async () => {
    const runs = store();
    const job = makeJob();
    const id = runs.create(job);
    runs.start(id);
    const checks = [run({ id: 8, external_id: job.id })];
    withCheckRuns(checks);
    await recordSuperseded(deps(runs), job, "superseded by a newer push");
    expect(checks[0]).toMatchObject({ status: "completed", conclusion: "cancelled" });
    expect(runs.get(id)).toMatchObject({ status: "cancelled" });
  });

  it("superseded before it ever started: only the run record, nothing asked of GitHub", async () => {
    const runs = store();
    const job = makeJob();
    const id = runs.create(job);
    withCheckRuns([]);
    await recordSuperseded(deps(runs), job, "superseded by a newer push");
    expect(gh.calls).toEqual([]);
    expect(runs.get(id)).toMatchObject({ status: "cancelled" });
  });
});
