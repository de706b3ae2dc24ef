import { pino } from "pino";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { repoConfigSchema } from "../../../src/config/schema.js";
import { WorkspaceError } from "../../../src/errors.js";
import { fixKey, runningFixes } from "../../../src/fix/registry.js";
import type { JobContext } from "../../../src/jobs/context.js";
import { runAutoFix } from "../../../src/jobs/fix.js";
import { trackRun } from "../../../src/jobs/run-tracker.js";
import type { Finding, Job } from "../../../src/types.js";

const HEAD = "b".repeat(40);
const log = pino({ level: "silent" });

function finding(priority: 0 | 1 | 2 | 3): Finding {
  return { title: `P${priority} thing`, body: "b", priority, confidence: 1, path: "a.js", startLine: 1, endLine: 1, anchor: "x", suggestion: null };
}

interface Fake {
  ctx: JobContext;
  checkout: ReturnType<typeof vi.fn>;
  comments: string[];
  openPulls: { head: { ref: string; repo: { full_name: string } }; number: number; html_url: string }[];
}

function fake(options: { fix?: unknown; headRef?: string; trigger?: Job["trigger"] } = {}): Fake {
  const comments: string[] = [];
  const openPulls: Fake["openPulls"] = [];
  const checkout = vi.fn(async () => {
    throw new WorkspaceError("the head commit is gone");
  });
  const job: Job = {
    id: "job-1",
    deliveryId: "d",
    installationId: 1,
    repo: { owner: "octo", name: "demo", defaultBranch: "main", cloneUrl: "https://github.com/octo/demo.git", htmlUrl: "https://github.com/octo/demo" },
    prNumber: 7,
    mode: "review",
    trigger: options.trigger ?? { kind: "event", event: "pull_request", action: "synchronize", sender: "alice" },
    instruction: null,
    pull: null,
    enqueuedAt: 0,
  };
  const octokit = {
    paginate: async () => openPulls,
    rest: {
      pulls: { list: () => undefined },
      issues: {
        createComment: async (p: { body: string }) => {
          comments.push(p.body);
          return { data: { html_url: "https://x/c" } };
        },
      },
    },
  };
  const ctx = {
    job,
    deps: { log, settings: { codexModel: null, timeoutCapMs: 60_000 }, workspaces: { checkout }, executor: {}, runs: null },
    log,
    octokit,
    token: async () => "t",
    coords: { owner: "octo", repo: "demo" },
    signal: new AbortController().signal,
    pull: { headSha: HEAD, headRef: options.headRef ?? "feature", baseSha: "a".repeat(40), baseRef: "main", fromFork: false, isDraft: false, author: "alice", title: "t", body: "" },
    config: repoConfigSchema.parse({ fix: options.fix ?? { auto: { enabled: true } } }),
    configSource: "test",
    secrets: [],
    run: trackRun(null, job, log),
  } as unknown as JobContext;
  return { ctx, checkout, comments, openPulls };
}

describe("runAutoFix", () => {
  beforeEach(() => runningFixes.clear());

  it("does nothing unless enabled, after an automatic review, with findings at the threshold", async () => {
    const off = fake({ fix: {} });
    await runAutoFix(off.ctx, [finding(0)]);
    const command = fake({ trigger: { kind: "command", commentId: 1, commentUrl: "u", sender: "x", executor: "codex" } });
    await runAutoFix(command.ctx, [finding(0)]);
    const low = fake({ fix: { auto: { enabled: true, min_severity: "P1" } } });
    await runAutoFix(low.ctx, [finding(2), finding(3)]);
    for (const f of [off, command, low]) {
      expect(f.checkout).not.toHaveBeenCalled();
      expect(f.comments).toEqual([]);
    }
  });

  it("never fixes the bot's own fix PRs, and never starts while a fix runs or a fix PR is open", async () => {
    const own = fake({ headRef: "codex-pr-bot/fix/3-abc1234" });
    await runAutoFix(own.ctx, [finding(1)]);
    expect(own.checkout).not.toHaveBeenCalled();

    const busy = fake();
    runningFixes.claim(fixKey("octo", "demo", 7), { jobId: "other", mode: "fix", link: "l", since: 0 });
    await runAutoFix(busy.ctx, [finding(1)]);
    expect(busy.checkout).not.toHaveBeenCalled();
    runningFixes.clear();

    const open = fake();
    open.openPulls.push({ head: { ref: "codex-pr-bot/fix/7-1234567", repo: { full_name: "octo/demo" } }, number: 9, html_url: "u" });
    await runAutoFix(open.ctx, [finding(1)]);
    expect(open.checkout).not.toHaveBeenCalled();
  });

  it("runs the fix for due findings, reports a failure in a comment instead of throwing, and frees the PR", async () => {
    const f = fake();
    // An open PR from a fork with a look-alike branch does not count.
    f.openPulls.push({ head: { ref: "codex-pr-bot/fix/7-1234567", repo: { full_name: "evil/demo" } }, number: 9, html_url: "u" });
    await expect(runAutoFix(f.ctx, [finding(2), finding(1)])).resolves.toBeUndefined();
    expect(f.checkout).toHaveBeenCalledTimes(1);
    expect(f.comments).toHaveLength(1);
    expect(f.comments[0]).toContain("**Automatic fix failed: Could not check out the pull request**");
    expect(runningFixes.get(fixKey("octo", "demo", 7))).toBeNull();
  });
});
