import http from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import type { StandInCheckRun } from "../../bench/lib/github-stand-in.js";
import { checkGraphqlContract, operationName } from "./graphql-contract.js";
import { checkAgainstContract } from "./openapi-contract.js";

export interface ApiCall {
  method: string;
  path: string;
  body: unknown;
}

type Reply = [number, unknown] | [number, unknown, Record<string, string>];
type RouteHandler = (match: RegExpMatchArray, body: unknown, call: ApiCall) => Reply;

interface Route {
  method: string;
  pattern: RegExp;
  handler: RouteHandler;
  once: boolean;
  used: boolean;
}

type GraphqlHandler = (variables: Record<string, unknown>, call: ApiCall) => Reply;

/** A review thread as GraphQL's `PullRequestReviewThread` answers it (the fields the app asks for). */
export interface FakeThread {
  id: string;
  isResolved: boolean;
  isOutdated: boolean;
  path: string;
  line: number | null;
  startLine: number | null;
  resolvedBy: { login: string } | null;
  comments: { databaseId: number; body: string; author: { __typename: "Bot" | "User"; login: string } }[];
}

export const BOT_LOGIN = "codex-pr-bot[bot]";

export const INSTALLATION_TOKEN = "ghs_TestInstallationToken0123456789abcdefAB";

/** A check run as the app created and updated it: the bench stand-in's shape, without its repository. */
export type FakeCheckRun = Omit<StandInCheckRun, "repo" | "output">;

/**
 * GitHub's REST API, the only thing outside the machine, stood in for with nock. Every request is
 * recorded; tests register the routes a scenario needs and assert on what the app sent. A request
 * with no route gets a 501 and is listed in `unexpected`, so a missing expectation fails loudly.
 */
export class FakeGitHub {
  readonly calls: ApiCall[] = [];
  readonly unexpected: ApiCall[] = [];
  private routes: Route[] = [];
  private nextId = 1000;
  /** The pull request's review threads, as GraphQL lists them: the bot's reviews add theirs, replies join them. */
  readonly threads: FakeThread[] = [];
  /** Check runs as the app created and updated them, by id (defaults()). */
  readonly checkRuns = new Map<number, FakeCheckRun>();
  private readonly graphqlRoutes = new Map<string, GraphqlHandler>();

  constructor(
    readonly owner: string,
    readonly repo: string,
    readonly baseUrl = "https://api.github.com",
  ) {
    const scope = nock(baseUrl).persist();
    for (const method of ["get", "post", "patch", "put", "delete"] as const) {
      scope[method](/.*/).optionally().reply((uri: string, body: nock.Body) => this.dispatch(method.toUpperCase(), uri, body) as nock.ReplyFnResult);
    }
    this.on("POST", /^\/app\/installations\/(\d+)\/access_tokens$/, () => [
      201,
      { token: INSTALLATION_TOKEN, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {}, repository_selection: "all" },
    ]);
    // GraphQL: the operations the app sends, over `threads`; a test can replace one with onGraphql.
    this.onGraphql("ReviewThreads", () => [
      200,
      {
        data: {
          repository: {
            pullRequest: { reviewThreads: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: this.threads.map((t) => ({ ...t, comments: { nodes: t.comments } })) } },
          },
        },
      },
    ]);
    this.onGraphql("ResolveReviewThread", (vars) => {
      const thread = this.threads.find((t) => t.id === vars.threadId);
      if (!thread) return [200, { data: { resolveReviewThread: null }, errors: [{ type: "NOT_FOUND", message: `Could not resolve to a node with the global id of '${String(vars.threadId)}'` }] }];
      thread.isResolved = true;
      return [200, { data: { resolveReviewThread: { thread: { id: thread.id, isResolved: true } } } }];
    });
  }

  /** Answers the GraphQL operation of this name (the document's `query Name` / `mutation Name`). */
  onGraphql(operation: string, handler: GraphqlHandler): this {
    this.graphqlRoutes.set(operation, handler);
    return this;
  }

  /** GraphQL requests for an operation, their variables in order. */
  graphql(operation: string): Record<string, unknown>[] {
    return this.calls
      .filter((c) => c.method === "POST" && /^(?:\/api)?\/graphql$/.test(c.path))
      .map((c) => c.body as { query: string; variables?: Record<string, unknown> })
      .filter((b) => operationName(b.query) === operation)
      .map((b) => b.variables ?? {});
  }

  /** A thread the bot opened with a review comment, as GitHub creates it. */
  addThread(comment: { id: number; path: string; line: number | null; start_line?: number | null; body: string }, author = { __typename: "Bot" as const, login: BOT_LOGIN }): FakeThread {
    const thread: FakeThread = {
      id: `PRRT_kwDO${comment.id}`,
      isResolved: false,
      isOutdated: false,
      path: comment.path,
      line: comment.line,
      startLine: comment.start_line ?? null,
      resolvedBy: null,
      comments: [{ databaseId: comment.id, body: comment.body, author }],
    };
    this.threads.push(thread);
    return thread;
  }

  on(method: string, pattern: RegExp, handler: RouteHandler, options: { once?: boolean } = {}): this {
    // Later registrations win, so a test can override a default.
    this.routes.unshift({ method, pattern, handler, once: options.once ?? false, used: false });
    return this;
  }

  private get prefix(): string {
    return `/repos/${this.owner}/${this.repo}`;
  }

  repoPath(suffix: string): RegExp {
    return new RegExp(`^${this.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${suffix}$`);
  }

  /** The usual happy-path routes of a review. */
  defaults(options: { permission?: string; config?: string | null; existingComments?: { body: string; user: { type: string; login: string } }[] } = {}): this {
    const perm = options.permission ?? "write";
    this.on("GET", this.repoPath("/collaborators/([^/]+)/permission"), () => [
      200,
      { permission: perm === "maintain" ? "write" : perm, role_name: perm, user: { login: "x" } },
    ]);
    this.on("GET", this.repoPath("/contents/(.+)"), () =>
      options.config == null
        ? [404, { message: "Not Found" }]
        : [200, { type: "file", encoding: "base64", content: Buffer.from(options.config).toString("base64"), path: ".github/codex-pr-bot.yml" }],
    );
    // Check runs are kept as created and updated, so a worker can find and take over its own (GET by id, or by head).
    this.on("POST", this.repoPath("/check-runs"), (_m, body) => {
      const id = this.nextId++;
      const run = { external_id: null, conclusion: null, status: "queued", ...(body as object), id, html_url: `https://github.com/${this.owner}/${this.repo}/runs/${id}` };
      this.checkRuns.set(id, run as FakeCheckRun);
      return [201, run];
    });
    this.on("PATCH", this.repoPath("/check-runs/(\\d+)"), (m, body) => {
      const run = this.checkRuns.get(Number(m[1]));
      if (run) Object.assign(run, body as object);
      return [200, run ?? { id: Number(m[1]) }];
    });
    this.on("GET", this.repoPath("/check-runs/(\\d+)"), (m) => {
      const run = this.checkRuns.get(Number(m[1]));
      return run ? [200, run] : [404, { message: "Not Found" }];
    });
    this.on("GET", this.repoPath("/commits/([^/]+)/check-runs"), (m) => {
      const runs = [...this.checkRuns.values()].filter((r) => r.head_sha === m[1]).sort((a, b) => b.id - a.id);
      return [200, { total_count: runs.length, check_runs: runs }];
    });
    this.on("GET", this.repoPath("/pulls/(\\d+)/comments"), () => [200, options.existingComments ?? []]);
    this.on("GET", this.repoPath("/pulls/(\\d+)/reviews"), () => [200, []]);
    this.on("POST", this.repoPath("/pulls/(\\d+)/reviews"), (m, body) => {
      const id = this.nextId++;
      // Each inline comment opens a thread, as on GitHub.
      for (const c of (body as { comments?: { path: string; line: number; start_line?: number; body: string }[] }).comments ?? []) {
        this.addThread({ id: this.nextId++, path: c.path, line: c.line, start_line: c.start_line ?? null, body: c.body });
      }
      return [200, { id, html_url: `https://github.com/${this.owner}/${this.repo}/pull/${m[1]}#pullrequestreview-${id}` }];
    });
    this.on("POST", this.repoPath("/pulls/(\\d+)/comments/(\\d+)/replies"), (m, body) => {
      const id = this.nextId++;
      const thread = this.threads.find((t) => t.comments[0]?.databaseId === Number(m[2]));
      thread?.comments.push({ databaseId: id, body: (body as { body: string }).body, author: { __typename: "Bot", login: BOT_LOGIN } });
      return [201, { id, html_url: `https://github.com/${this.owner}/${this.repo}/pull/${m[1]}#discussion_r${id}` }];
    });
    this.on("POST", this.repoPath("/issues/comments/(\\d+)/reactions"), () => [201, { id: this.nextId++, content: "eyes" }]);
    this.on("POST", this.repoPath("/issues/(\\d+)/comments"), (m) => {
      const id = this.nextId++;
      return [201, { id, html_url: `https://github.com/${this.owner}/${this.repo}/pull/${m[1]}#issuecomment-${id}` }];
    });
    return this;
  }

  /** Calls matching a method and path pattern, in order. */
  find(method: string, pattern: RegExp): ApiCall[] {
    return this.calls.filter((c) => c.method === method && pattern.test(c.path));
  }

  bodies<T = Record<string, unknown>>(method: string, pattern: RegExp): T[] {
    return this.find(method, pattern).map((c) => c.body as T);
  }

  private dispatch(method: string, uri: string, rawBody: unknown): Reply {
    const path = uri.split("?")[0]!;
    let body: unknown = rawBody;
    if (typeof rawBody === "string" && rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    const call: ApiCall = { method, path: uri, body };
    this.calls.push(call);
    // GraphQL: /graphql on GitHub.com, /api/graphql on an Enterprise Server.
    if (method === "POST" && /^(?:\/api)?\/graphql$/.test(path)) return this.dispatchGraphql(call);
    checkAgainstContract(method, uri, body);
    for (const route of this.routes) {
      if (route.method !== method || (route.once && route.used)) continue;
      const match = path.match(route.pattern);
      if (!match) continue;
      route.used = true;
      return route.handler(match, body, call);
    }
    this.unexpected.push(call);
    return [501, { message: `no fake route for ${method} ${uri}` }];
  }

  private dispatchGraphql(call: ApiCall): Reply {
    checkGraphqlContract(call.body);
    const { query, variables } = (call.body ?? {}) as { query?: string; variables?: Record<string, unknown> };
    let name: string | null = null;
    try {
      name = typeof query === "string" ? operationName(query) : null;
    } catch {
      // Not a document: the contract check has recorded why.
    }
    const handler = name === null ? undefined : this.graphqlRoutes.get(name);
    if (!handler) {
      this.unexpected.push(call);
      return [200, { data: null, errors: [{ message: `no fake GraphQL operation ${name ?? "(unnamed)"}` }] }];
    }
    return handler(variables ?? {}, call);
  }

  /**
   * Serves the same routes over real HTTP on loopback, for a child process (the MCP server, the
   * Action's CLI) that nock cannot reach. Its base URL works both as GITHUB_API_URL and, through
   * GHE_HOST=127.0.0.1:<port> with GHE_PROTOCOL=http, as an Enterprise Server's `/api/v3` (stripped).
   */
  async listen(): Promise<{ url: string; host: string; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const uri = (req.url ?? "/").replace(/^\/api\/v3(?=\/)/, "");
        const [status, body, headers] = this.dispatch(req.method ?? "GET", uri, Buffer.concat(chunks).toString("utf8"));
        res.writeHead(status, { "content-type": "application/json", ...(headers ?? {}) });
        res.end(body === undefined ? "" : JSON.stringify(body));
      });
    });
    // nock intercepts http.request in this process; the child's requests arrive over the socket.
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  dispose(): void {
    nock.cleanAll();
  }
}
