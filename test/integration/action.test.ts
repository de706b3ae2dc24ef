import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import AjvModule from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fingerprint, fingerprintMarker } from "../../src/review/fingerprint.js";
import { RunStore } from "../../src/store/runs.js";
import { buildEnv, run } from "../../src/util/exec.js";
import { FakeGitHub } from "../helpers/fake-github.js";
import { execCommand, message, startMockResponses, type MockResponses } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { CLI, CODEX_BIN, gitIn, makeRepo, makeTemplate, reviewJson, TSX } from "../unit/cli/fixture.js";

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

/**
 * `codex-pr-bot action` as a workflow runs it: the real CLI in a child process, in a real git
 * checkout, with the real pinned codex binary against the scripted Responses server, an
 * Actions-like environment (event file, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP) and
 * GitHub's REST API served by FakeGitHub over loopback HTTP.
 */

const TOKEN = "ghs_WorkflowToken0123456789abcdefghijklmnop";
const RUNTIME_TOKEN = "runtime-token-0123456789abcdef";
const PR = 7;

const base = makeTempDir("action");
let repo: string;
let headSha: string;
let baseSha: string;
let template: string;
let codexWrapper: string;
/** What the codex process itself was started with: the wrapper below writes it here. */
const codexEnvDump = path.join(base, "codex-env.txt");
let mock: MockResponses;

beforeAll(async () => {
  repo = await makeRepo(base);
  headSha = (await gitIn(repo, "rev-parse", "HEAD")).trim();
  baseSha = (await gitIn(repo, "rev-parse", "main")).trim();
  // Every run: the agent runs `env` first (to prove what it can see), then answers.
  mock = await startMockResponses((req) => (req.hasToolOutput ? message(reviewJson()) : execCommand("env")));
  template = makeTemplate(base, mock.url);
  // The real codex behind a wrapper that records the environment it was given.
  codexWrapper = path.join(base, "codex-wrapper.sh");
  writeFileSync(codexWrapper, `#!/bin/sh\nenv > "${codexEnvDump}"\nexec "${CODEX_BIN}" "$@"\n`, { mode: 0o755 });
});

afterAll(async () => {
  await mock.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  dir: string;
}

/** One GitHub whose reviews endpoint remembers what was posted, as the real one does. */
function fakeGitHub(): { gh: FakeGitHub; reviews: { id: number; body: string; user: { type: string; login: string } }[] } {
  const gh = new FakeGitHub("octo", "demo");
  const reviews: { id: number; body: string; user: { type: string; login: string } }[] = [];
  gh.on("GET", gh.repoPath(`/pulls/${PR}/reviews`), () => [200, reviews]);
  gh.on("GET", gh.repoPath(`/pulls/${PR}`), () => [200, pullRequest()]);
  gh.on("POST", gh.repoPath(`/pulls/${PR}/reviews`), (_m, body) => {
    const id = 500 + reviews.length;
    reviews.push({ id, body: (body as { body: string }).body, user: { type: "Bot", login: "github-actions[bot]" } });
    return [200, { id, html_url: `https://github.com/octo/demo/pull/${PR}#pullrequestreview-${id}` }];
  });
  return { gh, reviews };
}

function pullRequest(overrides: { headRepo?: string; head?: string } = {}): object {
  return {
    number: PR,
    state: "open",
    draft: false,
    title: "Copy argv",
    body: "Copies the first argument.",
    user: { login: "alice" },
    head: { sha: overrides.head ?? headSha, ref: "feature", repo: { full_name: overrides.headRepo ?? "octo/demo" } },
    base: { sha: baseSha, ref: "main", repo: { full_name: "octo/demo" } },
  };
}

function parseOutputs(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const text = readFileSync(file, "utf8");
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2\n/gm)) out[m[1]!] = m[3]!;
  for (const m of text.matchAll(/^([\w-]+)=(.*)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

async function runAction(
  apiUrl: string,
  options: { args?: string[]; eventName?: string; pull?: object; cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const dir = makeTempDir("action-run");
  const eventPath = path.join(dir, "event.json");
  writeFileSync(
    eventPath,
    JSON.stringify({
      action: "synchronize",
      number: PR,
      pull_request: options.pull ?? pullRequest(),
      repository: { owner: { login: "octo" }, name: "demo", default_branch: "main", clone_url: "https://github.com/octo/demo.git", html_url: "https://github.com/octo/demo" },
      sender: { login: "alice", type: "User" },
    }),
  );
  const outputFile = path.join(dir, "output");
  const summaryFile = path.join(dir, "summary.md");
  writeFileSync(outputFile, "");
  writeFileSync(summaryFile, "");
  const runnerTemp = path.join(dir, "runner-temp");
  mkdirSync(runnerTemp);
  const env = {
    PATH: process.env.PATH!,
    HOME: dir,
    CODEX_HOME_TEMPLATE: template,
    CODEX_BIN: codexWrapper,
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: options.eventName ?? "pull_request",
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: "octo/demo",
    GITHUB_API_URL: apiUrl,
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: runnerTemp,
    GITHUB_TOKEN: TOKEN,
    ACTIONS_RUNTIME_TOKEN: RUNTIME_TOKEN,
    // The env-recording wrapper writes beside itself and execs codex from outside the jail's view:
    // these runs are unjailed; "runs its agent in the jail" below runs the real codex jailed.
    AGENT_ISOLATION: "none",
    ...options.env,
  };
  const result = await run(TSX, [CLI, "action", ...(options.args ?? [])], { cwd: options.cwd ?? repo, env: buildEnv([], env), timeoutMs: 120_000 });
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr, outputs: parseOutputs(outputFile), summary: readFileSync(summaryFile, "utf8"), dir: runnerTemp };
}

function validateSarif(file: string): { runs: { results: { ruleId: string; locations: unknown[] }[] }[] } {
  const sarif = JSON.parse(readFileSync(file, "utf8"));
  const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, "../unit/cli/sarif-schema-2.1.0.json"), "utf8"));
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  validate(sarif);
  expect(validate.errors ?? []).toEqual([]);
  return sarif;
}

/** The finding as the engine sees it, for its fingerprint. */
const STRCPY = { path: "main.c", title: "[P1] Unbounded strcpy overflows buf", anchor: "  strcpy(buf, v[1]);" };

describe("codex-pr-bot action", () => {
  let gh: FakeGitHub;
  let reviews: ReturnType<typeof fakeGitHub>["reviews"];
  let server: Awaited<ReturnType<FakeGitHub["listen"]>>;

  beforeEach(async () => {
    ({ gh, reviews } = fakeGitHub());
    server = await gh.listen();
    mock.requests.length = 0;
  });

  afterEach(async () => {
    await server.close();
    gh.dispose();
  });

  it("posts the app's review with an inline suggestion on the right line, writes outputs, summary and SARIF, and keeps the token from the agent", async () => {
    const r = await runAction(server.url, { args: ["--fail-on", "P1"] });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(2);
    expect(gh.unexpected).toEqual([]);

    // One review, on the head commit, with one inline comment on main.c:4 in the app's format.
    const posted = gh.bodies<{ commit_id: string; event: string; body: string; comments: { path: string; line: number; side: string; body: string }[] }>(
      "POST",
      /\/pulls\/7\/reviews$/,
    );
    expect(posted).toHaveLength(1);
    const review = posted[0]!;
    expect(review).toMatchObject({ commit_id: headSha, event: "COMMENT" });
    expect(review.comments).toHaveLength(1);
    expect(review.comments[0]).toMatchObject({ path: "main.c", line: 4, side: "RIGHT" });
    const comment = review.comments[0]!.body;
    expect(comment).toContain("![P1 Badge](https://img.shields.io/badge/P1-orange?style=flat)");
    expect(comment).toContain("```suggestion\n  strncpy(buf, v[1], sizeof buf - 1);\n```");
    expect(comment).toContain(fingerprintMarker(fingerprint(STRCPY)));
    expect(review.body).toMatch(/^## Codex review\n\n\*\*Verdict: Patch is incorrect\*\*/);
    expect(review.body).toContain("**1 finding** (1 P1): 1 as inline comment.");
    expect(review.body).toContain(`Reviewed commit [\`${headSha.slice(0, 12)}\`](https://github.com/octo/demo/commit/${headSha})`);
    expect(review.body).toContain(fingerprintMarker(fingerprint(STRCPY)));

    // Outputs, summary and reports.
    expect(r.outputs).toMatchObject({ findings: "1", "worst-severity": "P1", "exit-code": "2", "review-url": "https://github.com/octo/demo/pull/7#pullrequestreview-500" });
    expect(r.outputs.sarif).toBe(path.join(r.dir, "codex-pr-bot", "review.sarif"));
    const sarif = validateSarif(r.outputs.sarif!);
    expect(sarif.runs[0]!.results).toHaveLength(1);
    expect(sarif.runs[0]!.results[0]).toMatchObject({
      ruleId: "codex-pr-bot/review/P1",
      locations: [{ physicalLocation: { artifactLocation: { uri: "main.c" }, region: { startLine: 4, endLine: 4 } } }],
    });
    expect(JSON.parse(readFileSync(r.outputs.json!, "utf8"))).toMatchObject({ head: { sha: headSha }, filesReviewed: ["main.c"] });
    expect(r.summary).toContain("> Posted [the review](https://github.com/octo/demo/pull/7#pullrequestreview-500) on the pull request: 1 inline comment, 0 in the review body.");
    expect(r.summary).toContain("### [P1] Unbounded strcpy overflows buf");
    expect(readFileSync(r.outputs.markdown!, "utf8")).toContain("`main.c:4`");
    expect(r.stdout).toContain("::error title=codex-pr-bot::A finding is P1 or more severe (fail-on: P1).");
    // The state (CODEX_HOMEs) stayed under RUNNER_TEMP, outside the checkout.
    expect(existsSync(path.join(r.dir, "codex-pr-bot", "state", "codex-homes"))).toBe(true);
    // The run is in the run history there, under the pull request, with the posted review; no token in it.
    const history = path.join(r.dir, "codex-pr-bot", "state", "codex-pr-bot.sqlite");
    const runs = new RunStore(history);
    const [recorded] = runs.list();
    runs.close();
    expect(recorded).toMatchObject({ source: "action", repo: "octo/demo", prNumber: 7, status: "succeeded", findings: 1, headSha, links: { review: "https://github.com/octo/demo/pull/7#pullrequestreview-500" } });
    expect(readFileSync(history).includes(TOKEN)).toBe(false);
    expect((await gitIn(repo, "status", "--porcelain")).trim()).toBe("");

    // Neither the workflow token nor the runner's token reached the codex process (env allowlist)...
    const codexEnv = readFileSync(codexEnvDump, "utf8");
    expect(codexEnv).toMatch(/^CODEX_HOME=/m);
    expect(codexEnv).not.toContain(TOKEN);
    expect(codexEnv).not.toContain(RUNTIME_TOKEN);
    // ...and the agent really ran `env` in its sandbox, and neither token was in what it saw, nor
    // anywhere in what the model server received.
    expect(mock.requests).toHaveLength(2);
    const envOutput = mock.requests[1]!.toolOutputs.join("\n");
    expect(envOutput).toMatch(/Process exited with code 0/);
    expect(envOutput).toMatch(/\bPATH=/);
    expect(envOutput).not.toContain("GITHUB_TOKEN");
    const everything = JSON.stringify(mock.requests.map((q) => q.body));
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(RUNTIME_TOKEN);
    expect(r.stdout).toMatch(/^\[codex\] \$ .*\benv$/m);
    expect(r.stdout).toMatch(/\[codex\] succeeded: 1 command\(s\) completed/);
  });

  it("runs its agent in the jail by default: the review is posted and the agent's `env` holds neither token", async () => {
    const r = await runAction(server.url, { args: ["--fail-on", "P1"], env: { CODEX_BIN, AGENT_ISOLATION: "" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(2);
    expect(gh.unexpected).toEqual([]);
    expect(gh.bodies("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    expect(r.outputs).toMatchObject({ findings: "1", "worst-severity": "P1" });
    const envOutput = mock.requests.at(-1)!.toolOutputs.join("\n");
    expect(envOutput).toMatch(/Process exited with code 0/);
    expect(envOutput).toMatch(/^HOME=.*codex-homes/m);
    expect(envOutput).not.toContain(TOKEN);
    expect(envOutput).not.toContain(RUNTIME_TOKEN);
    expect(r.stdout).toMatch(/\[codex\] succeeded: 1 command\(s\) completed/);
  });

  it("a second run on the same head posts nothing new and says why; no --fail-on exits 0", async () => {
    const first = await runAction(server.url);
    expect(first.code).toBe(0);
    expect(reviews).toHaveLength(1);

    const second = await runAction(server.url);
    expect(second.code).toBe(0);
    expect(gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    expect(gh.find("GET", /\/pulls\/7\/reviews/)).toHaveLength(2);
    expect(second.summary).toContain("> No new review: all 1 finding was already posted on the pull request by an earlier run.");
    expect(second.outputs).toMatchObject({ findings: "1", "review-url": "", "exit-code": "0" });
    expect(gh.unexpected).toEqual([]);
  });

  it("reports a 403 on posting clearly, keeps the findings in the summary, SARIF and annotations, and leaves the exit code alone (Enterprise Server URL)", async () => {
    gh.on("POST", gh.repoPath(`/pulls/${PR}/reviews`), () => [403, { message: "Resource not accessible by integration" }]);
    const r = await runAction(`${server.url}/api/v3`, { args: ["--fail-on", "P0"] });
    expect(r.code).toBe(0);
    expect(gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    expect(r.summary).toContain(
      "**The review could not be posted:** the token may not post pull request reviews (HTTP 403: Resource not accessible by integration",
    );
    expect(r.summary).toContain("`permissions: pull-requests: write`");
    expect(r.summary).toContain("### [P1] Unbounded strcpy overflows buf");
    expect(r.stdout).toMatch(/^::warning title=codex-pr-bot::The review could not be posted: the token may not post/m);
    // Without a review the findings still reach the diff, as annotations.
    expect(r.stdout).toMatch(/^::error title=\[P1\] Unbounded strcpy overflows buf,file=main.c,line=4,endLine=4::/m);
    expect(r.outputs).toMatchObject({ findings: "1", "review-url": "", "exit-code": "0" });
    validateSarif(r.outputs.sarif!);
  });

  it("says when the token's rate limit is exhausted instead of waiting for it", async () => {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    gh.on("GET", gh.repoPath(`/pulls/${PR}/reviews`), () => [
      403,
      { message: "API rate limit exceeded for installation." },
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
    ]);
    const r = await runAction(server.url);
    expect(r.code).toBe(0);
    expect(gh.find("GET", /\/pulls\/7\/reviews/)).toHaveLength(1);
    expect(gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(0);
    expect(r.summary).toContain("GitHub's API rate limit for this token was reached (HTTP 403: API rate limit exceeded for installation.");
    expect(r.summary).toContain(`It resets at ${new Date(reset * 1000).toISOString().replace(/\.\d+Z$/, "Z")}.`);
  });

  it("folds the inline comments into the body when GitHub answers 422, as the app does", async () => {
    gh.on("POST", gh.repoPath(`/pulls/${PR}/reviews`), (_m, body) => {
      const comments = (body as { comments?: unknown[] }).comments ?? [];
      return comments.length > 0
        ? [422, { message: "Unprocessable Entity", errors: ["Pull request review thread line must be part of the diff"] }]
        : [200, { id: 9, html_url: "https://github.com/octo/demo/pull/7#pullrequestreview-9" }];
    });
    const r = await runAction(server.url);
    expect(r.code).toBe(0);
    const posts = gh.bodies<{ body: string; comments?: unknown[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(posts).toHaveLength(2);
    expect(posts[1]!.comments).toBeUndefined();
    expect(posts[1]!.body).toContain("GitHub did not accept it as an inline comment");
    expect(posts[1]!.body).toContain(fingerprintMarker(fingerprint(STRCPY)));
    expect(r.stdout).toContain("::warning::GitHub rejected inline comments; posting them in the review body");
    expect(r.summary).toContain("GitHub refused the inline comments, so all 1 finding is in the review body");
  });

  it("does not try to post on a pull request from a fork, and says so", async () => {
    const r = await runAction(server.url, { pull: pullRequest({ headRepo: "mallory/demo" }) });
    expect(r.code).toBe(0);
    expect(gh.calls).toEqual([]);
    expect(r.stdout).toMatch(/^::notice title=codex-pr-bot::Not posted: this pull request comes from a fork/m);
    expect(r.summary).toContain("this pull request comes from a fork, where the workflow's token is read-only");
    expect(r.stdout).toMatch(/^::error title=\[P1\] Unbounded strcpy overflows buf,file=main.c,line=4,endLine=4::/m);
  });

  it("refuses pull_request_target before running anything", async () => {
    const r = await runAction(server.url, { eventName: "pull_request_target" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error title=codex-pr-bot::refusing to run on pull_request_target: /m);
    expect(r.summary).toContain("## codex-pr-bot could not review this pull request");
    expect(r.summary).toContain("Trigger the workflow with `on: pull_request` instead");
    expect(r.outputs["exit-code"]).toBe("1");
    expect(mock.requests).toHaveLength(0);
    expect(gh.calls).toEqual([]);
  });

  it("reviews the pull request's head, not the merge commit actions/checkout leaves, with the head's line numbers", async () => {
    // main moved on with ten lines above the change (so line 4 of the merge is outside its hunks), and
    // the workflow checked out the merge commit.
    const clone = path.join(makeTempDir("action-merge"), "clone");
    await gitIn(base, "clone", "-q", repo, clone);
    await gitIn(clone, "checkout", "-q", "main");
    const header = Array.from({ length: 10 }, (_, i) => `// note ${i + 1} added on main\n`).join("");
    writeFileSync(path.join(clone, "main.c"), header + readFileSync(path.join(clone, "main.c"), "utf8"));
    await gitIn(clone, "commit", "-qam", "comments on main");
    const movedBase = (await gitIn(clone, "rev-parse", "HEAD")).trim();
    await gitIn(clone, "checkout", "-q", "--detach", movedBase);
    await gitIn(clone, "merge", "-q", "--no-edit", headSha);
    const merged = readFileSync(path.join(clone, "main.c"), "utf8").split("\n");
    expect(merged[13]).toBe("  strcpy(buf, v[1]);"); // line 14 in the merge, line 4 in the head

    const pull = { ...pullRequest(), base: { sha: movedBase, ref: "main", repo: { full_name: "octo/demo" } } };
    const r = await runAction(server.url, { pull, cwd: clone });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const posted = gh.bodies<{ commit_id: string; comments: { path: string; line: number }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ commit_id: headSha, comments: [{ path: "main.c", line: 4 }] });
    // The agent worked in the head worktree, which is gone afterwards.
    const worktree = path.join(r.dir, "codex-pr-bot", "state", "worktrees", `head-${headSha.slice(0, 12)}`);
    expect(mock.requests[0]!.body.input ? JSON.stringify(mock.requests[0]!.body.input) : "").toContain(worktree);
    expect(existsSync(worktree)).toBe(false);
    expect(await gitIn(clone, "worktree", "list")).not.toContain(worktree);
  });

  it("says to use fetch-depth: 0 when a shallow checkout lacks the history", async () => {
    const shallow = path.join(makeTempDir("action-shallow"), "shallow");
    await gitIn(base, "clone", "-q", "--depth", "1", "--branch", "feature", `file://${repo}`, shallow);
    const r = await runAction(server.url, { cwd: shallow });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error title=codex-pr-bot::.*fetch-depth: 0/m);
    expect(r.summary).toContain("fetch-depth: 0");
    expect(mock.requests).toHaveLength(0);
    expect(gh.calls).toEqual([]);
  });
});
