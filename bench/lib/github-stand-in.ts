import http from "node:http";
import type { AddressInfo } from "node:net";
import { wallMs } from "./common.js";

/**
 * A local stand-in for GitHub's REST API on 127.0.0.1: the app's Octokit is pointed at it through
 * Probot's baseUrl, so every request the app makes arrives here and is counted per route. It answers
 * what a pull-request review needs (installation tokens, permissions, contents, check runs, review
 * comments and reviews, issue comments, reactions) and remembers what the app posted, so a second
 * review of the same PR sees the first one's comments like on GitHub.
 */

export interface StandInCall {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Normalised route, e.g. "POST /repos/:o/:r/pulls/:n/reviews". */
  route: string;
  /** Wall-clock ms (performance.timeOrigin + now) when the request was received. */
  at: number;
  status: number;
  body: unknown;
}

export interface StandInOptions {
  /** Text of .github/codex-pr-bot.yml on the default branch, or null for none (404). */
  config?: string | null;
  /** Keep request bodies (only of writes); off for load tests. Default true. */
  keepBodies?: boolean;
}

type Reply = [number, unknown];

export interface StandInCheckRun {
  id: number;
  /** "owner/name" */
  repo: string;
  name: string;
  head_sha: string;
  external_id: string | null;
  status: string;
  conclusion: string | null;
  html_url: string;
  output?: { title?: string; summary?: string };
}

/** A pull request the app opened (a fix-up PR). */
export interface StandInFixPull {
  number: number;
  /** "owner/name" */
  repo: string;
  state: "open" | "closed";
  title: string;
  body: string;
  draft: boolean;
  html_url: string;
  head: { ref: string; repo: { full_name: string } };
  base: { ref: string };
}

/** A failure the stand-in answers instead of GitHub's success (injectFaults). */
export interface StandInFault {
  status: number;
  /** "before": refused, nothing happened (a 403 limit, an outage); "after": it happened, the answer is lost (a 502 on a created review). */
  when: "before" | "after";
  headers?: Record<string, string>;
  body?: unknown;
}

type Handler = (m: RegExpMatchArray, body: unknown, url: URL) => Reply;

export class GitHubStandIn {
  readonly calls: StandInCall[] = [];
  url = "";
  private server: http.Server | null = null;
  private nextId = 1000;
  private readonly reviews = new Map<string, { id?: number; html_url?: string; body: string; user: { login: string; type: string } }[]>();
  /** Comments the app posted on the conversation tab, by "owner/name#n". */
  readonly issueComments = new Map<string, { id: number; body: string; user: { login: string; type: string }; html_url: string }[]>();
  private readonly reviewComments = new Map<string, { body: string; user: { login: string; type: string } }[]>();
  private readonly listeners = new Set<(call: StandInCall) => void>();
  private readonly routes: { method: string; pattern: RegExp; route: string; handler: Handler }[] = [];
  private held: (() => void)[] | null = null;
  private heldRoute = "GET /repos/:o/:r/contents/:path";
  private readonly pulls = new Map<string, unknown>();
  /** Answers GET /repos/:o/:r/git/ref/:ref: the commit `ref` ("heads/<branch>") points at in "owner/name", or null (404). */
  refs: ((repo: string, ref: string) => string | null) | null = null;
  /** Pull requests the app opened (POST /repos/:o/:r/pulls), oldest first. */
  readonly fixPulls: StandInFixPull[] = [];
  /** Faults injected so far (injectFaults), in order. */
  readonly faultsInjected: { route: string; status: number; when: "before" | "after" }[] = [];
  private faultPlan: ((request: { method: string; route: string; attempt: number }) => StandInFault | null) | null = null;
  private readonly attemptsByRoute = new Map<string, number>();
  /** Check runs as created and updated (status, conclusion, output, external_id), by id. */
  readonly checkRuns = new Map<number, StandInCheckRun>();

  constructor(private readonly options: StandInOptions = {}) {
    const repo = "/repos/([^/]+)/([^/]+)";
    const bot = { login: "codex-pr-bot[bot]", type: "Bot" };
    this.add("POST", /^\/app\/installations\/(\d+)\/access_tokens$/, "POST /app/installations/:id/access_tokens", () => [
      201,
      {
        token: `ghs_bench${"0".repeat(30)}`,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: { contents: "read", pull_requests: "write", checks: "write", issues: "write" },
        repository_selection: "all",
      },
    ]);
    this.add("GET", new RegExp(`^${repo}/collaborators/([^/]+)/permission$`), "GET /repos/:o/:r/collaborators/:u/permission", (m) => [
      200,
      { permission: "write", role_name: "write", user: { login: m[3] } },
    ]);
    this.add("GET", new RegExp(`^${repo}/contents/(.+)$`), "GET /repos/:o/:r/contents/:path", (m) => {
      const text = this.options.config ?? null;
      if (text === null) return [404, { message: "Not Found" }];
      return [200, { type: "file", encoding: "base64", path: decodeURIComponent(m[3]!), content: Buffer.from(text).toString("base64") }];
    });
    this.add("POST", new RegExp(`^${repo}/check-runs$`), "POST /repos/:o/:r/check-runs", (m, body) => {
      const id = this.nextId++;
      const b = body as { status?: string; conclusion?: string };
      const run: StandInCheckRun = {
        external_id: null,
        conclusion: null,
        ...(body as object),
        id,
        repo: `${m[1]}/${m[2]}`,
        status: b.status ?? "queued",
        html_url: `https://github.com/${m[1]}/${m[2]}/runs/${id}`,
      } as StandInCheckRun;
      this.checkRuns.set(id, run);
      return [201, run];
    });
    this.add("PATCH", new RegExp(`^${repo}/check-runs/(\\d+)$`), "PATCH /repos/:o/:r/check-runs/:id", (m, body) => {
      const run = this.checkRuns.get(Number(m[3]));
      if (!run) return [404, { message: "Not Found" }];
      Object.assign(run, body as object);
      return [200, run];
    });
    this.add("GET", new RegExp(`^${repo}/check-runs/(\\d+)$`), "GET /repos/:o/:r/check-runs/:id", (m) => {
      const run = this.checkRuns.get(Number(m[3]));
      return run && run.repo === `${m[1]}/${m[2]}` ? [200, run] : [404, { message: "Not Found" }];
    });
    this.add("GET", new RegExp(`^${repo}/commits/([^/]+)/check-runs$`), "GET /repos/:o/:r/commits/:ref/check-runs", (m, _body, url) => {
      const name = url.searchParams.get("check_name");
      const runs = [...this.checkRuns.values()]
        .filter((r) => r.repo === `${m[1]}/${m[2]}` && r.head_sha === m[3] && (name === null || r.name === name))
        .sort((a, b) => b.id - a.id);
      return [200, { total_count: runs.length, check_runs: runs }];
    });
    this.add("GET", new RegExp(`^${repo}/pulls/(\\d+)/comments$`), "GET /repos/:o/:r/pulls/:n/comments", (m) => [
      200,
      this.reviewComments.get(prKey(m)) ?? [],
    ]);
    this.add("GET", new RegExp(`^${repo}/pulls/(\\d+)/reviews$`), "GET /repos/:o/:r/pulls/:n/reviews", (m) => [200, this.reviews.get(prKey(m)) ?? []]);
    this.add("POST", new RegExp(`^${repo}/pulls/(\\d+)/reviews$`), "POST /repos/:o/:r/pulls/:n/reviews", (m, body) => {
      const id = this.nextId++;
      const b = body as { body?: string; comments?: { body: string }[] };
      const key = prKey(m);
      const html_url = `https://github.com/${m[1]}/${m[2]}/pull/${m[3]}#pullrequestreview-${id}`;
      this.reviews.set(key, [...(this.reviews.get(key) ?? []), { id, html_url, body: b.body ?? "", user: bot }]);
      this.reviewComments.set(key, [...(this.reviewComments.get(key) ?? []), ...(b.comments ?? []).map((c) => ({ body: c.body, user: bot }))]);
      return [200, { id, html_url }];
    });
    this.add("GET", new RegExp(`^${repo}/pulls/(\\d+)$`), "GET /repos/:o/:r/pulls/:n", (m) => {
      const pull = this.pulls.get(prKey(m));
      return pull === undefined ? [404, { message: "Not Found" }] : [200, pull];
    });
    this.add("POST", new RegExp(`^${repo}/issues/(\\d+)/comments$`), "POST /repos/:o/:r/issues/:n/comments", (m, body) => {
      const id = this.nextId++;
      const comment = { id, body: (body as { body?: string }).body ?? "", user: bot, html_url: `https://github.com/${m[1]}/${m[2]}/pull/${m[3]}#issuecomment-${id}` };
      this.issueComments.set(prKey(m), [...(this.issueComments.get(prKey(m)) ?? []), comment]);
      return [201, comment];
    });
    this.add("GET", new RegExp(`^${repo}/issues/(\\d+)/comments$`), "GET /repos/:o/:r/issues/:n/comments", (m) => [200, this.issueComments.get(prKey(m)) ?? []]);
    this.add("POST", new RegExp(`^${repo}/issues/comments/(\\d+)/reactions$`), "POST /repos/:o/:r/issues/comments/:id/reactions", () => [
      201,
      { id: this.nextId++, content: "eyes" },
    ]);
    // GraphQL: only the review-threads query (github/review-threads.ts) is answered, with no threads
    // (the stand-in keeps review comments, not threads); any other query still gets 501.
    this.add("POST", /^\/graphql$/, "POST /graphql", (_m, body) => {
      const query = (body as { query?: string } | null)?.query ?? "";
      if (!query.includes("reviewThreads")) return [501, { message: "stand-in: only the reviewThreads query is answered" }];
      return [200, { data: { repository: { pullRequest: { reviewThreads: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] } } } } }];
    });
    this.add("POST", new RegExp(`^${repo}/pulls/comments/(\\d+)/reactions$`), "POST /repos/:o/:r/pulls/comments/:id/reactions", () => [
      201,
      { id: this.nextId++, content: "eyes" },
    ]);
    // Fix-up pull requests (issue 22's crash tests): opened by the app, listed by head branch and state.
    this.add("POST", new RegExp(`^${repo}/pulls$`), "POST /repos/:o/:r/pulls", (m, body) => {
      const b = body as { head: string; base: string; title: string; body?: string; draft?: boolean };
      const full = `${m[1]}/${m[2]}`;
      const number = 500 + this.fixPulls.length + 1;
      const pull: StandInFixPull = {
        number,
        repo: full,
        state: "open",
        title: b.title,
        body: b.body ?? "",
        draft: b.draft ?? false,
        html_url: `https://github.com/${full}/pull/${number}`,
        head: { ref: b.head, repo: { full_name: full } },
        base: { ref: b.base },
      };
      this.fixPulls.push(pull);
      return [201, pull];
    });
    this.add("GET", new RegExp(`^${repo}/pulls$`), "GET /repos/:o/:r/pulls", (m, _body, url) => {
      const head = url.searchParams.get("head");
      const state = url.searchParams.get("state") ?? "open";
      const base = url.searchParams.get("base");
      const pulls = this.fixPulls
        .filter((p) => p.repo === `${m[1]}/${m[2]}`)
        .filter((p) => head === null || head === `${m[1]}:${p.head.ref}`)
        .filter((p) => state === "all" || p.state === state)
        .filter((p) => base === null || p.base.ref === base)
        .reverse();
      return [200, pulls];
    });
    // A branch's commit (GET /repos/:o/:r/git/ref/heads/<branch>), from `refs` when the test set it (a real origin).
    this.add("GET", new RegExp(`^${repo}/git/ref/(.+)$`), "GET /repos/:o/:r/git/ref/:ref", (m) => {
      const ref = decodeURIComponent(m[3]!);
      const sha = this.refs?.(`${m[1]}/${m[2]}`, ref) ?? null;
      return sha === null
        ? [404, { message: "Not Found" }]
        : [200, { ref: `refs/${ref}`, node_id: "REF_1", url: "", object: { type: "commit", sha, url: "" } }];
    });
  }

  private add(method: string, pattern: RegExp, route: string, handler: Handler): void {
    this.routes.push({ method, pattern, route, handler });
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Fault injection (issue 16): `plan` sees each request (its route and how many times that route
   * was called, this one included) and may answer it with a failure instead. Null clears it.
   */
  injectFaults(plan: ((request: { method: string; route: string; attempt: number }) => StandInFault | null) | null): void {
    this.faultPlan = plan;
  }

  /** What GET /repos/:o/:r/pulls/:n answers from now on (the PR as the last webhook described it). */
  setPull(owner: string, repo: string, number: number, pull: unknown): void {
    this.pulls.set(`${owner}/${repo}#${number}`, pull);
  }

  /**
   * Holds every request of `route` (default: contents, the config) unanswered until release(): the
   * app's workers then wait on their first job, so a load test sees the webhook intake alone. The
   * route's handler runs at once (a held POST has taken effect; only its answer waits).
   */
  hold(route = "GET /repos/:o/:r/contents/:path"): void {
    this.heldRoute = route;
    this.held ??= [];
  }

  /** Requests of the held route received and not answered yet (the handler already ran: a POST took effect). */
  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const answer of held) answer();
  }

  /** Calls from index `from` on (use calls.length as a mark before an experiment). */
  since(from: number): StandInCall[] {
    return this.calls.slice(from);
  }

  /** Resolves with the first call (from now on) that matches. */
  next(match: (call: StandInCall) => boolean, timeoutMs = 120_000): Promise<StandInCall> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`stand-in: no matching request within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (call: StandInCall): void => {
        if (!match(call)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(call);
      };
      this.listeners.add(listener);
    });
  }

  /** Requests per route, e.g. { "POST /repos/:o/:r/check-runs": 1, ... }. */
  static countByRoute(calls: readonly StandInCall[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of calls) counts[c.route] = (counts[c.route] ?? 0) + 1;
    return counts;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const at = wallMs();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stand-in");
      // GitHub Enterprise's API prefix: Probot's createProbot() (`codex-pr-bot worker`) reaches the
      // stand-in through GHE_HOST/GHE_PROTOCOL, i.e. at <url>/api/v3; the routes are the same.
      // Its GraphQL endpoint there is /api/graphql.
      if (url.pathname === "/api/v3" || url.pathname.startsWith("/api/v3/")) url.pathname = url.pathname.slice("/api/v3".length) || "/";
      else if (url.pathname === "/api/graphql") url.pathname = "/graphql";
      const method = req.method ?? "GET";
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = raw;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      let status = 501;
      let reply: unknown = { message: `stand-in: no route for ${method} ${url.pathname}` };
      let route = `${method} (unknown) ${url.pathname}`;
      let fault: StandInFault | null = null;
      for (const r of this.routes) {
        if (r.method !== method) continue;
        const m = url.pathname.match(r.pattern);
        if (!m) continue;
        route = r.route;
        const seen = (this.attemptsByRoute.get(route) ?? 0) + 1;
        this.attemptsByRoute.set(route, seen);
        fault = this.faultPlan?.({ method, route, attempt: seen }) ?? null;
        // "before": GitHub refused it and nothing happened; "after": it took effect and the answer is lost.
        if (fault?.when !== "before") [status, reply] = r.handler(m, body, url);
        break;
      }
      if (fault) {
        this.faultsInjected.push({ route, status: fault.status, when: fault.when });
        status = fault.status;
        reply = fault.body ?? { message: fault.status === 403 ? "You have exceeded a secondary rate limit." : "stand-in: injected fault" };
      }
      const answer = (): void => this.answer(res, { method, path: url.pathname, route, at, status, body }, reply, fault?.headers);
      if (this.held && route === this.heldRoute) this.held.push(answer);
      else answer();
    });
  }

  private answer(res: http.ServerResponse, received: StandInCall, reply: unknown, extraHeaders: Record<string, string> = {}): void {
    const call: StandInCall = {
      ...received,
      body: this.options.keepBodies === false || received.method === "GET" ? null : received.body,
    };
    this.calls.push(call);
    const text = JSON.stringify(reply);
    res.writeHead(received.status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      // Generous limits, so the app's throttling never waits on them.
      "x-ratelimit-limit": "15000",
      "x-ratelimit-remaining": "14999",
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
      ...extraHeaders,
    });
    res.end(text);
    for (const listener of [...this.listeners]) listener(call);
  }
}

function prKey(m: RegExpMatchArray): string {
  return `${m[1]}/${m[2]}#${m[3]}`;
}
