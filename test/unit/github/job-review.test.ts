import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { findJobReview, jobReviewMarker, postReview, type PostReviewInput } from "../../../src/github/reviews.js";
import { FakeGitHub } from "../../helpers/fake-github.js";

/**
 * Issue 22: a review carries its job's marker, so a retried job (the app died after GitHub created the
 * review, before the job was recorded as done) finds it instead of posting a second one.
 */

const log = pino({ level: "silent" });
const octokit = () =>
  new ProbotOctokit({ auth: { token: "t" }, retry: { enabled: false }, throttle: { enabled: false } }) as InstanceType<typeof ProbotOctokit>;
const coords = { owner: "octo", repo: "demo" };
const bot = { type: "Bot", login: "codex-pr-bot[bot]" };

const input = (extra: Partial<PostReviewInput> = {}): PostReviewInput => ({
  pullNumber: 3,
  commitId: "c".repeat(40),
  body: "Summary",
  comments: [],
  fallbackBody: () => "Summary",
  ...extra,
});

describe("a review's job marker", () => {
  let gh: FakeGitHub;
  afterEach(() => gh.dispose());

  function github(reviews: { id: number; body: string; user: { type: string; login: string }; html_url: string }[]) {
    gh = new FakeGitHub("octo", "demo");
    gh.on("GET", gh.repoPath("/pulls/3/reviews"), () => [200, reviews]);
    gh.on("POST", gh.repoPath("/pulls/3/reviews"), (_m, body) => {
      const id = 100 + reviews.length;
      reviews.push({ id, body: (body as { body: string }).body, user: bot, html_url: `https://github.com/octo/demo/pull/3#pullrequestreview-${id}` });
      return [200, reviews.at(-1)!];
    });
    return reviews;
  }

  it("is hidden in the body; a retry that looks first finds the review and posts nothing", async () => {
    const reviews = github([]);
    const first = await postReview(octokit(), coords, input({ jobId: "job-1" }), log);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.body).toBe(`Summary\n${jobReviewMarker("job-1")}`);
    expect(jobReviewMarker("job-1")).toBe("<!-- codex-pr-bot:job:job-1 -->");

    const again = await postReview(octokit(), coords, input({ jobId: "job-1", lookFirst: true }), log);
    expect(again).toEqual({ id: first.id, url: first.url, inlineRejected: false });
    expect(gh.bodies("POST", /reviews$/)).toHaveLength(1);

    // Another job's retry posts its own.
    await postReview(octokit(), coords, input({ jobId: "job-2", lookFirst: true }), log);
    expect(gh.bodies("POST", /reviews$/)).toHaveLength(2);
  });

  it("counts only the bot's reviews: a person quoting the marker does not stand in for it", async () => {
    github([{ id: 7, body: `quoting ${jobReviewMarker("job-1")}`, user: { type: "User", login: "alice" }, html_url: "u" }]);
    expect(await findJobReview(octokit(), coords, 3, "job-1")).toBeNull();
    await postReview(octokit(), coords, input({ jobId: "job-1", lookFirst: true }), log);
    expect(gh.bodies("POST", /reviews$/)).toHaveLength(1);
  });

  it("without a job id, the body is posted as it is (the Action's reviews)", async () => {
    const reviews = github([]);
    await postReview(octokit(), coords, input(), log);
    expect(reviews[0]!.body).toBe("Summary");
  });
});
