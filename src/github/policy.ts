import type { Octokit } from "./client.js";

/**
 * How the bot's GitHub client meets GitHub's ordinary failures (issue 16), decided in one place
 * instead of by plugin defaults. Octokit's retry plugin would repeat any failed request, a review's
 * POST included, so a 502 whose review GitHub had created posted it twice; and Probot's throttle
 * options wait out a primary rate limit for up to an hour inside a request. Instead:
 *
 * - reads (GET, HEAD, GraphQL queries) are retried on 5xx, timeouts and network errors, with
 *   exponential backoff and jitter, until `retryBudgetMs` has passed;
 * - a rate limit (secondary: 403/429 with `retry-after` or GitHub's "secondary rate limit" message;
 *   primary: `x-ratelimit-remaining: 0`) is waited out when the wait is short and has not been waited
 *   `maxRateLimitWaits` times already, for reads and writes alike (a limited request was not
 *   processed); otherwise `GitHubUnavailableError` tells the worker to put the job back for later;
 * - writes are never repeated blindly. A write that failed in a way that may have reached GitHub (5xx,
 *   timeout, connection reset) is looked for first, with the `lookup` the caller passes in the call's
 *   `request` options, and repeated only when GitHub does not have it. PATCH/PUT/DELETE and writes
 *   the caller marks `idempotent` (a reaction: GitHub answers 200 for one that exists; resolving a
 *   thread) are repeated as they are. A POST with neither fails at once with `AmbiguousWriteError`.
 *
 * Every attempt has its own timeout (`requestTimeoutMs`): a hung connection must not hang the job.
 */

export interface ClientPolicy {
  /** Each attempt's deadline. GITHUB_REQUEST_TIMEOUT_MS, default 30 s. */
  requestTimeoutMs: number;
  /** How long one request keeps trying through 5xx and network errors. GITHUB_RETRY_BUDGET_MS, default 120 s. */
  retryBudgetMs: number;
  /** Rate-limit waits per request before the job is put back on the queue. Default 2. */
  maxRateLimitWaits: number;
  /** The longest rate-limit wait taken inside a request; longer ones put the job back. Default 60 s. */
  maxRateLimitWaitMs: number;
}

export const DEFAULT_CLIENT_POLICY: ClientPolicy = {
  requestTimeoutMs: 30_000,
  retryBudgetMs: 120_000,
  maxRateLimitWaits: 2,
  maxRateLimitWaitMs: 60_000,
};

/** What a write passes in its call's `request` options (`octokit.rest.x.y({ ..., request: writeOptions(...) })`). */
export interface WriteOptions {
  /** Finds the effect of this write on GitHub (the created object, as the write would return it), or null. */
  lookup?: () => Promise<unknown>;
  /** Repeating the write has no further effect. */
  idempotent?: boolean;
}

/** GitHub could not be used for now (rate limited, or unreachable past the retry budget): try the job again at `retryAt`. */
export class GitHubUnavailableError extends Error {
  override readonly name = "GitHubUnavailableError";
  constructor(
    readonly reason: "rate-limit" | "unreachable",
    readonly retryAt: number,
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    super(
      reason === "rate-limit"
        ? `GitHub's rate limit stopped ${request} until ${new Date(retryAt).toISOString()}`
        : `GitHub did not answer ${request} (${describeCause(options?.cause)})`,
      options,
    );
  }
}

/** A write that may or may not have reached GitHub, and nothing can tell which: not repeated. */
export class AmbiguousWriteError extends Error {
  override readonly name = "AmbiguousWriteError";
  constructor(
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    super(`GitHub failed ${request} (${describeCause(options?.cause)}) and the bot cannot tell whether it took effect, so it was not repeated`, options);
  }
}

export interface PolicyHooks {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  warn?: (fields: Record<string, unknown>, message: string) => void;
}

interface EndpointOptions {
  method: string;
  url: string;
  query?: string;
  request?: Record<string, unknown> & WriteOptions & { signal?: AbortSignal };
  [key: string]: unknown;
}

type RequestFn = (options: EndpointOptions) => Promise<{ status: number; url: string; headers: Record<string, unknown>; data: unknown }>;

const applied = new WeakSet<object>();

/** Puts the policy around every request of `octokit` (once; later calls are no-ops). Returns it. */
export function applyClientPolicy<T extends Octokit>(octokit: T, policy: ClientPolicy = DEFAULT_CLIENT_POLICY, hooks: PolicyHooks = {}): T {
  if (applied.has(octokit)) return octokit;
  applied.add(octokit);
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = hooks.random ?? Math.random;
  const now = hooks.now ?? Date.now;
  // Probot's octokit.log is pino, which takes the fields first.
  const warn = hooks.warn ?? ((fields, message) => (octokit.log.warn as unknown as (f: object, m: string) => void)(fields, message));

  const wrap = async (request: unknown, options: unknown): Promise<Awaited<ReturnType<RequestFn>>> => {
    const send = request as RequestFn;
    const opts = options as EndpointOptions;
    const what = `${opts.method} ${opts.url}`;
    const read = isRead(opts);
    const write = opts.request ?? {};
    const retryable = read || opts.method === "PATCH" || opts.method === "PUT" || opts.method === "DELETE" || write.idempotent === true;
    const callerSignal = write.signal;
    const deadline = now() + policy.retryBudgetMs;
    let waits = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const signal = callerSignal ? AbortSignal.any([callerSignal, AbortSignal.timeout(policy.requestTimeoutMs)]) : AbortSignal.timeout(policy.requestTimeoutMs);
        // In place: before-after-hook binds the same options object to every inner hook, so a copy
        // would not reach them. The retry plugin's own retries are off: this policy decides.
        opts.request = { ...write, retries: 0, signal };
        return await send(opts);
      } catch (err) {
        if (callerSignal?.aborted) throw err;
        const limit = rateLimitOf(err, now());
        if (limit) {
          if (waits >= policy.maxRateLimitWaits || limit.waitMs > policy.maxRateLimitWaitMs) {
            throw new GitHubUnavailableError("rate-limit", now() + limit.waitMs, what, { cause: err });
          }
          waits++;
          warn({ request: what, waitMs: limit.waitMs, kind: limit.kind }, "GitHub rate limit: waiting before trying again");
          await sleep(limit.waitMs);
          continue;
        }
        if (!isTransient(err)) throw err;
        const left = deadline - now();
        if (left <= 0) throw new GitHubUnavailableError("unreachable", now() + 60_000, what, { cause: err });
        // Full jitter: many jobs failing together must not come back together.
        const backoff = Math.min(left, Math.round(Math.min(15_000, 500 * 2 ** (attempt - 1)) * (0.5 + random() / 2)));
        warn({ request: what, attempt, backoffMs: backoff, err: describeCause(err) }, "GitHub request failed: trying again");
        await sleep(backoff);
        if (retryable || notSent(err)) continue;
        if (!write.lookup) throw new AmbiguousWriteError(what, { cause: err });
        // Did the failed write take effect? The lookup's own reads go through this policy too.
        const existing = await write.lookup();
        if (existing !== null && existing !== undefined) {
          warn({ request: what }, "GitHub failed a write that had taken effect: using what it created");
          return { status: 200, url: opts.url, headers: {}, data: existing };
        }
      }
    }
  };
  octokit.hook.wrap("request", wrap as unknown as Parameters<typeof octokit.hook.wrap<"request">>[1]);
  return octokit;
}

function isRead(opts: EndpointOptions): boolean {
  if (opts.method === "GET" || opts.method === "HEAD") return true;
  // GraphQL reads are POSTs; a mutation is a write.
  return opts.url === "/graphql" && typeof opts.query === "string" && !/^\s*mutation\b/.test(opts.query);
}

function statusOf(err: unknown): number | null {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : null;
}

function headersOf(err: unknown): Record<string, string | undefined> {
  return ((err as { response?: { headers?: Record<string, string | undefined> } } | null)?.response?.headers ?? {}) as Record<
    string,
    string | undefined
  >;
}

/** A rate limit, and how long GitHub asks to wait; null for any other failure. */
export function rateLimitOf(err: unknown, nowMs: number): { kind: "secondary" | "primary"; waitMs: number } | null {
  const status = statusOf(err);
  if (status !== 403 && status !== 429) return null;
  const headers = headersOf(err);
  const message = err instanceof Error ? err.message : "";
  const retryAfter = Number(headers["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter >= 0 && headers["retry-after"] !== undefined) {
    return { kind: "secondary", waitMs: retryAfter * 1000 };
  }
  if (headers["x-ratelimit-remaining"] === "0") {
    const reset = Number(headers["x-ratelimit-reset"]) * 1000;
    // One second past the reset, as GitHub's documentation asks.
    return { kind: "primary", waitMs: Number.isFinite(reset) ? Math.max(0, reset - nowMs) + 1000 : 60_000 };
  }
  // GitHub's documentation: without retry-after, wait at least a minute after a secondary limit.
  if (/secondary rate limit/i.test(message) || status === 429) return { kind: "secondary", waitMs: 60_000 };
  return null;
}

function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  // @octokit/request reports network errors and timeouts as 500 without a response. 501 and other
  // 5xx say the request itself is not served: trying again cannot help.
  return status === null || status === 500 || status === 502 || status === 503 || status === 504;
}

/** The connection was never made: the write cannot have reached GitHub. */
function notSent(err: unknown): boolean {
  let cause: unknown = err;
  for (let i = 0; i < 4 && cause; i++) {
    const code = (cause as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN") return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

function describeCause(cause: unknown): string {
  const status = statusOf(cause);
  const message = cause instanceof Error ? cause.message : String(cause ?? "unknown error");
  return status !== null && !message.startsWith(String(status)) ? `${status}: ${message}` : message;
}

/** The policy from the environment (docs/configuration.md). */
export function clientPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): ClientPolicy {
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of milliseconds, got ${JSON.stringify(raw)}`);
    return value;
  };
  return {
    requestTimeoutMs: num("GITHUB_REQUEST_TIMEOUT_MS", DEFAULT_CLIENT_POLICY.requestTimeoutMs),
    retryBudgetMs: num("GITHUB_RETRY_BUDGET_MS", DEFAULT_CLIENT_POLICY.retryBudgetMs),
    maxRateLimitWaits: DEFAULT_CLIENT_POLICY.maxRateLimitWaits,
    maxRateLimitWaitMs: num("GITHUB_MAX_RATE_LIMIT_WAIT_MS", DEFAULT_CLIENT_POLICY.maxRateLimitWaitMs),
  };
}
