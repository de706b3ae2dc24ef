import { readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningApp } from "../helpers/app-server.js";
import { INSTALLATION_TOKEN, type FakeGitHub } from "../helpers/fake-github.js";
import { execCommand, message, type MockResponses, type Script } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload, type RepoFixture } from "../helpers/webhooks.js";
import { HEAD_FILE, reviewJson, scenario, type Scenario } from "./helpers.js";

describe("automatic review over real HTTP, git and codex", () => {
  let sc: Scenario;
  let gh: FakeGitHub;
  let mock: MockResponses;
  let app: RunningApp;
  let repo: RepoFixture;
  let baseSha: string;
  let headSha: string;
  let dataDir: string;

  beforeEach(() => {
    sc = scenario("review-flow");
    ({ gh, repo, baseSha, headSha, dataDir } = sc);
  });

  afterEach(async () => {
    await sc.close();
  });

  async function start(script: Script, settings: Parameters<Scenario["start"]>[1] = {}) {
    app = await sc.start(script, settings);
    mock = sc.mock!;
  }

  it("posts one review with exact inline positions, a suggestion, and a completed check run", async () => {
    gh.defaults();
    await start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("cat src/math.js")));

    const delivery = await deliver(app.url, "pull_request", pullRequestPayload("opened", repo, { number: 7, headSha, baseSha }));
    expect(delivery.status).toBe(200);
    await app.queue.idle();

    expect(gh.unexpected).toEqual([]);
    // Six API requests per review whatever the number of findings (the token mint aside): config,
    // check-run create, earlier reviews (dedupe), head re-check, the review, check-run completion.
    expect(gh.calls.filter((c) => !/access_tokens$/.test(c.path)).map((c) => `${c.method} ${c.path.split("?")[0]}`)).toEqual([
      "GET /repos/octo/demo/contents/.github%2Fcodex-pr-bot.yml",
      "POST /repos/octo/demo/check-runs",
      "GET /repos/octo/demo/pulls/7/reviews",
      "GET /repos/octo/demo/pulls/7",
      "POST /repos/octo/demo/pulls/7/reviews",
      "PATCH /repos/octo/demo/check-runs/1000",
    ]);
    // The agent really ran a sandboxed command: its output (exit code 0) came back to the model.
    expect(mock.requests.length).toBe(2);
    const toolOutput = mock.requests[1]!.toolOutputs.join("\n");
    expect(toolOutput).toMatch(/Process exited with code 0/);
    expect(toolOutput).toContain("return a / b;");
    // The prompt carried the SHAs and the changed file, and the path filter dropped the lockfile.
    const prompt = JSON.stringify(mock.requests[0]!.body.input);
    expect(prompt).toContain(baseSha);
    expect(prompt).toContain(headSha);
    expect(prompt).toContain("src/math.js");
    // The agent never saw the installation token.
    expect(JSON.stringify(mock.requests)).not.toContain(INSTALLATION_TOKEN);

    const created = gh.bodies("POST", /\/check-runs$/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ name: "codex-pr-bot / review", head_sha: headSha, status: "in_progress" });

    const reviews = gh.bodies<{ commit_id: string; event: string; body: string; comments: Record<string, unknown>[] }>(
      "POST",
      /\/pulls\/7\/reviews$/,
    );
    expect(reviews).toHaveLength(1);
    const review = reviews[0]!;
    expect(review.commit_id).toBe(headSha);
    expect(review.event).toBe("COMMENT");
    // min_severity P2 (default): the P3 finding is not posted; README.md is outside the diff.
    expect(review.comments).toHaveLength(1);
    const comment = review.comments[0]!;
    expect(comment).toMatchObject({ path: "src/math.js", line: 6, side: "RIGHT" });
    expect(comment).not.toHaveProperty("start_line");
    expect(comment.body).toContain("Guard against division by zero");
    expect(comment.body).toContain("```suggestion");
    expect(comment.body).toContain('if (b === 0) throw new RangeError("division by zero");');
    expect(comment.body).toMatch(/<!-- codex-pr-bot:fp:[0-9a-f]{16} -->/);
    expect(review.body).toContain("Config default looks wrong");
    expect(review.body).toContain(`https://github.com/octo/demo/blob/${headSha}/README.md#L1`);

    const updates = gh.bodies<{ status?: string; conclusion?: string; output?: { title: string; summary: string; annotations?: unknown[] } }>(
      "PATCH",
      /\/check-runs\/\d+$/,
    );
    const final = updates.at(-1)!;
    expect(final.status).toBe("completed");
    expect(final.conclusion).toBe("neutral");
    expect(final.output?.summary).toMatch(/P1/);
    expect(final.output?.annotations).toHaveLength(2);

    // The workspace is handed back clean and the per-job CODEX_HOME is gone.
    expect(readdirSync(path.join(dataDir, "codex-homes"))).toEqual([]);

    // The run history has the run, its phases and links, and the agent's own event log, which
    // proves the sandboxed command really completed with exit code 0.
    const [summary] = app.runs.list();
    expect(summary).toMatchObject({ status: "succeeded", mode: "review", headSha, baseSha, findings: 2, prNumber: 7 });
    expect(Object.keys(summary!.phases).sort()).toEqual(["agent", "checkout", "publish", "queue"]);
    expect(summary!.links.review).toMatch(/#pullrequestreview-\d+$/);
    expect(summary!.links.checkRun).toMatch(/\/runs\/\d+$/);
    const events = app.runs.get(summary!.id)!.events.map((line) => JSON.parse(line) as { type: string; item?: Record<string, unknown> });
    const commands = events.filter((e) => e.type === "item.completed" && e.item?.type === "command_execution");
    expect(commands).toHaveLength(1);
    expect(commands[0]!.item).toMatchObject({ command: "/bin/bash -lc 'cat src/math.js'", exit_code: 0, status: "completed" });
  });

  it("does not repeat a finding on the next push even when its line moved", async () => {
    gh.defaults();
    let pass = 0;
    await start((req) => {
      if (!req.hasToolOutput) return execCommand("cat src/math.js");
      pass++;
      // On the second push the same finding sits two lines lower.
      const shifted = pass === 1 ? reviewJson(null) : reviewJson(null).replace('"start":6,"end":6', '"start":8,"end":8');
      return message(shifted);
    });

    await deliver(app.url, "pull_request", pullRequestPayload("opened", repo, { number: 7, headSha, baseSha }));
    await app.queue.idle();
    const first = gh.bodies<{ comments: { body: string }[]; body: string }>("POST", /\/pulls\/7\/reviews$/)[0]!;

    // GitHub now lists the bot's review: its body carries the fingerprints of every finding it
    // posted, inline ones included, so the review list alone is enough to dedupe.
    gh.on("GET", gh.repoPath("/pulls/7/reviews"), () => [200, [{ body: first.body, user: { login: "codex-pr-bot[bot]", type: "Bot" } }]]);

    const newHead = sc.origin.commit("move divide down", { "src/math.js": `// header\n\n${HEAD_FILE}` });
    sc.origin.publishPull(7, "feature");
    sc.headSha = newHead;
    await deliver(app.url, "pull_request", pullRequestPayload("synchronize", repo, { number: 7, headSha: newHead, baseSha }));
    await app.queue.idle();

    expect(gh.unexpected).toEqual([]);
    // Nothing new: the automatic run stays quiet, and the check run says why.
    expect(gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    const final = gh.bodies<{ conclusion?: string; output?: { summary: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)!;
    expect(final.output?.summary).toMatch(/already posted|duplicate/i);
  });

  it("fails the check run quoting the exact problem when the repository config is invalid", async () => {
    gh.defaults({ config: "review:\n  max_inline_comments: 500\n  colour: blue\n" });
    await start([message(reviewJson(null))]);

    await deliver(app.url, "pull_request", pullRequestPayload("opened", repo, { number: 7, headSha, baseSha }));
    await app.queue.idle();

    expect(gh.unexpected).toEqual([]);
    expect(mock.requests).toHaveLength(0);
    expect(gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(0);
    const created = gh.bodies<{ status: string; conclusion: string; output: { summary: string } }>("POST", /\/check-runs$/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(created[0]!.output.summary).toContain("max_inline_comments");
    expect(created[0]!.output.summary).toContain("colour");
  });

  it("skips drafts by default without touching the API beyond the config", async () => {
    gh.defaults();
    await start([message(reviewJson(null))]);
    await deliver(app.url, "pull_request", pullRequestPayload("opened", repo, { number: 7, headSha, baseSha, draft: true }));
    await app.queue.idle();
    expect(gh.unexpected).toEqual([]);
    expect(mock.requests).toHaveLength(0);
    expect(gh.find("POST", /\/check-runs$/)).toHaveLength(0);
  });

  it("shows live progress on the in-progress check run while codex works", async () => {
    gh.defaults();
    await start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("sleep 1.5; echo scanned")), {
      progressIntervalMs: 250,
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", repo, { number: 7, headSha, baseSha }));
    await app.queue.idle();

    expect(gh.unexpected).toEqual([]);
    const updates = gh.bodies<{ status?: string; output: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/);
    const live = updates.filter((u) => u.status === undefined);
    expect(live.length).toBeGreaterThan(0);
    expect(live[0]!.output.title).toMatch(/^Codex is reviewing… \(\d+s\)$/);
    expect(live.some((u) => u.output.summary.includes("Running now: `/bin/bash -lc 'sleep 1.5; echo scanned'`"))).toBe(true);
    // The final update comes last: a late progress update never overwrites the result.
    expect(updates.at(-1)!.status).toBe("completed");
  });

  it("does not comment on stale lines when the PR moved during the review: the check run keeps the findings", async () => {
    gh.defaults();
    await start((req) => {
      if (!req.hasToolOutput) return execCommand("cat src/math.js");
      sc.headSha = "f".repeat(40); // someone pushed while codex was working
      return message(reviewJson(null));
    });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", repo, { number: 7, headSha, baseSha }));
    await app.queue.idle();

    expect(gh.unexpected).toEqual([]);
    expect(gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(0);
    const final = gh.bodies<{ conclusion: string; output: { title: string; summary: string; annotations: unknown[] } }>(
      "PATCH",
      /\/check-runs\/\d+$/,
    ).at(-1)!;
    expect(final.conclusion).toBe("neutral");
    expect(final.output.title).toBe("Outdated: the pull request moved to fffffff during the review");
    expect(final.output.summary).toContain("finished after the pull request moved to `ffffffffffff`");
    // The findings stay on the check run of the reviewed commit, where their lines are right.
    expect(final.output.annotations).toHaveLength(2);
    // Nothing reached the pull request: the run is not a reviewed head the next push's incremental review starts from.
    const run = (await app.runs.list({ limit: 1 }))[0]!;
    expect(run.status).toBe("cancelled");
    expect(run.error).toMatch(/^outdated: the pull request moved to fffffff/);
    expect(app.runs.lastReviewed("octo/demo", 7, "another-job")).toBeNull();
  });
});
