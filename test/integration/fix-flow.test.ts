import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runningFixes } from "../../src/fix/registry.js";
import { INSTALLATION_TOKEN } from "../helpers/fake-github.js";
import { applyPatch, hang, message, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, issueCommentPayload, pullRequestPayload, repositoryPayload } from "../helpers/webhooks.js";
import { scenario, type Scenario } from "./helpers.js";

/** What the scripted model does: one apply_patch that guards divide(), then a summary. */
const GUARD_PATCH =
  '*** Begin Patch\n*** Update File: src/math.js\n@@\n-  return a / b;\n+  if (b === 0) throw new RangeError("division by zero");\n+  return a / b;\n*** End Patch\n';
const SUMMARY = "- Guarded `divide()` against a zero divisor (src/math.js:6).";

/** apply_patch first, then `final` once the patch's output came back. */
function editThen(patch: string, final = SUMMARY): (req: MockRequest) => Turn {
  return (req) => (req.hasToolOutput ? message(final) : applyPatch(patch));
}

const FINDING_FP = "0123456789abcdef";
const FINDING_URL = "https://github.com/octo/demo/pull/7#discussion_r555";
/** An inline comment of the bot's earlier review, as GET /pulls/7/comments returns it. */
const BOT_FINDING = {
  id: 555,
  user: { type: "Bot", login: "codex-pr-bot[bot]" },
  path: "src/math.js",
  line: 6,
  start_line: null,
  html_url: FINDING_URL,
  body:
    "**<sub><sub>![P1 Badge](https://img.shields.io/badge/P1-orange?style=flat)</sub></sub>  Guard against division by zero**\n\n" +
    "`divide(1, 0)` returns `Infinity` instead of failing.\n\n" +
    `<!-- codex-pr-bot:fp:${FINDING_FP} -->`,
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
}

function refsOf(bare: string): string[] {
  return git(bare, "--git-dir", bare, "for-each-ref", "--format=%(refname)").split("\n").filter(Boolean).sort();
}

/** Every worktree the app kept: each must be clean (nothing the agent did survives the job). */
function assertWorktreesClean(dataDir: string): void {
  const root = path.join(dataDir, "workspaces", "worktrees");
  const dirs = existsSync(root) ? readdirSync(root).flatMap((key) => readdirSync(path.join(root, key)).map((n) => path.join(root, key, n))) : [];
  expect(dirs.length).toBeGreaterThan(0);
  for (const dir of dirs) expect(git(dir, "status", "--porcelain", "--untracked-files=all")).toBe("");
}

describe("fix-up pull requests over real HTTP, git and codex", () => {
  let sc: Scenario;
  let pullsCreated: number;

  beforeEach(() => {
    runningFixes.clear();
    sc = scenario("fix-flow");
    pullsCreated = 0;
  });
  afterEach(async () => {
    await sc.close();
  });

  const comment = (body: string, extra: Partial<Parameters<typeof issueCommentPayload>[1]> = {}) =>
    issueCommentPayload(sc.repo, { number: 7, body, ...extra });

  /** GitHub routes of a fix: the PR, earlier findings, PR creation. */
  function routes(options: { config?: string; fork?: boolean; findings?: unknown[]; pullAfterRun?: () => unknown } = {}) {
    sc.gh.defaults(options.config ? { config: options.config } : {});
    const pull = () => pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha, fork: options.fork ?? false }).pull_request;
    let pullReads = 0;
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => [200, pullReads++ > 0 && options.pullAfterRun ? options.pullAfterRun() : pull()]);
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7/comments"), () => [200, options.findings ?? [BOT_FINDING]]);
    sc.gh.on("POST", sc.gh.repoPath("/pulls"), (_m, body) => {
      pullsCreated++;
      const b = body as { draft?: boolean };
      return [201, { number: 8, html_url: "https://github.com/octo/demo/pull/8", draft: b.draft ?? false }];
    });
  }

  function replies(): string[] {
    return sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
  }

  it("`@codex fix` fixes the open findings, verifies, pushes a branch as the app and opens a PR into the head branch", async () => {
    routes({ config: "fix:\n  verify: \"grep -q RangeError src/math.js && echo all 3 tests passed\"\n" });
    const app = await sc.start(editThen(GUARD_PATCH));
    await deliver(app.url, "issue_comment", comment("@codex fix"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.bodies("POST", /\/issues\/comments\/9001\/reactions$/)).toEqual([{ content: "eyes" }]);
    // The finding reached the agent, and the token never did.
    const prompt = JSON.stringify(sc.mock!.requests[0]!.body.input);
    expect(prompt).toContain("Guard against division by zero");
    expect(prompt).toContain("src/math.js");
    expect(JSON.stringify(sc.mock!.requests)).not.toContain(INSTALLATION_TOKEN);
    expect(sc.mock!.requests[1]!.toolOutputs.join("\n")).toMatch(/Success/);

    // The branch in the (stand-in) GitHub remote: one commit by the app on top of the PR head.
    const branch = `codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}`;
    expect(refsOf(sc.origin.bare)).toContain(`refs/heads/${branch}`);
    const bare = sc.origin.bare;
    expect(git(bare, "--git-dir", bare, "show", `${branch}:src/math.js`)).toContain('if (b === 0) throw new RangeError("division by zero");');
    expect(git(bare, "--git-dir", bare, "rev-parse", `${branch}^`)).toBe(sc.headSha);
    expect(git(bare, "--git-dir", bare, "log", "-1", "--format=%an|%cn|%ae", branch)).toMatch(/^codex-pr-bot\[bot\]\|codex-pr-bot\[bot\]\|.*codex-pr-bot\[bot\]@users\.noreply\.github\.com$/);
    expect(git(bare, "--git-dir", bare, "log", "-1", "--format=%B", branch)).toContain("[P1] Guard against division by zero (src/math.js:6)");
    expect(git(bare, "--git-dir", bare, "diff", "--name-only", sc.headSha, branch)).toBe("src/math.js");

    const created = sc.gh.bodies<{ base: string; head: string; title: string; body: string; draft: boolean }>("POST", /\/pulls$/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ base: "feature", head: branch, draft: false });
    expect(created[0]!.title).toBe("Fix: Guard against division by zero (#7)");
    const body = created[0]!.body;
    expect(body).toContain("Merging this pull request updates #7");
    expect(body).toContain(FINDING_URL);
    expect(body).toMatch(/`src\/math\.js` \| modified \| \+1 −0/);
    expect(body).toMatch(/✅ `grep -q RangeError src\/math\.js && echo all 3 tests passed` \*\*passed\*\*/);
    expect(body).toContain("all 3 tests passed");
    expect(body).toContain("Guarded `divide()` against a zero divisor");
    expect(body).not.toContain(INSTALLATION_TOKEN);

    const reply = replies();
    expect(reply).toHaveLength(1);
    expect(reply[0]).toContain("@maintainer I opened #8 with a fix: https://github.com/octo/demo/pull/8");
    expect(reply[0]).toContain("Verification `grep -q RangeError src/math.js && echo all 3 tests passed` passed");
    assertWorktreesClean(sc.dataDir);
  });

  it("a failing verification still opens the PR, as a draft, clearly marked with the output's tail", async () => {
    routes({ config: "fix:\n  verify: \"echo 'FAIL divide: expected 0 got Infinity'; exit 3\"\n" });
    const app = await sc.start(editThen(GUARD_PATCH, "Guarded divide()."));
    await deliver(app.url, "issue_comment", comment("@codex fix make divide() reject a zero divisor"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    // An instruction replaces the findings as the task.
    const prompt = JSON.stringify(sc.mock!.requests[0]!.body.input);
    expect(prompt).toContain("make divide() reject a zero divisor");
    expect(prompt).not.toContain(FINDING_FP);
    const created = sc.gh.bodies<{ title: string; body: string; draft: boolean }>("POST", /\/pulls$/);
    expect(created).toHaveLength(1);
    expect(created[0]!.draft).toBe(true);
    expect(created[0]!.title).toMatch(/^\[verification failed\] Fix: make divide\(\) reject a zero divisor \(#7\)$/);
    expect(created[0]!.body).toContain("**Verification failed.** This pull request was opened as a draft");
    expect(created[0]!.body).toMatch(/❌ `.*` \*\*failed\*\* \(exit code 3\)/);
    expect(created[0]!.body).toContain("FAIL divide: expected 0 got Infinity");
    expect(replies()[0]).toContain("failed, so the pull request is a draft");
    expect(refsOf(sc.origin.bare)).toContain(`refs/heads/codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}`);
  });

  it("for a fork PR posts a `git apply`-ready patch and suggestions, and pushes nothing", async () => {
    routes({ fork: true });
    const before = refsOf(sc.origin.bare);
    const app = await sc.start(editThen(GUARD_PATCH));
    await deliver(app.url, "issue_comment", comment("@codex fix"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(refsOf(sc.origin.bare)).toEqual(before);
    expect(pullsCreated).toBe(0);
    const reply = replies();
    expect(reply).toHaveLength(1);
    expect(reply[0]).toContain("comes from a fork");
    expect(reply[0]).toContain("<details>");
    const patch = /```diff\n([\s\S]*?)```/.exec(reply[0]!)?.[1];
    expect(patch).toBeDefined();
    // The patch applies to the PR head as it is.
    const file = path.join(sc.origin.work, "..", "codex-fix.patch");
    writeFileSync(file, patch!);
    expect(git(sc.origin.work, "rev-parse", "HEAD")).toBe(sc.headSha);
    git(sc.origin.work, "apply", "--check", file);

    // The hunk sits on the PR's changed lines, so it is also offered as a suggestion.
    const reviews = sc.gh.bodies<{ event: string; comments: { path: string; line: number; body: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.event).toBe("COMMENT");
    expect(reviews[0]!.comments).toHaveLength(1);
    expect(reviews[0]!.comments[0]).toMatchObject({ path: "src/math.js", line: 6 });
    expect(reviews[0]!.comments[0]!.body).toContain('```suggestion\n  if (b === 0) throw new RangeError("division by zero");\n  return a / b;\n```');
  });

  it("refuses a change to a workflow: a reply says why, nothing is pushed or opened", async () => {
    routes();
    const before = refsOf(sc.origin.bare);
    const app = await sc.start(
      editThen("*** Begin Patch\n*** Add File: .github/workflows/ci.yml\n+on: push\n+jobs: {}\n*** End Patch\n", "Added CI."),
    );
    await deliver(app.url, "issue_comment", comment("@codex fix add a CI workflow"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(refsOf(sc.origin.bare)).toEqual(before);
    expect(pullsCreated).toBe(0);
    const reply = replies();
    expect(reply).toHaveLength(1);
    expect(reply[0]).toContain("**did not publish it**");
    expect(reply[0]).toContain("`.github/workflows/ci.yml`: adds a GitHub Actions workflow (allowed by `fix.allow_workflow_changes`)");
    assertWorktreesClean(sc.dataDir);
  });

  it("a run that changes nothing gets a reply with the agent's reason and no PR", async () => {
    routes();
    const before = refsOf(sc.origin.bare);
    const app = await sc.start([message("divide() already rejects a zero divisor at its only call site, so no change is needed.")]);
    await deliver(app.url, "issue_comment", comment("@codex fix"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(pullsCreated).toBe(0);
    expect(refsOf(sc.origin.bare)).toEqual(before);
    const reply = replies();
    expect(reply).toHaveLength(1);
    expect(reply[0]).toContain("finished without changing any file");
    expect(reply[0]).toContain("> divide() already rejects a zero divisor at its only call site");
  });

  it("answers a second `@codex fix` while one runs with a link to the running one", async () => {
    routes();
    const app = await sc.start([hang()]);
    await deliver(app.url, "issue_comment", comment("@codex fix", { commentId: 9001 }));
    for (let i = 0; i < 200 && sc.mock!.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(sc.mock!.requests).toHaveLength(1);

    const second = await deliver(app.url, "issue_comment", comment("@codex fix please", { commentId: 9002, user: "other-maintainer" }));
    expect(second.status).toBe(200);
    const reply = replies();
    expect(reply).toHaveLength(1);
    expect(reply[0]).toContain("@other-maintainer a fix run for this pull request is already in progress");
    expect(reply[0]).toContain("(https://github.com/octo/demo/pull/7#issuecomment-9001)");
    // The second request never reached the agent.
    expect(sc.mock!.requests).toHaveLength(1);
    expect(pullsCreated).toBe(0);
  });

  it("`@codex fix` in the thread of a finding fixes that one and answers in the thread", async () => {
    routes({ findings: [] });
    sc.gh.on("GET", sc.gh.repoPath("/pulls/comments/555"), () => [200, BOT_FINDING]);
    sc.gh.on("POST", sc.gh.repoPath("/pulls/comments/(\\d+)/reactions"), () => [201, { id: 1, content: "eyes" }]);
    sc.gh.on("POST", sc.gh.repoPath("/pulls/7/comments/(\\d+)/replies"), (m) => [201, { id: 2, html_url: `${FINDING_URL}-reply-${m[1]}` }]);
    const app = await sc.start(editThen(GUARD_PATCH));
    const pr = pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha });
    const user = { login: "maintainer", type: "User" };
    await deliver(app.url, "pull_request_review_comment", {
      action: "created",
      comment: { id: 556, in_reply_to_id: 555, body: "@codex fix", user, path: "src/math.js", line: 6, html_url: `${FINDING_URL}-556` },
      pull_request: pr.pull_request,
      repository: repositoryPayload(sc.repo),
      installation: { id: 77 },
      sender: user,
    });
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.bodies("POST", /\/pulls\/comments\/556\/reactions$/)).toEqual([{ content: "eyes" }]);
    expect(JSON.stringify(sc.mock!.requests[0]!.body.input)).toContain("Guard against division by zero");
    const created = sc.gh.bodies<{ base: string; head: string; body: string }>("POST", /\/pulls$/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ base: "feature", head: `codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}` });
    expect(created[0]!.body).toContain(FINDING_URL);
    // Replies go to the thread's first comment: GitHub refuses replies to replies.
    const threadReplies = sc.gh.bodies<{ body: string }>("POST", /\/pulls\/7\/comments\/555\/replies$/);
    expect(threadReplies).toHaveLength(1);
    expect(threadReplies[0]!.body).toContain("I opened #8");
    expect(replies()).toEqual([]);
  });

  it("`@codex tests` adds test files; a push during the run is reported with the SHA it was made against", async () => {
    // While codex runs, the author pushes again (a change elsewhere): the fix still merges cleanly.
    let newHead = "";
    routes({
      pullAfterRun: () => {
        newHead ||= (() => {
          sc.origin.commit("docs", { "README.md": "# demo\n\nMore docs.\n" });
          sc.origin.publishPull(7, "feature");
          return sc.origin.sha("HEAD");
        })();
        return pullRequestPayload("synchronize", sc.repo, { number: 7, headSha: newHead, baseSha: sc.baseSha }).pull_request;
      },
    });
    const testFile = 'import { divide } from "../src/math.js";\n\ntest("divide", () => {\n  expect(divide(6, 3)).toBe(2);\n});\n';
    const app = await sc.start(
      editThen(`*** Begin Patch\n*** Add File: test/math.test.js\n${testFile.replace(/^/gm, "+").replace(/\+$/, "")}*** End Patch\n`, "Added test/math.test.js."),
    );
    await deliver(app.url, "issue_comment", comment("@codex tests"));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(JSON.stringify(sc.mock!.requests[0]!.body.input)).toMatch(/Write tests for the code this pull request adds or changes/);
    const branch = `codex-pr-bot/tests/7-${sc.headSha.slice(0, 7)}`;
    const bare = sc.origin.bare;
    expect(git(bare, "--git-dir", bare, "show", `${branch}:test/math.test.js`)).toBe(testFile.trimEnd());
    expect(git(bare, "--git-dir", bare, "rev-parse", `${branch}^`)).toBe(sc.headSha);
    const created = sc.gh.bodies<{ base: string; head: string; title: string; body: string }>("POST", /\/pulls$/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ base: "feature", head: branch, title: "Add tests for the changes (#7)" });
    expect(created[0]!.body).toContain(`Made against an older head.** This fix was made against [\`${sc.headSha.slice(0, 7)}\`]`);
    expect(created[0]!.body).toContain(`has moved to [\`${newHead.slice(0, 7)}\`]`);
    expect(created[0]!.body).toContain("It still merges cleanly into the new head.");
    expect(created[0]!.body).toMatch(/`test\/math\.test\.js` \| added \| \+5 −0/);
  });
});
