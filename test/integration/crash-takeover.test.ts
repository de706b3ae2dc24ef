import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startAppProcess, INSTALLATION_ID, WEBHOOK_SECRET } from "../../bench/lib/app-process.js";
import { reviewJson, startResponses } from "../../bench/lib/responses.js";
import { CHECK_NAMES } from "../../src/jobs/review.js";
import { createOrigin } from "../helpers/git-origin.js";
import { contractViolation } from "../helpers/openapi-contract.js";
import { waitFor } from "../helpers/queue-fixtures.js";
import { killApp } from "../helpers/kill.js";
import { codexTemplate, readQueueJob, startStandIn } from "../helpers/real-app.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, pullRequestPayload } from "../helpers/webhooks.js";

/**
 * Issue 22, black-box: the real app in its own process, the real codex binary against a scripted
 * model slowed down, a stand-in GitHub that remembers check runs. The app is SIGKILLed while the
 * model is thinking and started again on the same data. The job is retried; its check run must be the
 * one it created before the crash, taken over and completed, never a second one next to a first left
 * `in_progress` for ever (what the code before this test did). With no attempts left, the restarted
 * app completes that same check run as a failure that says why.
 */

const MODEL_DELAY_MS = 6_000;
const opened: { close(): Promise<void> }[] = [];

afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
});

const REVIEW_POST = "POST /repos/:o/:r/pulls/:n/reviews";

/** Where the app is killed: while the model thinks, or while GitHub answers the review's POST (it was posted). */
async function scenario(name: string, env: Record<string, string>, killAt: "model" | "review-post" = "model") {
  const root = makeTempDir(`crash-takeover-${name}`);
  const origin = createOrigin(path.join(root, "git"), { "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n" });
  const baseSha = origin.sha("HEAD");
  origin.git("checkout", "-q", "-b", "feature");
  const headSha = origin.commit("subtract", { "src/calc.js": "export function add(a, b) {\n  return a - b;\n}\n" });
  origin.publishPull(1, "feature");

  const mock = await startResponses(
    () => reviewJson([{ path: "src/calc.js", line: 2, anchor: "  return a - b;", title: "add subtracts", priority: 0 }]),
    { delayMs: MODEL_DELAY_MS },
  );
  opened.push(mock);
  const gh = await startStandIn(opened);

  const dataDir = path.join(root, "data");
  mkdirSync(dataDir, { recursive: true });
  const template = codexTemplate(dataDir, mock.url);
  const appEnv = { CODEX_HOME_TEMPLATE: template, WORKER_CONCURRENCY: "1", ...env };

  const repo = { owner: "octo", name: "crash", cloneUrl: `file://${origin.bare}` };
  const payload = pullRequestPayload("opened", repo, { number: 1, headSha, baseSha, headRef: "feature" }, INSTALLATION_ID);
  gh.setPull("octo", "crash", 1, { ...payload.pull_request, state: "open" });

  if (killAt === "review-post") gh.hold(REVIEW_POST);
  const first = await startAppProcess({ dataDir, githubUrl: gh.url, env: appEnv });
  opened.push({ close: () => first.stop(5_000) });
  const d = await deliver(first.url, "pull_request", payload, { secret: WEBHOOK_SECRET });
  expect(d.status).toBe(200);
  if (killAt === "model") {
    // The check run exists and codex is waiting on the model: the middle of the review.
    await waitFor(() => gh.checkRuns.size > 0 && mock.requests.length > 0, "the review to reach the model", 60_000);
  } else {
    await waitFor(() => gh.heldCount > 0, "the review to be posted", 90_000);
  }
  await killApp(first);
  gh.release();
  const createdBeforeCrash = [...gh.checkRuns.values()].map((c) => ({ ...c }));
  expect(createdBeforeCrash).toHaveLength(1);
  expect(createdBeforeCrash[0]!.status).toBe("in_progress");

  const second = await startAppProcess({ dataDir, githubUrl: gh.url, env: appEnv });
  opened.push({ close: () => second.stop(5_000) });
  const file = path.join(dataDir, "codex-pr-bot.sqlite");
  let job: { id: string; status: string } = { id: "", status: "" };
  await waitFor(() => {
    const row = readQueueJob(file, d.deliveryId);
    if (!row || row.status === "pending" || row.status === "running") return false;
    job = row;
    return true;
  }, "the job to end after the restart", 120_000);
  // Whatever completes a check run happens before the queue records the job's end; give the
  // abandoned report (sent from recovery, not the worker) a moment too.
  await waitFor(() => [...gh.checkRuns.values()].every((c) => c.status === "completed"), "every check run to complete", 20_000).catch(() => undefined);

  const checks = [...gh.checkRuns.values()].filter((c) => c.head_sha === headSha);
  const reviews = gh.calls.filter((c) => c.route === REVIEW_POST);
  const violations = gh.calls.map((c) => contractViolation(c.method, c.path, c.body)).filter((v): v is string => v !== null);
  return { job, checks, reviews, violations, createdBeforeCrash, log: second.logFile };
}

describe("a SIGKILL in the middle of a review (issue 22)", () => {
  it("the retried job takes over the check run it created: one check run, completed, one review", async () => {
    const r = await scenario("retry", {});
    expect(r.job.status).toBe("done");
    expect(r.checks.map((c) => ({ name: c.name, status: c.status, external_id: c.external_id }))).toEqual([
      { name: CHECK_NAMES.review, status: "completed", external_id: r.job.id },
    ]);
    expect(r.checks[0]!.id).toBe(r.createdBeforeCrash[0]!.id);
    expect(r.checks[0]!.conclusion).toBe("neutral");
    expect(r.checks[0]!.output?.title).toMatch(/1 finding/);
    expect(r.reviews).toHaveLength(1);
    expect(r.violations).toEqual([]);
  }, 240_000);

  it("killed while GitHub answers the review's POST: the retry completes the same check run and posts no second review", async () => {
    const r = await scenario("posting", {}, "review-post");
    expect(r.job.status).toBe("done");
    expect(r.checks.map((c) => ({ status: c.status, conclusion: c.conclusion, external_id: c.external_id }))).toEqual([
      { status: "completed", conclusion: "neutral", external_id: r.job.id },
    ]);
    expect(r.checks[0]!.id).toBe(r.createdBeforeCrash[0]!.id);
    expect(r.reviews).toHaveLength(1);
    expect(r.violations).toEqual([]);
  }, 240_000);

  it("with no attempt left, the restarted app completes that check run as a failure saying why", async () => {
    const r = await scenario("abandoned", { MAX_JOB_ATTEMPTS: "1" });
    expect(r.job.status).not.toBe("done");
    expect(r.checks.map((c) => ({ status: c.status, conclusion: c.conclusion, title: c.output?.title }))).toEqual([
      { status: "completed", conclusion: "failure", title: "Interrupted" },
    ]);
    expect(r.checks[0]!.output?.summary).toMatch(/will not retry: The job was interrupted 1 time \(the process running it stopped\) and will not be retried\. Ask again/);
    expect(r.reviews).toHaveLength(0);
    expect(r.violations).toEqual([]);
  }, 240_000);
});

