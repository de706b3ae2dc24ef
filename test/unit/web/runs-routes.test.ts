import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../../src/store/runs.js";
import { esc, runsRoutes, type RunsRoutesOptions } from "../../../src/web/runs-routes.js";
import { makeJob } from "../../helpers/queue-fixtures.js";
import { makeTempDir } from "../../helpers/tmp.js";

const TOKEN = "s3cret-runs-token";
const EVIL = `<script>alert("pwned")</script><img src=x onerror='alert(1)'>`;

const dir = makeTempDir("runs-routes");
const runs = new RunStore(path.join(dir, "runs.sqlite"));
const servers: Server[] = [];
let evilId = "";
let plainId = "";

/** A real HTTP server that, like Probot's, falls through to 404 when the handler passes. */
async function serve(options: Partial<RunsRoutesOptions> = {}): Promise<string> {
  const handler = runsRoutes({ runs, token: TOKEN, stats: async () => ({ pending: 2, running: 1 }), ...options });
  const server = createServer((req, res) => {
    void Promise.resolve(handler(req, res)).then((handled) => {
      if (!handled) res.writeHead(404, { "x-passed-on": "1" }).end("passed on");
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(() => {
  const evil = makeJob({ pr: 13 });
  evil.pull = { ...evil.pull!, title: EVIL };
  evilId = runs.create(evil, { executors: ["codex"] });
  runs.start(evilId);
  runs.appendEvents(evilId, [`{"type":"item.completed","text":"${EVIL}"}`]);
  runs.setDiff(evilId, `+${EVIL}\n`);
  runs.finish(evilId, { status: "failed", error: EVIL, links: { review: "javascript:alert(1)" } });
  const plain = makeJob({ pr: 14 });
  plain.repo = { ...plain.repo, owner: "acme" };
  plainId = runs.create(plain);
  runs.start(plainId);
  runs.phase(plainId, "checkout", 1500);
  runs.finish(plainId, { status: "succeeded", findings: 2, links: { checkRun: "https://github.com/acme/r/runs/5" } });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  runs.close();
});

describe("runs routes", () => {
  it("serves /health without a token and without secrets", async () => {
    const base = await serve({ token: null });
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", queue: { pending: 2, running: 1 } });
  });

  it("answers 503 on /health when the queue cannot be counted, without the error text", async () => {
    const base = await serve({
      stats: async () => {
        throw new Error("connect ECONNREFUSED redis://:hunter2@db:6379");
      },
    });
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).toBe(JSON.stringify({ status: "unavailable" }));
  });

  it("keeps the runs pages off (404) without RUNS_TOKEN, whatever is presented", async () => {
    for (const token of [null, ""]) {
      const base = await serve({ token });
      for (const p of ["/runs", `/runs/${plainId}`, "/runs?format=json"]) {
        const res = await fetch(`${base}${p}`, { headers: { authorization: "Bearer " } });
        expect(res.status).toBe(404);
        expect(res.headers.get("x-passed-on")).toBeNull();
      }
    }
  });

  it("refuses a missing or wrong token with 401", async () => {
    const base = await serve();
    const none = await fetch(`${base}/runs?format=json`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const wrong = await fetch(`${base}/runs?format=json`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const prefix = await fetch(`${base}/runs?format=json&token=${TOKEN.slice(0, -1)}`);
    expect(prefix.status).toBe(401);
    expect(await wrong.text()).not.toContain(plainId);
  });

  it("lists runs as JSON with filters", async () => {
    const base = await serve();
    const all = await fetch(`${base}/runs?format=json`, { headers: auth });
    expect(all.status).toBe(200);
    expect(all.headers.get("cache-control")).toBe("no-store");
    const body = (await all.json()) as { runs: { id: string }[]; next: string | null };
    expect(body.runs.map((r) => r.id)).toEqual([plainId, evilId]);

    const byAccept = await fetch(`${base}/runs?status=failed`, { headers: { ...auth, accept: "application/json" } });
    expect(((await byAccept.json()) as { runs: { id: string }[] }).runs.map((r) => r.id)).toEqual([evilId]);

    const byRepo = await fetch(`${base}/runs?format=json&repo=acme/r`, { headers: auth });
    expect(((await byRepo.json()) as { runs: { id: string }[] }).runs.map((r) => r.id)).toEqual([plainId]);

    const bad = await fetch(`${base}/runs?format=json&status=bogus`, { headers: auth });
    expect(bad.status).toBe(400);
  });

  it("shows one run as JSON, with events and diff", async () => {
    const base = await serve();
    const res = await fetch(`${base}/runs/${evilId}?format=json`, { headers: auth });
    expect(res.status).toBe(200);
    const run = (await res.json()) as { id: string; prTitle: string; events: string[]; diff: string; status: string };
    expect(run).toMatchObject({ id: evilId, prTitle: EVIL, status: "failed", diff: `+${EVIL}\n` });
    expect(run.events).toHaveLength(1);
    const missing = await fetch(`${base}/runs/0000nope?format=json`, { headers: auth });
    expect(missing.status).toBe(404);
  });

  it("escapes untrusted titles, logs, diffs and errors in the HTML pages", async () => {
    const base = await serve();
    for (const p of ["/runs", `/runs/${evilId}`]) {
      const res = await fetch(`${base}${p}`, { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      const html = await res.text();
      expect(html).not.toContain("<script>");
      expect(html).not.toContain("<img");
      expect(html).toContain(esc(EVIL));
    }
    const detail = await (await fetch(`${base}/runs/${evilId}`, { headers: auth })).text();
    // Only http(s) links are rendered as links.
    expect(detail).not.toContain('href="javascript:');
    expect(detail).toContain("Diff");
    const plain = await (await fetch(`${base}/runs/${plainId}`, { headers: auth })).text();
    expect(plain).toContain('href="https://github.com/acme/r/runs/5"');
    expect(plain).toMatch(/checkout<\/th><td>1\.5 s/);
  });

  it("trades a ?token= for an HttpOnly cookie and a clean URL", async () => {
    const base = await serve();
    const res = await fetch(`${base}/runs?status=failed&token=${TOKEN}`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/runs?status=failed");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const follow = await fetch(`${base}/runs?status=failed`, { headers: { cookie: cookie.split(";")[0]! } });
    expect(follow.status).toBe(200);
    expect(await follow.text()).toContain(evilId);
    // API clients may use ?token= directly.
    const api = await fetch(`${base}/runs?format=json&token=${TOKEN}`, { redirect: "manual" });
    expect(api.status).toBe(200);
  });

  it("passes other paths on and refuses writes", async () => {
    const base = await serve();
    const other = await fetch(`${base}/api/github/webhooks`);
    expect(other.headers.get("x-passed-on")).toBe("1");
    const similar = await fetch(`${base}/runsx`, { headers: auth });
    expect(similar.headers.get("x-passed-on")).toBe("1");
    const post = await fetch(`${base}/runs`, { method: "POST", headers: auth });
    expect(post.status).toBe(405);
  });
});
