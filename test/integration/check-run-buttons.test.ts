import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runningFixes } from "../../src/fix/registry.js";
import { applyPatch, message, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload, repositoryPayload } from "../helpers/webhooks.js";
import { reviewJson, scenario, type Scenario } from "./helpers.js";

/**
 * Issue 17.5: the buttons on the bot's completed review check run. A review's check run offers "Fix
 * findings" and "Re-review"; a maintainer's click on "Fix findings" (check_run.requested_action) runs
 * the same fix as `@codex fix` and opens a fix-up PR; a reader's click is refused like a reader's
 * command, and runs nothing.
 */

const GUARD_PATCH =
  '*** Begin Patch\n*** Update File: src/math.js\n@@\n-  return a / b;\n+  if (b === 0) throw new RangeError("division by zero");\n+  return a / b;\n*** End Patch\n';

const BOT_FINDING = {
  id: 555,
  user: { type: "Bot", login: "codex-pr-bot[bot]" },
  path: "src/math.js",
  line: 6,
  start_line: null,
  html_url: "https://github.com/octo/demo/pull/7#discussion_r555",
  body:
    "**<sub><sub>![P1 Badge](https://img.shields.io/badge/P1-orange?style=flat)</sub></sub>  Guard against division by zero**\n\n" +
    "`divide(1, 0)` returns `Infinity` instead of failing.\n\n<!-- codex-pr-bot:fp:0123456789abcdef -->",
};

function click(sc: Scenario, identifier: string, sender: string) {
  return {
    action: "requested_action",
    requested_action: { identifier },
    check_run: {
      id: 4711,
      name: "codex-pr-bot / review",
      head_sha: sc.headSha,
      html_url: "https://github.com/octo/demo/runs/4711",
      external_id: "job-of-the-review",
      status: "completed",
      pull_requests: [{ number: 7, head: { sha: sc.headSha, ref: "feature" }, base: { sha: sc.baseSha, ref: "main" } }],
    },
    repository: repositoryPayload(sc.repo),
    installation: { id: 77 },
    sender: { login: sender, type: "User" },
  };
}

describe("the check run's buttons (issue 17)", () => {
  let sc: Scenario;
  beforeEach(() => {
    runningFixes.clear();
    sc = scenario("buttons");
  });
  afterEach(async () => {
    await sc.close();
  });

  it("a review's completed check run offers Fix findings and Re-review", async () => {
    sc.gh.defaults();
    const app = await sc.start(() => message(reviewJson(null)));
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const completion = sc.gh.bodies<{ status?: string; actions?: { identifier: string; label: string }[] }>("PATCH", /\/check-runs\/\d+$/).find((b) => b.status === "completed");
    expect(completion?.actions?.map((a) => [a.identifier, a.label])).toEqual([
      ["fix", "Fix findings"],
      ["rereview", "Re-review"],
    ]);
  });

  it("a maintainer's click on Fix findings opens a fix-up PR for the open findings, and a second click is the same request", async () => {
    sc.gh.defaults();
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7/comments"), () => [200, [BOT_FINDING]]);
    let opened = 0;
    sc.gh.on("POST", sc.gh.repoPath("/pulls"), () => {
      opened++;
      return [201, { number: 8, html_url: "https://github.com/octo/demo/pull/8", draft: false }];
    });
    const app = await sc.start((req: MockRequest): Turn => (req.hasToolOutput ? message("- Guarded divide() (src/math.js:6).") : applyPatch(GUARD_PATCH)));
    const first = await deliver(app.url, "check_run", click(sc, "fix", "maintainer"));
    const second = await deliver(app.url, "check_run", click(sc, "fix", "maintainer"));
    expect([first.status, second.status]).toEqual([200, 200]);
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    // The agent really edited: its apply_patch came back with Success.
    expect(sc.mock!.requests.some((r) => r.toolOutputs.join("\n").includes("Success"))).toBe(true);
    expect(JSON.stringify(sc.mock!.requests[0]!.body.input)).toContain("Guard against division by zero");
    expect(opened).toBe(1);
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    // The second click meets the command gate's duplicate window, like a repeated command: one notice, no second run.
    expect(replies).toHaveLength(2);
    expect(replies[0]).toMatch(/^@maintainer you asked for the same command on this commit moments ago, so this one is ignored/);
    expect(replies[1]).toContain("@maintainer I opened #8 with a fix");
    // The fix has its own check run on the head, completed with the PR it opened.
    const created = sc.gh.bodies<{ name: string; head_sha: string; status: string }>("POST", /\/check-runs$/);
    expect(created).toEqual([expect.objectContaining({ name: "codex-pr-bot / fix", head_sha: sc.headSha, status: "in_progress" })]);
    const done = sc.gh.bodies<{ status?: string; conclusion?: string; output?: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/).find((b) => b.status === "completed");
    expect(done).toMatchObject({ conclusion: "success", output: { title: "Opened a pull request with a fix" } });
    expect(done!.output!.summary).toContain("https://github.com/octo/demo/pull/8");
  });

  it("a reader's click is refused like a reader's command: one answer, no agent run", async () => {
    sc.gh.defaults({ permission: "read" });
    const app = await sc.start(() => message("unused"));
    await deliver(app.url, "check_run", click(sc, "fix", "reader"));
    await deliver(app.url, "check_run", click(sc, "rereview", "reader"));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.mock!.requests).toHaveLength(0);
    const replies = sc.gh.bodies<{ body: string }>("POST", /\/issues\/7\/comments$/).map((b) => b.body);
    expect(replies).toEqual(["@reader sorry, only people with write access to this repository can run codex-pr-bot commands."]);
  });
});
