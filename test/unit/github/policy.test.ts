import http from "node:http";
import type { AddressInfo } from "node:net";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { replyToPull, reactToComment } from "../../../src/github/comments.js";
import { AmbiguousWriteError, applyClientPolicy, GitHubUnavailableError, type ClientPolicy } from "../../../src/github/policy.js";
import { postReview } from "../../../src/github/reviews.js";

/**
 * The client policy against a real HTTP server that fails on cue: what is repeated, what is looked
 * for first, what is waited out and what gives up. Waits are recorded, not slept.
 */

type Reply = { status: number; body?: unknown; headers?: Record<string, string>; hang?: boolean };
interface Server {
  url: string;
  requests: string[];
  /** Answers for "METHOD /path" in order; after they run out, the default handler answers. */
  script: Map<string, Reply[]>;
  reviews: { id: number; body: string; commit_id: string; user: { type: string; login: string } }[];
  comments: { id: number; body: string; user: { type: string; login: string }; html_url: string }[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(): Promise<Server> {
  const state: Server = { url: "", requests: [], script: new Map(), reviews: [], comments: [], close: async () => undefined };
  const srv = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const route = `${req.method} ${req.url!.split("?")[0]}`;
      state.requests.push(route);
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(data));
      };
      const scripted = state.script.get(route)?.shift();
      // A 5xx or a hang happens after the effect ("created, but the reply was lost"); a 4xx (a rate
      // limit) was refused before anything happened.
      const refused = scripted !== undefined && !scripted.hang && scripted.status < 500;
      if (!refused) {
        // The effect happens before the scripted failure: "created, but the reply was lost".
        if (route === "POST /repos/o/r/pulls/1/reviews") {
          state.reviews.push({ id: state.reviews.length + 1, body: String(body.body), commit_id: String(body.commit_id), user: { type: "Bot", login: "bot[bot]" } });
        }
        if (route === "POST /repos/o/r/issues/1/comments") {
          const id = state.comments.length + 1;
          state.comments.push({ id, body: String(body.body), user: { type: "Bot", login: "bot[bot]" }, html_url: `https://github.test/c/${id}` });
        }
      }
      if (scripted?.hang) return; // never answers
      if (scripted) {
        if (route === "POST /repos/o/r/pulls/1/reviews" && scripted.status >= 500 && scripted.body === "not-created") state.reviews.pop();
        return send(scripted.status, scripted.body ?? { message: "scripted failure" }, scripted.headers);
      }
      if (route === "GET /repos/o/r/pulls/1/reviews") return send(200, state.reviews.map((r) => ({ ...r, html_url: `https://github.test/r/${r.id}` })));
      if (route === "POST /repos/o/r/pulls/1/reviews") {
        const r = state.reviews.at(-1)!;
        return send(200, { ...r, html_url: `https://github.test/r/${r.id}` });
      }
      if (route === "GET /repos/o/r/issues/1/comments") return send(200, state.comments);
      if (route === "POST /repos/o/r/issues/1/comments") return send(201, state.comments.at(-1));
      if (route.startsWith("POST /repos/o/r/issues/comments/")) return send(200, { id: 1, content: "eyes" });
      return send(200, { ok: true });
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((r) => {
      srv.closeAllConnections();
      srv.close(() => r());
    });
  servers.push(state);
  return state;
}

const POLICY: ClientPolicy = { requestTimeoutMs: 300, retryBudgetMs: 10_000, maxRateLimitWaits: 2, maxRateLimitWaitMs: 60_000 };

function client(url: string, policy = POLICY) {
  const waits: number[] = [];
  // Octokit's retry plugin left on, as Probot ships it: the policy must switch its retries off.
  const octokit = new ProbotOctokit({ auth: "token t", baseUrl: url, throttle: { enabled: false } });
  let clock = 0;
  applyClientPolicy(octokit, policy, {
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
    now: () => Date.now() + clock,
    warn: () => undefined,
  });
  return { octokit, waits };
}

const coords = { owner: "o", repo: "r" };
const review = { pullNumber: 1, commitId: "a".repeat(40), body: "the review <!-- marker -->", comments: [], fallbackBody: () => "fallback" };

describe("the GitHub client policy", () => {
  it("retries a read through 502s with backoff and jitter, then answers", async () => {
    const gh = await server();
    gh.script.set("GET /repos/o/r", [{ status: 502 }, { status: 502 }]);
    const { octokit, waits } = client(gh.url);
    const { data } = await octokit.rest.repos.get(coords);
    expect(data).toEqual({ ok: true });
    expect(gh.requests.filter((r) => r === "GET /repos/o/r")).toHaveLength(3);
    expect(waits).toHaveLength(2);
    expect(waits[1]!).toBeGreaterThanOrEqual(500);
  });

  it("a review created whose reply was lost is found, not posted again", async () => {
    const gh = await server();
    gh.script.set("POST /repos/o/r/pulls/1/reviews", [{ status: 502 }]);
    const { octokit } = client(gh.url);
    const posted = await postReview(octokit, coords, review, { warn: () => undefined });
    expect(gh.reviews).toHaveLength(1);
    expect(posted.url).toBe("https://github.test/r/1");
    expect(gh.requests.filter((r) => r === "POST /repos/o/r/pulls/1/reviews")).toHaveLength(1);
  });

  it("a review GitHub did not create is posted again, once", async () => {
    const gh = await server();
    gh.script.set("POST /repos/o/r/pulls/1/reviews", [{ status: 502, body: "not-created" }]);
    const { octokit } = client(gh.url);
    await postReview(octokit, coords, review, { warn: () => undefined });
    expect(gh.reviews).toHaveLength(1);
    expect(gh.requests.filter((r) => r === "POST /repos/o/r/pulls/1/reviews")).toHaveLength(2);
  });

  it("a reply whose request timed out after GitHub stored it is found by its body", async () => {
    const gh = await server();
    gh.script.set("POST /repos/o/r/issues/1/comments", [{ status: 0, hang: true }]);
    const { octokit } = client(gh.url);
    const url = await replyToPull(octokit, coords, 1, "the answer");
    expect(url).toBe("https://github.test/c/1");
    expect(gh.comments).toHaveLength(1);
  });

  it("never repeats a POST it cannot look for", async () => {
    const gh = await server();
    gh.script.set("POST /repos/o/r/statuses/abc", [{ status: 502 }]);
    const { octokit } = client(gh.url);
    await expect(octokit.rest.repos.createCommitStatus({ ...coords, sha: "abc", state: "success" })).rejects.toBeInstanceOf(AmbiguousWriteError);
    expect(gh.requests.filter((r) => r === "POST /repos/o/r/statuses/abc")).toHaveLength(1);
  });

  it("repeats an idempotent write (a reaction) as it is", async () => {
    const gh = await server();
    gh.script.set("POST /repos/o/r/issues/comments/5/reactions", [{ status: 503 }]);
    const { octokit } = client(gh.url);
    await reactToComment(octokit, coords, 5, "eyes");
    expect(gh.requests.filter((r) => r === "POST /repos/o/r/issues/comments/5/reactions")).toHaveLength(2);
  });

  it("waits out a secondary rate limit as GitHub's retry-after says, at most twice, then gives the job back", async () => {
    const gh = await server();
    const limited = { status: 403, body: { message: "You have exceeded a secondary rate limit" }, headers: { "retry-after": "1" } };
    gh.script.set("POST /repos/o/r/issues/1/comments", [limited]);
    const { octokit, waits } = client(gh.url);
    await replyToPull(octokit, coords, 1, "hello");
    expect(waits).toEqual([1000]);
    expect(gh.comments.map((c) => c.body)).toEqual(["hello"]);

    gh.script.set("GET /repos/o/r", [limited, limited, limited]);
    const second = client(gh.url);
    const err = await second.octokit.rest.repos.get(coords).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubUnavailableError);
    expect((err as GitHubUnavailableError).reason).toBe("rate-limit");
    expect(second.waits).toEqual([1000, 1000]);
  });

  it("does not sit on an exhausted primary limit for an hour: the job is given back with the reset time", async () => {
    const gh = await server();
    const reset = Math.floor(Date.now() / 1000) + 3600;
    gh.script.set("GET /repos/o/r", [{ status: 403, body: { message: "API rate limit exceeded" }, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) } }]);
    const { octokit, waits } = client(gh.url);
    const err = (await octokit.rest.repos.get(coords).catch((e: unknown) => e)) as GitHubUnavailableError;
    expect(err).toBeInstanceOf(GitHubUnavailableError);
    expect(waits).toEqual([]);
    expect(err.retryAt).toBeGreaterThanOrEqual(reset * 1000);
  });

  it("gives up on GitHub down past the retry budget, saying it is unreachable", async () => {
    const gh = await server();
    gh.script.set("GET /repos/o/r", Array.from({ length: 50 }, () => ({ status: 503 })));
    const { octokit, waits } = client(gh.url, { ...POLICY, retryBudgetMs: 20_000 });
    const err = (await octokit.rest.repos.get(coords).catch((e: unknown) => e)) as GitHubUnavailableError;
    expect(err).toBeInstanceOf(GitHubUnavailableError);
    expect(err.reason).toBe("unreachable");
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(20_000);
  });

  it("does not retry what GitHub refused (a 422)", async () => {
    const gh = await server();
    gh.script.set("GET /repos/o/r", [{ status: 422 }]);
    const { octokit } = client(gh.url);
    await expect(octokit.rest.repos.get(coords)).rejects.toMatchObject({ status: 422 });
    expect(gh.requests).toHaveLength(1);
  });
});
