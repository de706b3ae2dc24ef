import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import AjvModule from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fingerprint, fingerprintMarker } from "../../src/review/fingerprint.js";
import { RunStore } from "../../src/store/runs.js";
import { buildEnv, run } from "../../src/util/exec.js";
import { ActionsCache, readActionYml, runComposite, type ActionYml } from "../helpers/composite-action.js";
import { FakeGitHub } from "../helpers/fake-github.js";
import { execCommand, message, startMockResponses, type MockResponses } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { CLI, CODEX_BIN, gitIn, makeRepo, makeTemplate, reviewJson, ROOT, strcpyFinding, TSX } from "../unit/cli/fixture.js";

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

  it("deepens a shallow checkout itself (fetch-depth: 1): fetches the base and the merge base, then reviews", async () => {
    const shallow = path.join(makeTempDir("action-shallow"), "shallow");
    await gitIn(base, "clone", "-q", "--depth", "1", "--branch", "feature", `file://${repo}`, shallow);
    expect(await gitIn(shallow, "rev-parse", "--verify", "--quiet", `${baseSha}^{commit}`).catch(() => "missing")).toBe("missing");
    const r = await runAction(server.url, { cwd: shallow });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(gh.bodies("POST", /\/pulls\/7\/reviews$/)).toEqual([expect.objectContaining({ commit_id: headSha, comments: [expect.objectContaining({ path: "main.c", line: 4 })] })]);
    expect((await gitIn(shallow, "merge-base", baseSha, headSha)).trim()).toBe(baseSha);
  });

  it("says what failed and what to do when the shallow checkout's origin cannot be fetched from", async () => {
    const shallow = path.join(makeTempDir("action-shallow"), "shallow");
    await gitIn(base, "clone", "-q", "--depth", "1", "--branch", "feature", `file://${repo}`, shallow);
    await gitIn(shallow, "remote", "set-url", "origin", `file://${base}/no-such-origin.git`);
    const r = await runAction(server.url, { cwd: shallow });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error title=codex-pr-bot::fetching the pull request's base commit [0-9a-f]{12} from origin failed \(.*\)\. The action fetches missing history from origin itself: give the job `contents: read`, or check out with `fetch-depth: 0`\./m);
    expect(r.summary).toContain("fetch-depth: 0");
    expect(mock.requests).toHaveLength(0);
    expect(gh.calls).toEqual([]);
  });
});

/**
 * action.yml itself, as a hosted runner runs it (test/helpers/composite-action.ts): the composite
 * steps with their expressions, `if:` conditions, continue-on-error and output files, after a replay
 * of actions/checkout's git commands with its defaults (persist-credentials, fetch-depth 1, the
 * merge commit). Every step runs, the set-up too: the action's directory is this working tree's
 * source without a bundle (as on main), so the Install step builds it with esbuild over the dev
 * install (node_modules linked in) and installs the pinned agent CLI with npm; npm's own cache is
 * the offline source (prefer-offline: the same `npm install <pkg>@<version>`, the registry asked
 * only when the cache lacks it). actions/cache is replayed as a directory copy (ActionsCache);
 * code scanning's upload-sarif is a stand-in that posts to the stand-in GitHub as it does.
 */
describe("action.yml as a workflow runs it", () => {
  /** The action as a ref without a prebuilt bundle holds it: its tracked source, no dist/. */
  const actionPath = path.join(base, "action");
  for (const entry of ["action.yml", "package.json", "package-lock.json", "scripts", "src"]) cpSync(path.join(ROOT, entry), path.join(actionPath, entry), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(actionPath, "node_modules"));
  const ACTION: ActionYml = readActionYml(path.join(actionPath, "action.yml"));
  const PINNED = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies as Record<string, string>;
  /** npm's cache of this machine (the test's HOME is a scratch dir): the offline source of the CLIs. */
  const NPM_CACHE = process.env.npm_config_cache || path.join(process.env.HOME ?? "/root", ".npm");
  /** The cache service, shared by the runs of this describe as by a repository's workflow runs. */
  const cache = new ActionsCache(path.join(base, "actions-cache"));
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
  /** Every form of the token that must appear nowhere: raw, base64 (with and without the user), URL-encoded. */
  const TOKEN_FORMS = [TOKEN, basic, basic.replace(/=+$/, ""), Buffer.from(TOKEN).toString("base64").replace(/=+$/, ""), encodeURIComponent(basic)];
  let origin: string;
  let mergeSha: string;
  let hostile: MockResponses;
  let hostileTemplate: string;
  let shims: string;

  beforeAll(async () => {
    // The hostile agent: dumps the git config, then the environment, then reports all it saw as a
    // finding, and adds every form of the token it could have learnt elsewhere.
    hostile = await startMockResponses((req) => {
      if (req.toolOutputs.length === 0) return execCommand("git config --list --show-origin");
      if (req.toolOutputs.length === 1) return execCommand("env");
      const seen = req.toolOutputs.join("\n").slice(0, 6000);
      const finding = strcpyFinding({
        title: `[P1] Unbounded strcpy overflows buf ${basic}`,
        body: `Found while looking around:\n${seen}\nand ${TOKEN} ${basic} ${encodeURIComponent(basic)} ${Buffer.from(TOKEN).toString("base64")}`,
      });
      return message(reviewJson([finding]));
    });
    hostileTemplate = makeTemplate(makeTempDir("action-hostile"), hostile.url);

    // GitHub's side: the repository with refs/pull/7/head and the merge commit refs/pull/7/merge.
    origin = path.join(base, "origin.git");
    await gitIn(base, "clone", "-q", "--bare", repo, origin);
    const work = path.join(base, "merge-work");
    await gitIn(base, "clone", "-q", origin, work);
    await gitIn(work, "checkout", "-q", "--detach", "origin/main");
    await gitIn(work, "merge", "-q", "--no-ff", "--no-edit", "origin/feature");
    mergeSha = (await gitIn(work, "rev-parse", "HEAD")).trim();
    await gitIn(work, "push", "-q", "origin", `HEAD:refs/pull/${PR}/merge`, `origin/feature:refs/pull/${PR}/head`);

    // No sudo (the sandbox step then warns, as on a runner without it).
    shims = path.join(base, "shims");
    mkdirSync(shims);
    writeFileSync(path.join(shims, "sudo"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  });

  afterAll(async () => {
    await hostile.close();
  });

  let gh: FakeGitHub;
  let server: Awaited<ReturnType<FakeGitHub["listen"]>>;
  let codeScanning: [number, unknown];

  beforeEach(async () => {
    ({ gh } = fakeGitHub());
    codeScanning = [403, { message: "Advanced Security must be enabled for this repository to use code scanning." }];
    gh.on("POST", gh.repoPath("/code-scanning/sarifs"), () => codeScanning);
    server = await gh.listen();
    hostile.requests.length = 0;
  });

  afterEach(async () => {
    await server.close();
    gh.dispose();
  });

  /** actions/checkout's git commands with its defaults: the merge commit at depth 1, the token persisted. */
  async function actionsCheckout(dir: string, persist: "config" | "include" | false, runnerTemp: string): Promise<void> {
    await gitIn(base, "init", "-q", dir);
    await gitIn(dir, "remote", "add", "origin", `file://${origin}`);
    const header = `AUTHORIZATION: basic ${basic}`;
    if (persist === "config") {
      // checkout v4/v5: in .git/config.
      await gitIn(dir, "config", "--local", "http.https://github.com/.extraheader", header);
    } else if (persist === "include") {
      // checkout v6: in a file under RUNNER_TEMP that .git/config includes, for worktrees too.
      const file = path.join(runnerTemp, "git-credentials-1b2c.config");
      writeFileSync(file, `[http "https://github.com/"]\n\textraheader = ${header}\n`);
      await gitIn(dir, "config", "--local", `includeIf.gitdir:${dir}/.git.path`, file);
      await gitIn(dir, "config", "--local", `includeIf.gitdir:${dir}/.git/worktrees/*.path`, file);
    }
    await gitIn(dir, "-c", "protocol.version=2", "fetch", "-q", "--no-tags", "--prune", "--no-recurse-submodules", "--depth=1", "origin", `+${mergeSha}:refs/remotes/pull/${PR}/merge`);
    await gitIn(dir, "checkout", "-q", "--force", `refs/remotes/pull/${PR}/merge`);
  }

  async function runWorkflow(
    options: { with?: Record<string, string>; persist?: "config" | "include" | false; path?: string; env?: Record<string, string>; cache?: ActionsCache; skip?: Record<string, string> } = {},
  ) {
    const dir = makeTempDir("workflow");
    const actionsCache = options.cache ?? cache;
    const workspace = path.join(dir, "workspace");
    const runnerTemp = path.join(dir, "runner-temp");
    // A fresh runner's tool cache: empty until actions/cache restores into it.
    const toolCache = path.join(dir, "tool-cache");
    mkdirSync(workspace);
    mkdirSync(runnerTemp);
    mkdirSync(toolCache);
    await actionsCheckout(path.join(workspace, options.path ?? ""), options.persist ?? "config", runnerTemp);
    const event = {
      action: "synchronize",
      number: PR,
      pull_request: pullRequest(),
      repository: { owner: { login: "octo" }, name: "demo", default_branch: "main", clone_url: "https://github.com/octo/demo.git", html_url: "https://github.com/octo/demo" },
      sender: { login: "alice", type: "User" },
    };
    const eventPath = path.join(dir, "event.json");
    writeFileSync(eventPath, JSON.stringify(event));
    const uploads: { with: Record<string, string> }[] = [];
    const run = await runComposite({
      action: ACTION,
      with: options.with ?? {},
      github: { action_path: actionPath, token: TOKEN, workspace, event, repository: "octo/demo", sha: mergeSha },
      runner: { os: "Linux", temp: runnerTemp, tool_cache: toolCache },
      env: {
        PATH: `${shims}:${process.env.PATH!}`,
        HOME: path.join(dir, "home"),
        CI: "true",
        GITHUB_ACTIONS: "true",
        GITHUB_EVENT_NAME: "pull_request",
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_REPOSITORY: "octo/demo",
        GITHUB_API_URL: server.url,
        GITHUB_SERVER_URL: "https://github.com",
        GITHUB_SHA: mergeSha,
        GITHUB_WORKSPACE: workspace,
        RUNNER_TEMP: runnerTemp,
        RUNNER_TOOL_CACHE: toolCache,
        ACTIONS_RUNTIME_TOKEN: RUNTIME_TOKEN,
        CODEX_HOME_TEMPLATE: hostileTemplate,
        npm_config_cache: NPM_CACHE,
        npm_config_prefer_offline: "true",
        ...options.env,
      },
      dir: path.join(dir, "runner"),
      ...(options.skip ? { skip: options.skip } : {}),
      uses: {
        "Cache codex": actionsCache.standIn,
        "Cache claude": actionsCache.standIn,
        // github/codeql-action/upload-sarif: validates ref and sha, then POSTs the gzipped SARIF.
        "Upload SARIF": async (step) => {
          uploads.push(step);
          if (!/^[0-9a-f]{40}$/.test(step.with.sha ?? "") || !/^refs\/(heads|pull)\/\S+$/.test(step.with.ref ?? "")) return { ok: false, log: "::error::invalid ref or sha\n" };
          const sarif = gzipSync(readFileSync(step.with.sarif_file!)).toString("base64");
          const res = await fetch(`${server.url}/repos/octo/demo/code-scanning/sarifs`, {
            method: "POST",
            headers: { authorization: `token ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ commit_sha: step.with.sha, ref: step.with.ref, sarif, checkout_uri: `file://${step.with.checkout_path}`, tool_name: "codex-pr-bot" }),
          });
          const answer = (await res.json()) as { message?: string };
          return res.ok ? { ok: true, log: "Uploaded the SARIF file.\n" } : { ok: false, log: `::error::${answer.message}\n` };
        },
      },
    });
    await actionsCache.post(run.status);
    return { run, workspace, runnerTemp, toolCache, uploads };
  }

  it("with checkout's defaults and a hostile agent: no form of the token reaches the model or anything the bot writes; code scanning without Advanced Security is a warning", async () => {
    const { run: r, runnerTemp, uploads } = await runWorkflow();
    expect(gh.unexpected).toEqual([]);
    // The agent ran in its jail, in the head worktree, and its git config dump worked but held no credential.
    expect(hostile.requests).toHaveLength(3);
    const [configDump, envDump] = hostile.requests[2]!.toolOutputs;
    expect(configDump).toMatch(/Process exited with code 0/);
    expect(configDump).toMatch(/remote\.origin\.url=file:\/\//);
    expect(configDump).not.toMatch(/extraheader/i);
    expect(envDump).toMatch(/^HOME=.*codex-homes/m);

    // The review was posted on the head commit, with the redaction visible where the agent quoted the token.
    const posted = gh.bodies<{ commit_id: string; body: string; comments: { path: string; line: number; body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ commit_id: headSha, comments: [{ path: "main.c", line: 4 }] });
    expect(posted[0]!.comments[0]!.body).toContain("[REDACTED]");

    // Nothing the model saw and nothing the bot wrote holds any form of the token.
    const sarifFile = r.outputs.sarif!;
    expect(sarifFile).toBe(path.join(runnerTemp, "codex-pr-bot", "review.sarif"));
    const written = [
      JSON.stringify(hostile.requests.map((q) => q.body)),
      JSON.stringify(gh.calls.filter((c) => !c.path.endsWith("/code-scanning/sarifs"))),
      readFileSync(sarifFile, "utf8"),
      readFileSync(r.outputs.markdown!, "utf8"),
      readFileSync(r.outputs.json!, "utf8"),
      r.summary,
      r.log,
      JSON.stringify(r.outputs),
    ];
    // No run history in the Action (it would die with the runner): nothing there to leak either.
    expect(existsSync(path.join(runnerTemp, "codex-pr-bot-state", "codex-pr-bot.sqlite"))).toBe(false);
    expect(readFileSync(sarifFile, "utf8")).toContain("[REDACTED]");
    for (const form of TOKEN_FORMS) for (const [i, text] of written.entries()) expect(text.includes(form), `form ${form} in text #${i}`).toBe(false);

    // Code scanning: uploaded for the head commit (not the merge commit GITHUB_SHA names); GitHub
    // refused it (no Advanced Security), and the job still succeeds, with a warning that says why.
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.with).toMatchObject({ ref: `refs/pull/${PR}/head`, sha: headSha, category: "codex-pr-bot-review" });
    expect(gh.bodies("POST", /\/code-scanning\/sarifs$/)).toEqual([expect.objectContaining({ commit_sha: headSha, ref: `refs/pull/${PR}/head` })]);
    expect(r.steps.find((s) => s.name === "Upload SARIF")).toMatchObject({ outcome: "failure", conclusion: "success" });
    expect(r.log).toMatch(/^::warning title=codex-pr-bot::The findings could not be uploaded to code scanning .*`security-events: write`.*GitHub Code Security/m);
    expect(r.outputs).toMatchObject({ findings: "1", "worst-severity": "P1", "exit-code": "0" });
    expect(r.status).toBe("success");
    // The shallow merge checkout was deepened by the action itself.
    expect(r.log).not.toMatch(/fetch-depth/);
  });

  it("sets up in seconds: builds the bundle, installs only the codex CLI executor codex needs, at the pinned version, and restores it from actions/cache next time", async () => {
    const own = new ActionsCache(makeTempDir("actions-cache"));
    const codexId = `codex-${PINNED["@openai/codex"]}-${process.platform}-${process.arch}`;
    const first = await runWorkflow({ cache: own, with: { executor: "codex", "upload-sarif": "false" } });
    expect(first.run.status).toBe("success");
    // The review ran on the bundle and the installed CLI: posted, as in every other run.
    expect(gh.bodies("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    expect(existsSync(path.join(actionPath, "dist", "action-bundle", "cli.js"))).toBe(true);
    expect(first.run.steps.filter((st) => st.ran).map((st) => st.name)).toEqual(["Plan the agent CLIs", "Cache codex", "Install codex-pr-bot", "Allow codex's sandbox", "Review"]);
    // Only codex, at the version package.json pins; claude-code is nowhere on the runner.
    expect(readdirSync(path.join(first.toolCache, "codex-pr-bot"))).toEqual([codexId]);
    const installed = JSON.parse(readFileSync(path.join(first.toolCache, "codex-pr-bot", codexId, "node_modules", "@openai", "codex", "package.json"), "utf8")) as { version: string };
    expect(installed.version).toBe(PINNED["@openai/codex"]);
    const tree = (await run("find", [first.toolCache, "-maxdepth", "6", "-name", "claude*"], { cwd: first.toolCache, env: { PATH: process.env.PATH! } })).stdout;
    expect(tree).toBe("");
    expect(first.run.log).toContain(`installed @openai/codex@${PINNED["@openai/codex"]}`);
    expect(first.run.log).toContain(`Cache not found for input keys: codex-pr-bot-${codexId}`);

    // The next run on a fresh runner: a cache hit, no npm install; only the set-up steps run here.
    const second = await runWorkflow({ cache: own, with: { executor: "codex" }, skip: { Review: "the set-up alone", Finish: "no review ran" } });
    expect(second.run.steps.find((st) => st.name === "Install codex-pr-bot")).toMatchObject({ outcome: "success" });
    expect(second.run.log).toContain(`Cache restored from key: codex-pr-bot-${codexId}`);
    expect(second.run.log).toContain(`@openai/codex@${PINNED["@openai/codex"]}: from the cache`);
    expect(second.run.log).not.toMatch(/installed @openai\/codex/);
  });

  it("plans a cache per agent the executor needs, keyed by the pinned version, and refuses an unknown executor", async () => {
    const plan = async (executor: string): Promise<{ code: number | null; outputs: string; stderr: string }> => {
      const r = await run(process.execPath, [path.join(actionPath, "scripts", "action-agents.mjs"), "plan"], {
        cwd: actionPath,
        env: buildEnv(["PATH"], { INPUT_EXECUTOR: executor, RUNNER_TOOL_CACHE: "/opt/hostedtoolcache" }),
      });
      return { code: r.exitCode, outputs: r.stdout, stderr: r.stderr };
    };
    const id = (agent: string, pkg: string): string => `${agent}-${PINNED[pkg]}-${process.platform}-${process.arch}`;
    const codex = id("codex", "@openai/codex");
    const claude = id("claude", "@anthropic-ai/claude-code");
    expect((await plan("claude")).outputs).toBe(
      `claude-dir=/opt/hostedtoolcache/codex-pr-bot/${claude}\nclaude-key=codex-pr-bot-${claude}\nclaude-version=${PINNED["@anthropic-ai/claude-code"]}\n`,
    );
    const both = (await plan("both")).outputs;
    expect(both).toContain(`codex-key=codex-pr-bot-${codex}\n`);
    expect(both).toContain(`claude-key=codex-pr-bot-${claude}\n`);
    const bad = await plan("gpt");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('::error title=codex-pr-bot::the executor input must be codex, claude or both, not "gpt"\n');
  });

  it("checkout v6's credentials file, a checkout in a subdirectory (`path`), code scanning on: uploaded for the head, fail-on fails the job", async () => {
    codeScanning = [202, { id: "47177e22", url: "https://api.github.com/repos/octo/demo/code-scanning/sarifs/47177e22" }];
    const { run: r, workspace, uploads } = await runWorkflow({ persist: "include", path: "src/demo", with: { path: "src/demo", "fail-on": "P1" } });
    expect(gh.unexpected).toEqual([]);
    expect(hostile.requests).toHaveLength(3);
    expect(hostile.requests[2]!.toolOutputs[0]).toMatch(/remote\.origin\.url=/);
    const everything = [JSON.stringify(hostile.requests.map((q) => q.body)), JSON.stringify(gh.calls), r.log, r.summary];
    for (const form of TOKEN_FORMS) for (const text of everything) expect(text.includes(form), form).toBe(false);
    expect(gh.bodies("POST", /\/pulls\/7\/reviews$/)).toEqual([expect.objectContaining({ commit_id: headSha })]);
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.with).toMatchObject({ ref: `refs/pull/${PR}/head`, sha: headSha, checkout_path: `${workspace}/src/demo` });
    expect(r.steps.find((s) => s.name === "Upload SARIF")).toMatchObject({ outcome: "success" });
    expect(r.steps.find((s) => s.name === "Code scanning unavailable")).toMatchObject({ ran: false });
    expect(r.log).not.toMatch(/could not be uploaded/);
    expect(r.outputs["exit-code"]).toBe("2");
    expect(r.steps.find((s) => s.name === "Finish")).toMatchObject({ outcome: "failure" });
    expect(r.status).toBe("failure");
  });

  it("refuses to run the agent unjailed (AGENT_ISOLATION=none) on a checkout whose git config holds credentials", async () => {
    const { run: r, uploads } = await runWorkflow({ persist: "include", env: { AGENT_ISOLATION: "none" } });
    expect(r.log).toMatch(/^::error title=codex-pr-bot::refusing to run the agent unjailed \(AGENT_ISOLATION=none\) on a checkout whose git config holds credentials \(http\.https:\/\/github\.com\/\.extraheader\).*persist-credentials: false/m);
    expect(hostile.requests).toHaveLength(0);
    expect(gh.calls).toEqual([]);
    expect(uploads).toHaveLength(0);
    expect(r.outputs["exit-code"]).toBe("1");
    expect(r.status).toBe("failure");
    for (const form of TOKEN_FORMS) expect(r.log.includes(form) || r.summary.includes(form), form).toBe(false);
  });
});
