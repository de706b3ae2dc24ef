import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { startAppProcess, INSTALLATION_ID, WEBHOOK_SECRET } from "../../bench/lib/app-process.js";
import { percentile, wallMs } from "../../bench/lib/common.js";
import type { StandInCall, StandInCheckRun } from "../../bench/lib/github-stand-in.js";
import { reviewJson, startResponses } from "../../bench/lib/responses.js";
import { CHECK_NAMES } from "../../src/jobs/review.js";
import { createOrigin } from "../helpers/git-origin.js";
import { contractViolation } from "../helpers/openapi-contract.js";
import { waitFor } from "../helpers/queue-fixtures.js";
import { codexTemplate, startStandIn } from "../helpers/real-app.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../helpers/webhooks.js";

/**
 * Issue 23, black-box: the real app in its own process (WORKER_CONCURRENCY=2, the embedded queue),
 * the real codex binary against a scripted model slowed down, a stand-in GitHub. Two slow reviews
 * occupy both workers; then pull requests are opened 1.5 s apart and a maintainer comments
 * `@codex audit` on another. Each pull request must show a `queued` check run within 1 s (p95) of
 * its delivery and the command its 👀 within 1 s, although no worker is free for seconds; and each
 * job must later complete exactly that check run: one check run per job on its head, taken over
 * (queued → in_progress → completed), none left queued or in progress.
 */

/** Model time of every review: long enough that the first two hold both workers through the deliveries. */
const MODEL_DELAY_MS = 10_000;
const SPACING_MS = 1_500;
const opened: { close(): Promise<void> }[] = [];

afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
});

const CHECK_RUNS = "POST /repos/:o/:r/check-runs";
const REACTIONS = "POST /repos/:o/:r/issues/comments/:id/reactions";

describe("first signals while every worker is busy (issue 23)", () => {
  it("each pull request gets a queued check run within 1 s, the command its 👀, and each job completes exactly that check run", async () => {
    const root = makeTempDir("first-signal");
    const origin = createOrigin(path.join(root, "git"), { "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n" });
    const baseSha = origin.sha("HEAD");
    const repo = { owner: "octo", name: "busy", cloneUrl: `file://${origin.bare}` };

    // Pull requests 1..7, each its own branch and head.
    const heads = new Map<number, string>();
    for (let n = 1; n <= 7; n++) {
      origin.git("checkout", "-q", "-B", `feature-${n}`, baseSha);
      heads.set(n, origin.commit(`change ${n}`, { "src/calc.js": `export function add(a, b) {\n  return a - b + ${n};\n}\n` }));
      origin.publishPull(n, `feature-${n}`);
    }

    const mock = await startResponses(
      () => reviewJson([{ path: "src/calc.js", line: 2, anchor: "  return a - b", title: "add subtracts", priority: 1 }]),
      { delayMs: MODEL_DELAY_MS },
    );
    opened.push(mock);
    const gh = await startStandIn(opened);

    const dataDir = path.join(root, "data");
    const template = codexTemplate(dataDir, mock.url);
    const app = await startAppProcess({ dataDir, githubUrl: gh.url, env: { CODEX_HOME_TEMPLATE: template, WORKER_CONCURRENCY: "2" } });
    opened.push({ close: () => app.stop(10_000) });

    const payloadOf = (n: number) =>
      pullRequestPayload("opened", repo, { number: n, headSha: heads.get(n)!, baseSha, headRef: `feature-${n}` }, INSTALLATION_ID);
    for (let n = 1; n <= 7; n++) gh.setPull("octo", "busy", n, { ...payloadOf(n).pull_request, state: "open" });

    // Both workers busy: their reviews are with the model.
    for (const n of [1, 2]) expect((await deliver(app.url, "pull_request", payloadOf(n), { secret: WEBHOOK_SECRET })).status).toBe(200);
    await waitFor(() => mock.requests.length >= 2, "both workers to be with the model", 60_000);

    // Four pull requests and one command, 1.5 s apart.
    const COMMENT_ID = 555_001;
    const plan: ({ kind: "pr"; n: number } | { kind: "command"; n: number })[] = [
      { kind: "pr", n: 3 },
      { kind: "pr", n: 4 },
      { kind: "command", n: 7 },
      { kind: "pr", n: 5 },
      { kind: "pr", n: 6 },
    ];
    const sent: { kind: "pr" | "command"; n: number; at: number; deliveryId: string; ackMs: number }[] = [];
    for (const [i, d] of plan.entries()) {
      if (i > 0) await new Promise((r) => setTimeout(r, SPACING_MS));
      const at = wallMs();
      const r =
        d.kind === "pr"
          ? await deliver(app.url, "pull_request", payloadOf(d.n), { secret: WEBHOOK_SECRET })
          : await deliver(app.url, "issue_comment", issueCommentPayload(repo, { number: d.n, body: "@codex audit", commentId: COMMENT_ID }, INSTALLATION_ID), {
              secret: WEBHOOK_SECRET,
            });
      expect(r.status).toBe(200);
      sent.push({ ...d, at, deliveryId: r.deliveryId, ackMs: r.ms });
    }
    // The workers were busy the whole time: only the two first reviews had reached the model.
    expect(mock.requests.length).toBe(2);

    const firstCreate = (head: string): StandInCall | undefined =>
      gh.calls.find((c) => c.route === CHECK_RUNS && (c.body as { head_sha?: string }).head_sha === head);
    await waitFor(() => sent.every((s) => firstCreate(heads.get(s.n)!) !== undefined), "a check run for every delivery", 15_000);
    await waitFor(() => gh.calls.some((c) => c.route === REACTIONS), "the 👀", 15_000);
    const checkRunMs = sent.filter((s) => s.kind === "pr").map((s) => firstCreate(heads.get(s.n)!)!.at - s.at);
    const firstCreates = sent.map((s) => firstCreate(heads.get(s.n)!)!.body as { status: string; name: string });
    const eyes = gh.calls.filter((c) => c.route === REACTIONS);
    const command = sent.find((s) => s.kind === "command")!;
    const eyesMs = eyes[0]!.at - command.at;
    // The command's check run comes a paced second after its 👀 (one write a second per installation).
    const commandCheckRunMs = firstCreate(heads.get(command.n)!)!.at - command.at;
    const figures = {
      checkRun: { p50: Math.round(percentile(checkRunMs, 50)), p95: Math.round(percentile(checkRunMs, 95)), all: checkRunMs.map(Math.round) },
      eyesMs: Math.round(eyesMs),
      commandCheckRunMs: Math.round(commandCheckRunMs),
      ackMs: sent.map((s) => Math.round(s.ackMs)),
    };
    console.log(`first signals with both workers busy: ${JSON.stringify(figures)}`);
    expect(firstCreates.map((c) => c.status)).toEqual(sent.map(() => "queued"));
    expect(firstCreates.find((_, i) => sent[i]!.kind === "command")!.name).toBe(CHECK_NAMES.audit);
    expect(figures.checkRun.p95).toBeLessThanOrEqual(1_000);
    expect(eyesMs).toBeLessThanOrEqual(1_000);
    expect(commandCheckRunMs).toBeLessThanOrEqual(2_500);

    // Every job ends; each completed the one check run it had from the start.
    const file = path.join(dataDir, "codex-pr-bot.sqlite");
    await waitFor(() => jobsDone(file) === 7, "all seven jobs to end", 180_000);
    await waitFor(() => [...gh.checkRuns.values()].every((c) => c.status === "completed"), "every check run to complete", 20_000).catch(() => undefined);

    const jobs = jobRows(file);
    expect(jobs.map((j) => j.status)).toEqual(jobs.map(() => "done"));
    const all = [...gh.checkRuns.values()];
    for (const j of jobs) {
      const mine = all.filter((c) => c.external_id === j.id);
      const head = heads.get(j.pr)!;
      expect(mine.map((c) => ({ head: c.head_sha, status: c.status, conclusion: c.conclusion })), `PR #${j.pr}`).toEqual([
        { head, status: "completed", conclusion: "neutral" },
      ]);
    }
    // Nothing the app started is left spinning, and there is no check run that belongs to no job.
    expect(all.filter((c) => c.status !== "completed")).toEqual([]);
    expect(all.map((c) => c.external_id).sort()).toEqual(jobs.map((j) => j.id).sort());
    // The queued ones were taken over: queued (place updates) → in_progress → completed, never a second
    // create, and no place update after the worker took it.
    let placeUpdates = 0;
    for (const s of sent) {
      const run = all.find((c) => c.head_sha === heads.get(s.n)) as StandInCheckRun;
      const patches = gh.calls
        .filter((c) => c.route === "PATCH /repos/:o/:r/check-runs/:id" && c.path.endsWith(`/${run.id}`))
        .map((c) => c.body as { status?: string; output?: { title?: string } });
      const started = patches.findIndex((p) => p.status === "in_progress");
      const completed = patches.findIndex((p) => p.status === "completed");
      expect(started, `PR #${s.n}`).toBeGreaterThanOrEqual(0);
      expect(completed, `PR #${s.n}`).toBeGreaterThan(started);
      expect(patches.slice(0, started).every((p) => p.status === undefined && /^Queued/.test(p.output?.title ?? "")), `PR #${s.n}`).toBe(true);
      expect(patches.slice(started).some((p) => /^Queued/.test(p.output?.title ?? "")), `PR #${s.n}`).toBe(false);
      placeUpdates += started;
    }
    console.log(`place updates of queued check runs: ${placeUpdates}`);
    expect(gh.calls.filter((c) => c.route === CHECK_RUNS)).toHaveLength(7);
    expect(eyes).toHaveLength(1);
    // REST calls only: the stand-in speaks no GraphQL (review threads), which the review survives.
    const rest = gh.calls.filter((c) => c.path !== "/graphql");
    expect(rest.map((c) => contractViolation(c.method, c.path, c.body)).filter((v) => v !== null)).toEqual([]);
  }, 300_000);
});

function jobRows(file: string): { id: string; status: string; pr: number }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT id, status, pr_key FROM queue_jobs ORDER BY seq").all() as { id: string; status: string; pr_key: string }[]).map((r) => ({
      id: r.id,
      status: r.status,
      pr: Number(r.pr_key.split("#")[1]),
    }));
  } finally {
    db.close();
  }
}

function jobsDone(file: string): number {
  return jobRows(file).filter((j) => j.status !== "pending" && j.status !== "running").length;
}
