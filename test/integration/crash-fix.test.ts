import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { startAppProcess, INSTALLATION_ID, WEBHOOK_SECRET, type AppProcess } from "../../bench/lib/app-process.js";
import { GitHubStandIn } from "../../bench/lib/github-stand-in.js";
import { reviewJson } from "../../bench/lib/responses.js";
import { jobReviewMarker } from "../../src/github/reviews.js";
import { CHECK_NAMES } from "../../src/jobs/review.js";
import { createOrigin, type OriginRepo } from "../helpers/git-origin.js";
import { killApp } from "../helpers/kill.js";
import { applyPatch, message, startMockResponses, type MockResponses, type Turn } from "../helpers/mock-responses.js";
import { contractViolation } from "../helpers/openapi-contract.js";
import { waitFor } from "../helpers/queue-fixtures.js";
import { codexTemplate, readQueueJob, startStandIn } from "../helpers/real-app.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../helpers/webhooks.js";

/**
 * Issue 22, black-box, beside crash-takeover.test.ts: the real app in its own process, the real codex
 * binary against a scripted model, real git pushes to a bare origin, a stand-in GitHub. The app is
 * SIGKILLed at the worst moments of a `@codex fix` (its branch pushed and no PR yet; GitHub creating
 * the PR) and of a `@codex review` (GitHub creating the review), then started again on the same data. After the
 * restart: one fix branch, one fix PR, one reply; one review; every check run of the app on the head
 * completed, exactly one per job. And a review whose job the queue lost is completed by the start-up
 * sweep instead of spinning for ever.
 */

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
});

const PULLS_POST = "POST /repos/:o/:r/pulls";
const REVIEW_POST = "POST /repos/:o/:r/pulls/:n/reviews";
const COMMENT_POST = "POST /repos/:o/:r/issues/:n/comments";
const FIX_PATCH = "*** Begin Patch\n*** Update File: src/calc.js\n@@\n-  return a - b;\n+  return a + b;\n*** End Patch\n";
/** The model's fix: one apply_patch, then a summary once its output came back. */
const fixScript = (req: { hasToolOutput: boolean }): Turn => (req.hasToolOutput ? message("- add() adds again (src/calc.js:2).") : applyPatch(FIX_PATCH));

interface World {
  root: string;
  origin: OriginRepo;
  headSha: string;
  gh: GitHubStandIn;
  mock: MockResponses;
  dataDir: string;
  env: Record<string, string>;
  repo: { owner: string; name: string; cloneUrl: string };
}

/** A PR whose head breaks add(), a stand-in GitHub that knows it, and the model's script. */
async function world(name: string, script: (req: { hasToolOutput: boolean }) => Turn): Promise<World> {
  const root = makeTempDir(`crash-fix-${name}`);
  const origin = createOrigin(path.join(root, "git"), { "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n" });
  const baseSha = origin.sha("HEAD");
  origin.git("checkout", "-q", "-b", "feature");
  const headSha = origin.commit("subtract", { "src/calc.js": "export function add(a, b) {\n  return a - b;\n}\n" });
  origin.publishPull(1, "feature");

  const mock = await startMockResponses((req) => script(req));
  opened.push(mock);
  const gh = await startStandIn(opened);

  const dataDir = path.join(root, "data");
  const template = codexTemplate(dataDir, mock.url);
  const repo = { owner: "octo", name: "crash", cloneUrl: `file://${origin.bare}` };
  const pull = pullRequestPayload("opened", repo, { number: 1, headSha, baseSha, headRef: "feature" }, INSTALLATION_ID).pull_request;
  gh.setPull("octo", "crash", 1, { ...pull, state: "open" });
  return { root, origin, headSha, gh, mock, dataDir, env: { CODEX_HOME_TEMPLATE: template, WORKER_CONCURRENCY: "1" }, repo };
}

async function start(w: World): Promise<AppProcess> {
  const app = await startAppProcess({ dataDir: w.dataDir, githubUrl: w.gh.url, env: w.env });
  opened.push({ close: () => app.stop(5_000) });
  return app;
}

/** Delivers the comment, kills the app once GitHub holds `route`'s request (it took effect), restarts it. */
async function killWhileGitHubAnswers(w: World, body: string, route: string): Promise<{ deliveryId: string }> {
  w.gh.hold(route);
  const first = await start(w);
  const d = await deliver(first.url, "issue_comment", issueCommentPayload(w.repo, { number: 1, body }, INSTALLATION_ID), { secret: WEBHOOK_SECRET });
  expect(d.status).toBe(200);
  await waitFor(() => w.gh.heldCount > 0, `the app to send ${route}`, 120_000);
  await killApp(first);
  w.gh.release();
  await start(w);
  return { deliveryId: d.deliveryId };
}

async function jobEnded(w: World, deliveryId: string): Promise<{ id: string; status: string }> {
  const file = path.join(w.dataDir, "codex-pr-bot.sqlite");
  let job = { id: "", status: "" };
  await waitFor(() => {
    const row = readQueueJob(file, deliveryId);
    if (!row || row.status === "pending" || row.status === "running") return false;
    job = row;
    return true;
  }, "the job to end after the restart", 180_000);
  return job;
}

/** Requests that break GitHub's REST contract (GraphQL is not REST: the stand-in does not speak it). */
function violations(gh: GitHubStandIn): string[] {
  return gh.calls
    .filter((c) => c.path !== "/graphql")
    .map((c) => contractViolation(c.method, c.path, c.body))
    .filter((v): v is string => v !== null);
}

function branches(bare: string, prefix: string): string[] {
  return execFileSync("git", ["--git-dir", bare, "for-each-ref", "--format=%(refname:short)", `refs/heads/${prefix}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

describe("a SIGKILL in the middle of a fix or a command's review (issue 22)", () => {
  it("`@codex fix`, killed after the push while GitHub opens the PR: the retry finds that PR, reports it once, and pushes no second branch", async () => {
    const w = await world("fix", fixScript);
    const { deliveryId } = await killWhileGitHubAnswers(w, "@codex fix make add() add", PULLS_POST);
    const modelCallsBeforeCrash = w.mock.requests.length;
    const branchesBeforeCrash = branches(w.origin.bare, "codex-pr-bot/");
    expect(branchesBeforeCrash).toEqual([`codex-pr-bot/fix/1-${w.headSha.slice(0, 7)}`]);

    const job = await jobEnded(w, deliveryId);
    expect(job.status).toBe("done");
    // The retry did not run the agent again, and pushed nothing.
    expect(w.mock.requests.length).toBe(modelCallsBeforeCrash);
    expect(branches(w.origin.bare, "codex-pr-bot/")).toEqual(branchesBeforeCrash);
    // One PR for that branch: the one GitHub created while the app died, found by its head.
    expect(w.gh.fixPulls.map((p) => ({ head: p.head.ref, base: p.base.ref, title: p.title }))).toEqual([
      { head: branchesBeforeCrash[0], base: "feature", title: "Fix: make add() add (#1)" },
    ]);
    expect(w.gh.calls.filter((c) => c.route === PULLS_POST)).toHaveLength(1);
    expect(w.gh.calls.some((c) => c.route === "GET /repos/:o/:r/pulls")).toBe(true);
    const replies = w.gh.calls.filter((c) => c.route === COMMENT_POST).map((c) => (c.body as { body: string }).body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain(`@maintainer I opened #${w.gh.fixPulls[0]!.number} with a fix: ${w.gh.fixPulls[0]!.html_url}`);
    expect(replies[0]).toContain("1 file changed");
    expect([...w.gh.checkRuns.values()].filter((c) => c.status !== "completed")).toEqual([]);
    expect(violations(w.gh)).toEqual([]);
  }, 300_000);

  it("`@codex fix`, killed after the push and before the PR: the retry opens the PR for the pushed branch without running the agent again", async () => {
    const w = await world("push", fixScript);
    // The origin takes the push (its ref moves), then its hook keeps `git push` waiting: the app dies
    // with the branch on GitHub and no pull request, before its push even returned.
    writeFileSync(path.join(w.origin.bare, "hooks", "post-receive"), "#!/bin/sh\nsleep 20\n", { mode: 0o755 });
    w.gh.refs = (_repo, ref) => {
      try {
        return execFileSync("git", ["--git-dir", w.origin.bare, "rev-parse", "--verify", "--quiet", `refs/${ref}`], { encoding: "utf8" }).trim();
      } catch {
        return null;
      }
    };
    const first = await start(w);
    const d = await deliver(first.url, "issue_comment", issueCommentPayload(w.repo, { number: 1, body: "@codex fix make add() add" }, INSTALLATION_ID), {
      secret: WEBHOOK_SECRET,
    });
    expect(d.status).toBe(200);
    await waitFor(() => branches(w.origin.bare, "codex-pr-bot/").length > 0, "the fix branch to be pushed", 120_000);
    await killApp(first);
    const pushed = branches(w.origin.bare, "codex-pr-bot/");
    expect(pushed).toEqual([`codex-pr-bot/fix/1-${w.headSha.slice(0, 7)}`]);
    expect(w.gh.fixPulls).toEqual([]);
    const modelCallsBeforeCrash = w.mock.requests.length;

    await start(w);
    const job = await jobEnded(w, d.deliveryId);
    expect(job.status).toBe("done");
    expect(w.mock.requests.length).toBe(modelCallsBeforeCrash);
    expect(branches(w.origin.bare, "codex-pr-bot/")).toEqual(pushed);
    // The branch was looked up on GitHub (the push had not returned), then its PR opened with the first attempt's text.
    expect(w.gh.calls.some((c) => c.route === "GET /repos/:o/:r/git/ref/:ref" && c.status === 200)).toBe(true);
    expect(w.gh.fixPulls.map((p) => ({ head: p.head.ref, base: p.base.ref, title: p.title }))).toEqual([
      { head: pushed[0], base: "feature", title: "Fix: make add() add (#1)" },
    ]);
    expect(w.gh.fixPulls[0]!.body).toContain("Merging this pull request updates #1");
    const replies = w.gh.calls.filter((c) => c.route === COMMENT_POST).map((c) => (c.body as { body: string }).body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain(`@maintainer I opened #${w.gh.fixPulls[0]!.number} with a fix: ${w.gh.fixPulls[0]!.html_url}`);
    expect(violations(w.gh)).toEqual([]);
  }, 300_000);

  it("`@codex review`, killed while GitHub creates the review: the retry completes its check run and does not post the review again", async () => {
    const w = await world("review", () =>
      message(reviewJson([{ path: "src/calc.js", line: 2, anchor: "  return a - b;", title: "add subtracts", priority: 0 }])),
    );
    const { deliveryId } = await killWhileGitHubAnswers(w, "@codex review", REVIEW_POST);
    const beforeCrash = [...w.gh.checkRuns.values()].map((c) => ({ ...c }));
    expect(beforeCrash.map((c) => c.status)).toEqual(["in_progress"]);

    const job = await jobEnded(w, deliveryId);
    expect(job.status).toBe("done");
    await waitFor(() => [...w.gh.checkRuns.values()].every((c) => c.status === "completed"), "every check run to complete", 20_000).catch(() => undefined);
    const checks = [...w.gh.checkRuns.values()].filter((c) => c.head_sha === w.headSha);
    expect(checks.map((c) => ({ id: c.id, name: c.name, status: c.status, external_id: c.external_id }))).toEqual([
      { id: beforeCrash[0]!.id, name: CHECK_NAMES.review, status: "completed", external_id: job.id },
    ]);
    const reviews = w.gh.calls.filter((c) => c.route === REVIEW_POST);
    expect(reviews).toHaveLength(1);
    expect((reviews[0]!.body as { body: string }).body).toContain(jobReviewMarker(job.id));
    expect(checks[0]!.output?.summary).toContain("Open the review");
    expect(violations(w.gh)).toEqual([]);
  }, 300_000);

  it("a review whose job the queue lost while the app was down: the start-up sweep completes its check run as interrupted", async () => {
    const w = await world("lost", () => message(reviewJson([])));
    // Killed while the review is being posted; the queue then loses the job before the restart.
    w.gh.hold(REVIEW_POST);
    const first = await start(w);
    const d = await deliver(first.url, "issue_comment", issueCommentPayload(w.repo, { number: 1, body: "@codex review" }, INSTALLATION_ID), { secret: WEBHOOK_SECRET });
    expect(d.status).toBe(200);
    await waitFor(() => w.gh.heldCount > 0, "the review to be posted", 120_000);
    await killApp(first);
    w.gh.release();
    const db = new Database(path.join(w.dataDir, "codex-pr-bot.sqlite"));
    try {
      expect(db.prepare("DELETE FROM queue_jobs WHERE delivery_id = ?").run(d.deliveryId).changes).toBe(1);
    } finally {
      db.close();
    }
    await start(w);
    await waitFor(() => [...w.gh.checkRuns.values()].every((c) => c.status === "completed"), "the sweep to complete the check run", 60_000);
    const checks = [...w.gh.checkRuns.values()];
    expect(checks.map((c) => ({ status: c.status, conclusion: c.conclusion, title: c.output?.title }))).toEqual([
      { status: "completed", conclusion: "failure", title: "Interrupted" },
    ]);
    expect(checks[0]!.output?.summary).toMatch(/the job was lost when the app stopped and is no longer queued\. Comment `@codex review` on the pull request/);
    expect(w.gh.calls.filter((c) => c.route === REVIEW_POST)).toHaveLength(1);
    expect(violations(w.gh)).toEqual([]);
  }, 300_000);
});

