import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { JobContext } from "../../../src/jobs/context.js";
import { resumeAutoFix } from "../../../src/jobs/fix.js";
import { githubFixSink, resumePushedFix, type FixRequest } from "../../../src/jobs/fix-sink.js";
import { trackRun } from "../../../src/jobs/run-tracker.js";
import { RunStore } from "../../../src/store/runs.js";
import type { Job } from "../../../src/types.js";
import { makeTempDir } from "../../helpers/tmp.js";

/**
 * Issue 22, fix jobs: a retried fix whose earlier attempt pushed its branch opens (or finds) the PR
 * for that branch and reports it, from what the effect ledger kept, without running the agent again.
 */

const HEAD = "b".repeat(40);
const BRANCH = "codex-pr-bot/fix/7-bbbbbbb";
const log = pino({ level: "silent" });
const stores: RunStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

const job: Job = {
  id: "job-fix-1",
  deliveryId: "d",
  installationId: 1,
  repo: { owner: "octo", name: "demo", defaultBranch: "main", cloneUrl: "https://github.com/octo/demo.git", htmlUrl: "https://github.com/octo/demo" },
  prNumber: 7,
  mode: "fix",
  trigger: { kind: "command", commentId: 1, commentUrl: "https://github.com/octo/demo/pull/7#issuecomment-1", sender: "maintainer", executor: "codex" },
  instruction: "guard divide()",
  pull: null,
  enqueuedAt: 0,
};

const PENDING = {
  title: "Fix: guard divide() (#7)",
  body: "Merging this pull request updates #7.",
  base: "feature",
  draft: false,
  report: {
    mode: "fix",
    prNumber: 7,
    headRef: "feature",
    headSha: HEAD,
    repoHtmlUrl: "https://github.com/octo/demo",
    targets: [],
    instruction: "guard divide()",
    requestedBy: "maintainer",
    requestUrl: null,
    changes: [{ path: "src/math.js", status: "modified", additions: 1, deletions: 0 }],
    agentMessage: "done",
    verify: null,
    outdated: null,
    knownSecrets: [],
  },
};

interface World {
  ctx: JobContext;
  runs: RunStore;
  created: unknown[];
  listed: unknown[];
  replies: string[];
  refs: Map<string, string>;
  existing: { number: number; html_url: string; draft: boolean; head: { ref: string; repo: { full_name: string } } }[];
}

/** A second attempt of `job` (the first one began and died), over a real run store and ledger. */
function world(seed: (runs: RunStore) => void, j: Job = job): World {
  const runs = new RunStore(path.join(makeTempDir("fix-resume"), "runs.sqlite"));
  stores.push(runs);
  const first = trackRun(runs, j, log);
  first.begin();
  seed(runs);
  const run = trackRun(runs, j, log);
  run.begin();
  const w: World = { ctx: null as unknown as JobContext, runs, created: [], listed: [], replies: [], refs: new Map(), existing: [] };
  const octokit = {
    rest: {
      pulls: {
        list: async (p: unknown) => {
          w.listed.push(p);
          return { data: w.existing };
        },
        create: async (p: { head: string; draft: boolean }) => {
          w.created.push(p);
          return { data: { number: 9, html_url: "https://github.com/octo/demo/pull/9", draft: p.draft } };
        },
      },
      issues: {
        createComment: async (p: { body: string }) => {
          w.replies.push(p.body);
          return { data: { html_url: `https://github.com/octo/demo/pull/7#issuecomment-${100 + w.replies.length}` } };
        },
      },
      git: {
        getRef: async (p: { ref: string }) => {
          const sha = w.refs.get(p.ref);
          if (!sha) throw Object.assign(new Error("Not Found"), { status: 404 });
          return { data: { object: { sha } } };
        },
      },
    },
  };
  w.ctx = {
    job: j,
    deps: { runs },
    log,
    octokit,
    coords: { owner: "octo", repo: "demo" },
    pull: { headSha: HEAD, headRef: "feature", baseSha: "a".repeat(40), baseRef: "main", fromFork: false, isDraft: false, author: "alice", title: "t", body: "" },
    secrets: [],
    run,
  } as unknown as JobContext;
  return w;
}

const request = (w: World) => ({
  mode: "fix" as const,
  requestedBy: "maintainer",
  reply: async (body: string) => {
    w.replies.push(body);
    return `https://github.com/octo/demo/pull/7#issuecomment-${100 + w.replies.length}`;
  },
});

describe("resumePushedFix", () => {
  it("pushed, PR not opened: opens the PR for that branch with the text the first attempt wrote, and replies once", async () => {
    const w = world((runs) => {
      runs.effects.intend(job.id, "fix_pr", BRANCH, PENDING);
      runs.effects.intend(job.id, "fix_branch", BRANCH, { role: "fix" });
      runs.effects.created(job.id, "fix_branch", BRANCH, { githubId: "c".repeat(40) });
    });
    expect(w.ctx.run.attempt).toBe(2);
    const r = await resumePushedFix(w.ctx, request(w));
    expect(r?.result).toEqual({ status: "succeeded", links: { fixPr: "https://github.com/octo/demo/pull/9", comment: "https://github.com/octo/demo/pull/7#issuecomment-101" } });
    expect(w.listed).toEqual([{ owner: "octo", repo: "demo", head: `octo:${BRANCH}`, state: "all", per_page: 10 }]);
    expect(w.created).toHaveLength(1);
    expect(w.created[0]).toMatchObject({ head: BRANCH, base: "feature", title: PENDING.title, body: PENDING.body, draft: false });
    expect(w.replies).toHaveLength(1);
    expect(w.replies[0]).toContain("@maintainer I opened #9 with a fix: https://github.com/octo/demo/pull/9");
    expect(w.replies[0]).toContain("1 file changed, +1 −0. Merging it updates this pull request (branch `feature`).");
    expect(w.runs.effects.get(job.id, "fix_pr", BRANCH)).toMatchObject({ state: "created", githubId: "9", url: "https://github.com/octo/demo/pull/9" });
    expect(w.runs.effects.get(job.id, "reply", "")).toMatchObject({ state: "created" });

    // A third attempt (died after the reply) finds everything recorded: nothing is written again.
    const again = await resumePushedFix(w.ctx, request(w));
    expect(again?.result?.links?.fixPr).toBe("https://github.com/octo/demo/pull/9");
    expect(w.created).toHaveLength(1);
    expect(w.replies).toHaveLength(1);
  });

  it("the PR was opened but its answer lost: found by its head branch, not opened a second time", async () => {
    const w = world((runs) => {
      runs.effects.intend(job.id, "fix_pr", BRANCH, PENDING);
      runs.effects.intend(job.id, "fix_branch", BRANCH, { role: "fix" });
      runs.effects.created(job.id, "fix_branch", BRANCH, { githubId: "c".repeat(40) });
    });
    w.existing.push(
      { number: 5, html_url: "https://github.com/evil/demo/pull/5", draft: false, head: { ref: BRANCH, repo: { full_name: "evil/demo" } } },
      { number: 8, html_url: "https://github.com/octo/demo/pull/8", draft: false, head: { ref: BRANCH, repo: { full_name: "octo/demo" } } },
    );
    const r = await resumePushedFix(w.ctx, request(w));
    expect(r?.result?.links?.fixPr).toBe("https://github.com/octo/demo/pull/8");
    expect(w.created).toEqual([]);
    expect(w.replies).toHaveLength(1);
    expect(w.replies[0]).toContain("I opened #8");
  });

  it("a push that may not have reached GitHub: resumed when the branch exists, else the agent runs again", async () => {
    const seed = (runs: RunStore) => {
      runs.effects.intend(job.id, "fix_pr", BRANCH, PENDING);
      runs.effects.intend(job.id, "fix_branch", BRANCH, { role: "fix" });
    };
    const absent = world(seed);
    expect(await resumePushedFix(absent.ctx, request(absent))).toBeNull();
    expect(absent.created).toEqual([]);

    const pushed = world(seed);
    pushed.refs.set(`heads/${BRANCH}`, "d".repeat(40));
    const r = await resumePushedFix(pushed.ctx, request(pushed));
    expect(r?.result?.status).toBe("succeeded");
    expect(pushed.created).toHaveLength(1);
    expect(pushed.runs.effects.get(job.id, "fix_branch", BRANCH)).toMatchObject({ state: "created", githubId: "d".repeat(40) });
  });

  it("nothing pushed by an earlier attempt (or only the runner-up): null, the job runs as usual", async () => {
    const none = world(() => undefined);
    expect(await resumePushedFix(none.ctx, request(none))).toBeNull();
    const altOnly = world((runs) => runs.effects.created(job.id, "fix_branch", `${BRANCH}-alt`, { githubId: "e".repeat(40) }));
    expect(await resumePushedFix(altOnly.ctx, request(altOnly))).toBeNull();
    expect([...none.created, ...altOnly.created, ...none.replies, ...altOnly.replies]).toEqual([]);
  });

  it("a job carrying on one GitHub stopped (deferred): takes over the branch that one pushed", async () => {
    const carried: Job = { ...job, id: "job-fix-2", deliveryId: "resume:job-fix-1:1", resume: { of: job.id, checkRunId: null, deferrals: 1, reason: "GitHub's rate limit" } };
    const w = world((runs) => {
      runs.effects.intend(job.id, "fix_pr", BRANCH, PENDING);
      runs.effects.intend(job.id, "fix_branch", BRANCH, { role: "fix" });
      runs.effects.created(job.id, "fix_branch", BRANCH, { githubId: "c".repeat(40) });
    }, carried);
    const r = await resumePushedFix(w.ctx, request(w));
    expect(r?.result?.links?.fixPr).toBe("https://github.com/octo/demo/pull/9");
    expect(w.created).toHaveLength(1);
    expect(w.created[0]).toMatchObject({ head: BRANCH, title: PENDING.title });
    expect(w.runs.effects.get(carried.id, "fix_pr", BRANCH)).toMatchObject({ state: "created", githubId: "9" });
  });

  it("an automatic review's retry whose earlier attempt died in its automatic fix, after the push: the fix PR, linked from the run", async () => {
    const review: Job = { ...job, id: "job-review-1", mode: "review", trigger: { kind: "event", event: "pull_request", action: "synchronize", sender: "alice" }, instruction: null };
    const w = world((runs) => {
      runs.effects.intend(review.id, "fix_pr", BRANCH, { ...PENDING, report: { ...PENDING.report, requestedBy: null } });
      runs.effects.intend(review.id, "fix_branch", BRANCH, { role: "fix" });
      runs.effects.created(review.id, "fix_branch", BRANCH, { githubId: "c".repeat(40) });
    }, review);
    await resumeAutoFix(w.ctx);
    expect(w.created).toHaveLength(1);
    expect(w.replies).toHaveLength(1);
    expect(w.replies[0]).toMatch(/^I opened #9 with a fix: https:\/\/github\.com\/octo\/demo\/pull\/9/);
    expect(w.runs.byJob(review.id)?.links).toMatchObject({ fixPr: "https://github.com/octo/demo/pull/9" });

    // A command's review, or a first attempt, leaves it alone.
    const none = world(() => undefined, review);
    await resumeAutoFix(none.ctx);
    expect([...none.listed, ...none.created, ...none.replies]).toEqual([]);
  });

  it("a fork's patch, or any other last word, posted by an attempt that then died: the retry settles from it, posts nothing, runs nothing", async () => {
    // The first attempt, through the real sink: its answer ("no change") is recorded with the outcome it reports.
    const first = world(() => undefined);
    const req = { ...request(first), targets: [], instruction: "guard divide()" } as unknown as FixRequest;
    const sink = githubFixSink(first.ctx, req, Date.now());
    const spend = { usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 }, costUsd: null, model: null, commands: [] };
    const delivered = await sink.deliver({ kind: "unchanged", agent: "codex", agentMessage: "nothing to change" }, spend);
    expect(delivered.result).toMatchObject({ status: "succeeded", links: { comment: "https://github.com/octo/demo/pull/7#issuecomment-101" } });
    expect(first.runs.effects.get(job.id, "reply", "")).toMatchObject({ state: "created", detail: { reported: { status: "succeeded" } } });
    // The retry (the process died before the job settled): nothing posted, the same outcome.
    const again = await resumePushedFix(first.ctx, request(first));
    expect(again?.result).toEqual(delivered.result);
    expect(first.replies).toHaveLength(1);

    // A fork's patch comment recorded the same way, then a failure reported: each settles as it was.
    const fork = world((runs) => {
      runs.effects.intend(job.id, "reply", "", { reported: { status: "failed", error: "the change breaks the fix-up safety rules" } });
      runs.effects.created(job.id, "reply", "", { githubId: "u", url: "https://github.com/octo/demo/pull/7#issuecomment-55" });
    });
    const r = await resumePushedFix(fork.ctx, request(fork));
    expect(r?.result).toEqual({ status: "failed", error: "the change breaks the fix-up safety rules", links: { comment: "https://github.com/octo/demo/pull/7#issuecomment-55" } });
    expect([...fork.listed, ...fork.created, ...fork.replies]).toEqual([]);

    // Posting may or may not have reached GitHub (intent only), or a reply that reports nothing: the job runs.
    const unsure = world((runs) => runs.effects.intend(job.id, "reply", "", { reported: { status: "succeeded" } }));
    expect(await resumePushedFix(unsure.ctx, request(unsure))).toBeNull();
    const plain = world((runs) => runs.effects.created(job.id, "reply", "", { githubId: "u", url: "https://github.com/octo/demo/pull/7#issuecomment-56" }));
    expect(await resumePushedFix(plain.ctx, request(plain))).toBeNull();
  });
});
