import http from "node:http";
import type { AddressInfo } from "node:net";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { createFixPull, findFixPull } from "../../../src/github/fixups.js";
import { applyClientPolicy } from "../../../src/github/policy.js";

/**
 * The fix PR's POST carries its lookup (findFixPull): when GitHub created the pull request and the
 * answer was lost (a 502), the client policy finds it by its head branch instead of opening a second
 * one (issue 22, the write policy of issue 16); when GitHub did not, it is opened once.
 */

interface Pull {
  number: number;
  html_url: string;
  draft: boolean;
  state: string;
  head: { ref: string; repo: { full_name: string } };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** GitHub's pulls endpoints; `fail` answers the next POSTs 502 after (or, "before", instead of) creating the PR. */
async function github(fail: ("after" | "before")[]) {
  const pulls: Pull[] = [];
  const requests: string[] = [];
  const srv = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const url = new URL(req.url!, "http://x");
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const send = (status: number, data: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(data));
      };
      if (req.method === "POST" && url.pathname === "/repos/o/r/pulls") {
        const b = JSON.parse(raw) as { head: string; draft: boolean };
        const failure = fail.shift();
        if (failure !== "before") {
          const number = pulls.length + 8;
          pulls.push({ number, html_url: `https://github.test/o/r/pull/${number}`, draft: b.draft, state: "open", head: { ref: b.head, repo: { full_name: "o/r" } } });
        }
        return failure ? send(502, { message: "Bad Gateway" }) : send(201, pulls.at(-1));
      }
      if (req.method === "GET" && url.pathname === "/repos/o/r/pulls") {
        const head = url.searchParams.get("head");
        return send(200, pulls.filter((p) => head === `o:${p.head.ref}`));
      }
      send(404, { message: "Not Found" });
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  servers.push(srv);
  const octokit = new ProbotOctokit({ auth: "token t", baseUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, throttle: { enabled: false } });
  applyClientPolicy(octokit, { requestTimeoutMs: 2_000, retryBudgetMs: 10_000, maxRateLimitWaits: 2, maxRateLimitWaitMs: 60_000 }, { sleep: async () => undefined, warn: () => undefined });
  return { octokit, pulls, requests };
}

const coords = { owner: "o", repo: "r" };
const input = { title: "Fix: x (#7)", body: "b", head: "codex-pr-bot/fix/7-abcdef0", base: "feature", draft: false };

describe("createFixPull", () => {
  it("a PR GitHub opened whose answer was lost is found by its head branch, not opened twice", async () => {
    const gh = await github(["after"]);
    const opened = await createFixPull(gh.octokit, coords, input);
    expect(opened).toEqual({ number: 8, url: "https://github.test/o/r/pull/8", draft: false });
    expect(gh.pulls).toHaveLength(1);
    expect(gh.requests.filter((r) => r.startsWith("POST"))).toHaveLength(1);
    expect(gh.requests).toContain("GET /repos/o/r/pulls?head=o%3Acodex-pr-bot%2Ffix%2F7-abcdef0&state=all&per_page=10");
  });

  it("a PR GitHub did not open is opened again, once", async () => {
    const gh = await github(["before"]);
    const opened = await createFixPull(gh.octokit, coords, input);
    expect(opened.number).toBe(8);
    expect(gh.pulls).toHaveLength(1);
    expect(gh.requests.filter((r) => r.startsWith("POST"))).toHaveLength(2);
  });

  it("findFixPull: only a PR whose head is that branch of this repository", async () => {
    const gh = await github([]);
    gh.pulls.push({ number: 3, html_url: "u3", draft: false, state: "closed", head: { ref: input.head, repo: { full_name: "evil/r" } } });
    expect(await findFixPull(gh.octokit, coords, input.head)).toBeNull();
    gh.pulls.push({ number: 4, html_url: "u4", draft: false, state: "closed", head: { ref: input.head, repo: { full_name: "O/R" } } });
    expect((await findFixPull(gh.octokit, coords, input.head))?.number).toBe(4);
  });
});
