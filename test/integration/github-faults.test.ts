import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INSTALLATION_ID, startAppProcess, WEBHOOK_SECRET, type AppProcess } from "../../bench/lib/app-process.js";
import type { GitHubStandIn, StandInFault } from "../../bench/lib/github-stand-in.js";
import { reviewJson, startResponses } from "../../bench/lib/responses.js";
import { createOrigin } from "../helpers/git-origin.js";
import { contractViolation } from "../helpers/openapi-contract.js";
import { waitFor } from "../helpers/queue-fixtures.js";
import { codexTemplate, startStandIn } from "../helpers/real-app.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../helpers/webhooks.js";

/**
 * Issue 16, black-box: the real app in its own process, the real codex CLI against a scripted model,
 * and a stand-in GitHub that fails on cue. Every kind of request fails its first attempt the way
 * GitHub does (502 on reads; a review and a check run created whose answer is lost; 403 secondary
 * limits with retry-after on reactions and comments), and then GitHub is down for a minute in the
 * middle of a review. The bot must come out with exactly one review carrying the finding once, one
 * answer, every check run completed, and still be up.
 */

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
});

const QUESTION = "Does divide guard against zero? (fault-test)";
const ANSWER = "It does not: divide(1, 0) returns Infinity.";
const REVIEW_POST = "POST /repos/:o/:r/pulls/:n/reviews";
const ANSWER_POST = "POST /repos/:o/:r/issues/:n/comments";

async function scenario(name: string) {
  const root = makeTempDir(`github-faults-${name}`);
  const origin = createOrigin(path.join(root, "git"), { "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n" });
  const baseSha = origin.sha("HEAD");
  origin.git("checkout", "-q", "-b", "feature");
  const headSha = origin.commit("divide", {
    "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n\nexport function divide(a, b) {\n  return a / b;\n}\n",
  });
  origin.publishPull(1, "feature");

  let slowModel = false;
  const mock = await startResponses(
    (request) =>
      request.includes("fault-test")
        ? ANSWER
        : reviewJson([{ path: "src/calc.js", line: 6, anchor: "  return a / b;", title: "divide by zero", priority: 1 }]),
    { delayMs: () => (slowModel ? 4_000 : 0) },
  );
  opened.push(mock);
  const gh = await startStandIn(opened);

  const dataDir = path.join(root, "data");
  const template = codexTemplate(dataDir, mock.url);
  const repo = { owner: "octo", name: "faults", cloneUrl: `file://${origin.bare}` };
  const payload = pullRequestPayload("opened", repo, { number: 1, headSha, baseSha, headRef: "feature" }, INSTALLATION_ID);
  gh.setPull("octo", "faults", 1, { ...payload.pull_request, state: "open" });
  const app = await startAppProcess({
    dataDir,
    githubUrl: gh.url,
    env: { CODEX_HOME_TEMPLATE: template, WORKER_CONCURRENCY: "1", GITHUB_REQUEST_TIMEOUT_MS: "10000" },
  });
  opened.push({ close: () => app.stop(5_000) });
  return { gh, mock, app, repo, payload, headSha, dataDir, setSlowModel: (v: boolean) => (slowModel = v) };
}

/** The first attempt of every kind of request fails as GitHub's do. */
function firstAttemptFails(request: { method: string; route: string; attempt: number }): StandInFault | null {
  if (request.attempt !== 1 || request.route.includes("access_tokens")) return null;
  const limited = { status: 403, when: "before" as const, headers: { "retry-after": "1" } };
  if (request.route.includes("/reactions") || request.route === ANSWER_POST) return limited;
  // Created, and the answer lost: the bot must find them, not post them again.
  if (request.route === REVIEW_POST || request.route === "POST /repos/:o/:r/check-runs") return { status: 502, when: "after" };
  return { status: 502, when: "before" };
}

function summary(gh: GitHubStandIn, headSha: string) {
  const checks = [...gh.checkRuns.values()].filter((c) => c.head_sha === headSha);
  const reviews = gh.calls.filter((c) => c.route === REVIEW_POST && c.status < 300).length + gh.faultsInjected.filter((f) => f.route === REVIEW_POST && f.when === "after").length;
  return {
    reviewsOnGitHub: reviews,
    checkRuns: checks.map((c) => ({ name: c.name, status: c.status })),
    answers: (gh.issueComments.get("octo/faults#1") ?? []).filter((c) => c.body.includes(ANSWER)).length,
    violations: gh.calls.map((c) => contractViolation(c.method, c.path, c.body)).filter((v): v is string => v !== null),
  };
}

async function alive(app: AppProcess): Promise<boolean> {
  const res = await fetch(`${app.url}/ping`);
  await res.text();
  return res.ok;
}

describe("GitHub misbehaves, the bot doesn't (issue 16)", () => {
  it("every kind of request failing its first attempt: one review with the finding once, one answer, every check run completed", async () => {
    const s = await scenario("first-attempts");
    s.gh.injectFaults(firstAttemptFails);
    const review = await deliver(s.app.url, "pull_request", s.payload, { secret: WEBHOOK_SECRET });
    expect(review.status).toBe(200);
    await waitFor(() => [...s.gh.checkRuns.values()].some((c) => c.status === "completed"), "the review's check run to complete", 120_000);
    const ask = await deliver(s.app.url, "issue_comment", issueCommentPayload(s.repo, { number: 1, body: `@codex ask ${QUESTION}`, commentId: 4242 }, INSTALLATION_ID), {
      secret: WEBHOOK_SECRET,
    });
    expect(ask.status).toBe(200);
    await waitFor(() => (s.gh.issueComments.get("octo/faults#1") ?? []).some((c) => c.body.includes(ANSWER)), "the answer", 120_000);

    const r = summary(s.gh, s.headSha);
    const kinds = new Set(s.gh.faultsInjected.map((f) => `${f.route} ${f.status}`));
    // The faults really happened, on reads and writes alike.
    expect(kinds).toContain(`${REVIEW_POST} 502`);
    expect(kinds).toContain("POST /repos/:o/:r/check-runs 502");
    expect(kinds).toContain("PATCH /repos/:o/:r/check-runs/:id 502");
    expect(kinds).toContain(`${ANSWER_POST} 403`);
    expect(kinds).toContain("POST /repos/:o/:r/issues/comments/:id/reactions 403");
    expect(kinds).toContain("GET /repos/:o/:r/collaborators/:u/permission 502");
    expect(r.reviewsOnGitHub).toBe(1);
    const body = s.gh.calls.find((c) => c.route === REVIEW_POST)!.body as { body: string; comments: { body: string }[] };
    const mentions = [body.body, ...body.comments.map((c) => c.body)].join("\n").match(/divide by zero/g) ?? [];
    expect(mentions.length).toBeGreaterThanOrEqual(1);
    expect(body.comments.filter((c) => c.body.includes("divide by zero"))).toHaveLength(1);
    expect(r.checkRuns).toEqual([{ name: "codex-pr-bot / review", status: "completed" }]);
    expect(r.answers).toBe(1);
    expect(r.violations).toEqual([]);
    expect(await alive(s.app)).toBe(true);
    // What the figures in the closing note come from.
    console.info(`[github-faults] faults injected: ${s.gh.faultsInjected.length}; reviews on GitHub: ${r.reviewsOnGitHub}; check runs left open: ${r.checkRuns.filter((c) => c.status !== "completed").length}`);
  }, 300_000);

  it("GitHub down for a minute in the middle of a review: the job waits it out and finishes, nothing lost", async () => {
    const s = await scenario("outage");
    s.setSlowModel(true);
    const review = await deliver(s.app.url, "pull_request", s.payload, { secret: WEBHOOK_SECRET });
    expect(review.status).toBe(200);
    // The check run exists and codex is waiting on the model: GitHub goes away.
    await waitFor(() => s.gh.checkRuns.size > 0 && s.mock.requests.length > 0, "the review to reach the model", 120_000);
    const downFrom = Date.now();
    const OUTAGE_MS = 60_000;
    s.gh.injectFaults(() => (Date.now() - downFrom < OUTAGE_MS ? { status: 503, when: "before" } : null));
    await waitFor(() => [...s.gh.checkRuns.values()].every((c) => c.status === "completed"), "the check run to complete after the outage", 240_000);

    const r = summary(s.gh, s.headSha);
    expect(s.gh.faultsInjected.length).toBeGreaterThan(0);
    expect(r.reviewsOnGitHub).toBe(1);
    expect(r.checkRuns).toEqual([{ name: "codex-pr-bot / review", status: "completed" }]);
    const completed = [...s.gh.checkRuns.values()][0]!;
    expect(completed.conclusion).toBe("neutral");
    expect(completed.output?.title).toMatch(/1 finding/);
    // It finished after GitHub came back, not by giving up.
    expect(Date.now() - downFrom).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(r.violations).toEqual([]);
    expect(await alive(s.app)).toBe(true);
    const log = readFileSync(s.app.logFile, "utf8");
    expect(log).toMatch(/GitHub request failed: trying again/);
    console.info(`[github-faults] outage: ${s.gh.faultsInjected.length} requests refused during ${OUTAGE_MS / 1000} s; reviews on GitHub: ${r.reviewsOnGitHub}`);
  }, 360_000);
});
