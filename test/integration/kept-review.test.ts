import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runsCommand } from "../../src/cli/runs.js";
import { execCommand, message } from "../helpers/mock-responses.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../helpers/webhooks.js";
import { reviewJson, scenario, type Scenario } from "./helpers.js";

/**
 * Issue 16.2: GitHub refuses the review for good (here: the installation lost its permission), so
 * the job ends reported (a failed check run titled "GitHub failed") and the composed review is kept
 * in the run store; `runs show` displays it; once GitHub takes writes again, `@codex review` posts
 * that review without running the agent again.
 */

describe("a review GitHub refused is kept and posted later (issue 16)", () => {
  let sc: Scenario;
  afterEach(async () => {
    await sc.close();
  });

  it("the check run says GitHub failed, runs show has the review, and @codex review posts it without the agent", async () => {
    sc = scenario("kept-review");
    sc.gh.defaults();
    let refuse = true;
    sc.gh.on("POST", sc.gh.repoPath("/pulls/7/reviews"), () =>
      refuse ? [403, { message: "Resource not accessible by integration" }] : [200, { id: 77, html_url: "https://github.com/octo/demo/pull/7#pullrequestreview-77" }],
    );
    const app = await sc.start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("cat src/math.js")));
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.mock!.requests[1]!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);
    const agentRequests = sc.mock!.requests.length;
    const refused = sc.gh.bodies<{ body: string; comments: unknown[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    const completion = sc.gh.bodies<{ status?: string; conclusion?: string; output?: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/).find((b) => b.status === "completed");
    expect(completion).toMatchObject({ conclusion: "failure", output: { title: "GitHub failed" } });
    expect(completion!.output!.summary).toContain("GitHub answered 403 to POST /repos/octo/demo/pulls/7/reviews");

    // `runs show` finds the run and prints the review it kept.
    const out: string[] = [];
    const io = {
      env: { DATABASE_PATH: path.join(sc.dataDir, "runs.sqlite") },
      cwd: sc.dataDir,
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
    };
    const runId = (await app.runs.list({ limit: 1 }))[0]!.id;
    expect(await runsCommand(["show", runId], io as never)).toBe(0);
    const shown = out.join("");
    expect(shown).toContain("Review kept, not posted");
    expect(shown).toContain("Guard against division by zero");

    // GitHub takes writes again: the command posts the kept review, and the agent is not asked again.
    refuse = false;
    await deliver(app.url, "issue_comment", issueCommentPayload(sc.repo, { number: 7, body: "@codex review" }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.mock!.requests.length).toBe(agentRequests);
    const posted = sc.gh.bodies<{ body: string }>("POST", /\/pulls\/7\/reviews$/).slice(refused.length);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body.replace(/\n<!-- codex-pr-bot:job:[^>]+ -->$/, "")).toBe(refused[0]!.body.replace(/\n<!-- codex-pr-bot:job:[^>]+ -->$/, ""));
    const last = sc.gh.bodies<{ status?: string; conclusion?: string; output?: { title: string } }>("PATCH", /\/check-runs\/\d+$/).filter((b) => b.status === "completed").at(-1);
    expect(last?.output?.title).toMatch(/posted from an earlier run/);
  });
});
