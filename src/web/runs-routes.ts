import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { placeLabel, type PositionOf, type QueuePosition, type QueueStats } from "../jobs/queue.js";
import { describeTrigger } from "../jobs/trigger.js";
import { RUN_PHASES, RUN_SOURCES, RUN_STATUSES, type RunDetail, type RunSource, type RunStatus, type RunStore, type RunSummary } from "../store/runs.js";

/** Probot 14's `addHandler` shape: true when the request was answered, false to pass it on. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface RunsRoutesOptions {
  /** Null when the run store is not wired (the runs routes then answer 404 like when they are off). */
  runs: Pick<RunStore, "list" | "get"> | null;
  /** RUNS_TOKEN. Null or empty: the runs pages are off (404); /health stays on. */
  token: string | null;
  /** Queue counts for /health; omitted when the queue cannot count. */
  stats?: () => Promise<QueueStats>;
  /** A queued run's place in the queue (JobQueue.position); omitted when the queue cannot tell. */
  position?: (job: PositionOf) => Promise<QueuePosition | null>;
}

const COOKIE = "codex_pr_bot_runs";

/**
 * The run history pages and the health endpoint. Runs hold agent logs and diffs of private code, so
 * they are off unless an operator sets a token, and every response about runs says no-store. Every
 * string from a run (PR titles, logs, diffs, errors) is attacker-influenced and is escaped.
 */
export function runsRoutes(options: RunsRoutesOptions): NodeHandler {
  const token = options.token && options.token.length > 0 ? options.token : null;
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";

    if (path === "/health") {
      if (!isRead(req)) return methodNotAllowed(res);
      await health(res, options.stats);
      return true;
    }

    if (path !== "/runs" && !path.startsWith("/runs/")) return false;
    if (!token || !options.runs) {
      send(res, 404, "text/plain; charset=utf-8", "Not Found");
      return true;
    }
    if (!isRead(req)) return methodNotAllowed(res);

    const queryToken = url.searchParams.get("token");
    const presented = bearer(req) ?? queryToken ?? cookie(req, COOKIE);
    if (presented === null || !sameSecret(presented, token)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="codex-pr-bot runs"');
      send(res, 401, "text/plain; charset=utf-8", "Unauthorized");
      return true;
    }

    const json = wantsJson(req, url);
    // A token in a browser's address bar ends up in history and in shared links: trade it for an
    // HttpOnly cookie and show a clean URL.
    if (queryToken !== null && !json) {
      url.searchParams.delete("token");
      res.setHeader(
        "Set-Cookie",
        `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/runs${isHttps(req) ? "; Secure" : ""}`,
      );
      res.setHeader("Location", url.pathname + url.search);
      send(res, 303, "text/plain; charset=utf-8", "See Other");
      return true;
    }

    if (path === "/runs") {
      await list(res, options.runs, url, json, options.position);
      return true;
    }
    const id = decodeURIComponent(path.slice("/runs/".length));
    const run = /^[0-9a-z]{1,64}$/.test(id) ? options.runs.get(id) : null;
    if (!run) {
      if (json) sendJson(res, 404, { error: "not found" });
      else send(res, 404, "text/html; charset=utf-8", page("Run not found", "<p>No such run.</p>"));
      return true;
    }
    if (json) sendJson(res, 200, run);
    else send(res, 200, "text/html; charset=utf-8", detailPage(run));
    return true;
  };
}

async function health(res: ServerResponse, stats: RunsRoutesOptions["stats"]): Promise<void> {
  if (!stats) {
    sendJson(res, 200, { status: "ok" });
    return;
  }
  try {
    const { pending, running } = await stats();
    sendJson(res, 200, { status: "ok", queue: { pending, running } });
  } catch {
    // No error text: it may carry a connection string.
    sendJson(res, 503, { status: "unavailable" });
  }
}

/** Places of the listed runs still queued, by run id (read from the queue's index, one lookup each). */
export async function queuedPositions(
  items: readonly RunSummary[],
  position: RunsRoutesOptions["position"],
): Promise<Map<string, QueuePosition>> {
  const out = new Map<string, QueuePosition>();
  if (!position) return out;
  for (const r of items) {
    if (r.status !== "queued" || r.jobId === null || r.installationId === null) continue;
    const [owner = "", name = ""] = r.repo.split("/");
    try {
      const p = await position({ id: r.jobId, installationId: r.installationId, repo: { owner, name } });
      if (p) out.set(r.id, p);
    } catch {
      // The page still lists the run, only without its place.
    }
  }
  return out;
}

/** "queued (3rd, 2 ahead)" for a queued run whose place is known, else the status. */
export function statusWithPlace(r: Pick<RunSummary, "id" | "status">, places: ReadonlyMap<string, QueuePosition>): string {
  const p = places.get(r.id);
  return p ? `${r.status} (${placeLabel(p.ahead)}${p.ahead > 0 ? `, ${p.ahead} ahead` : ""})` : r.status;
}

async function list(
  res: ServerResponse,
  runs: NonNullable<RunsRoutesOptions["runs"]>,
  url: URL,
  json: boolean,
  position?: RunsRoutesOptions["position"],
): Promise<void> {
  const repo = url.searchParams.get("repo")?.trim() || undefined;
  const statusParam = url.searchParams.get("status")?.trim() || undefined;
  const status = RUN_STATUSES.includes(statusParam as RunStatus) ? (statusParam as RunStatus) : undefined;
  if (statusParam && !status) {
    if (json) sendJson(res, 400, { error: `unknown status; one of ${RUN_STATUSES.join(", ")}` });
    else send(res, 400, "text/plain; charset=utf-8", "Unknown status");
    return;
  }
  const sourceParam = url.searchParams.get("source")?.trim() || undefined;
  const source = RUN_SOURCES.includes(sourceParam as RunSource) ? (sourceParam as RunSource) : undefined;
  if (sourceParam && !source) {
    if (json) sendJson(res, 400, { error: `unknown source; one of ${RUN_SOURCES.join(", ")}` });
    else send(res, 400, "text/plain; charset=utf-8", "Unknown source");
    return;
  }
  const before = url.searchParams.get("before") || undefined;
  const limitParam = Number(url.searchParams.get("limit") ?? 50);
  const limit = Number.isFinite(limitParam) ? limitParam : 50;
  const items = runs.list({ repo, status, source, before, limit });
  const next = items.length > 0 && items.length >= Math.min(200, Math.max(1, limit)) ? items.at(-1)!.id : null;
  const places = await queuedPositions(items, position);
  if (json) {
    // A queued run carries its place: { ahead, running, aheadInRepo }.
    sendJson(res, 200, { runs: items.map((r) => (places.has(r.id) ? { ...r, queue: places.get(r.id) } : r)), next });
    return;
  }
  send(res, 200, "text/html; charset=utf-8", listPage(items, { repo, status, source, next }, places));
}

function listPage(
  items: RunSummary[],
  f: { repo?: string; status?: RunStatus; source?: RunSource; next: string | null },
  places: ReadonlyMap<string, QueuePosition>,
): string {
  const options = ["", ...RUN_STATUSES]
    .map((s) => `<option value="${esc(s)}"${s === (f.status ?? "") ? " selected" : ""}>${esc(s || "any status")}</option>`)
    .join("");
  const rows = items
    .map(
      (r) => `<tr>
  <td><a href="/runs/${esc(r.id)}">${esc(r.id)}</a></td>
  <td>${r.links.pull && /^https?:\/\//.test(r.links.pull) ? `<a href="${esc(r.links.pull)}" rel="noreferrer noopener">${esc(runTarget(r))}</a>` : esc(runTarget(r))}</td>
  <td>${esc(r.prTitle ?? localRange(r) ?? "")}</td>
  <td>${esc(r.mode)}</td>
  <td>${esc(describeOrigin(r))}</td>
  <td class="s-${esc(r.status)}">${esc(statusWithPlace(r, places))}</td>
  <td class="when">${esc(time(r.queuedAt))}</td>
  <td>${esc(duration(total(r)))}</td>
  <td>${r.findings ?? ""}</td>
</tr>`,
    )
    .join("\n");
  const nextQuery = new URLSearchParams();
  if (f.repo) nextQuery.set("repo", f.repo);
  if (f.status) nextQuery.set("status", f.status);
  if (f.source) nextQuery.set("source", f.source);
  if (f.next) nextQuery.set("before", f.next);
  const body = `<form method="get" action="/runs">
  <input name="repo" placeholder="owner/name" value="${esc(f.repo ?? "")}">
  <select name="status">${options}</select>
  ${f.source ? `<input type="hidden" name="source" value="${esc(f.source)}">` : ""}
  <button>Filter</button>
</form>
<table>
<thead><tr><th>Run</th><th>Pull request</th><th>Title</th><th>Mode</th><th>Trigger</th><th>Status</th><th>Queued</th><th>Duration</th><th>Findings</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="9">No runs.</td></tr>'}
</tbody>
</table>
${f.next ? `<p><a href="/runs?${esc(nextQuery.toString())}">Older runs</a></p>` : ""}`;
  return page("Runs", body);
}

function detailPage(r: RunDetail): string {
  const phases = RUN_PHASES.map(
    (p) => `<tr><th>${esc(p)}</th><td>${esc(r.phases[p] === undefined ? "" : duration(r.phases[p]!))}</td></tr>`,
  ).join("");
  const links = Object.entries(r.links)
    .filter(([, v]) => typeof v === "string" && /^https?:\/\//.test(v))
    .map(([k, v]) => `<li>${esc(k)}: <a href="${esc(v)}" rel="noreferrer noopener">${esc(v)}</a></li>`)
    .join("");
  const usage = r.usage
    ? `${r.usage.inputTokens} in (${r.usage.cachedInputTokens} cached), ${r.usage.outputTokens} out (${r.usage.reasoningOutputTokens} reasoning)`
    : "";
  const local: [string, string][] =
    r.source === "app"
      ? []
      : [
          ["Checkout", r.workdir ?? ""],
          ["Range", localRange(r) ?? ""],
          ...(r.patchOutput !== null ? ([["Patch", r.patchOutput]] as [string, string][]) : []),
        ];
  const facts: [string, string][] = [
    ["Repository", runTarget(r)],
    ...(r.source === "app" || r.prTitle !== null ? ([["Title", r.prTitle ?? ""]] as [string, string][]) : []),
    ...local,
    ["Status", r.status],
    ["Mode", r.mode],
    ["Trigger", describeOrigin(r)],
    ["Executors", r.executors.join(", ")],
    ["Base", r.baseSha ?? ""],
    ["Head", r.headSha ?? ""],
    ["Attempts", String(r.attempts)],
    ["Queued", time(r.queuedAt)],
    ["Started", r.startedAt ? time(r.startedAt) : ""],
    ["Finished", r.finishedAt ? time(r.finishedAt) : ""],
    ["Duration", duration(total(r))],
    ["Findings", r.findings === null ? "" : String(r.findings)],
    ["Usage", usage],
    ["Cost", r.costUsd === null ? "" : `$${r.costUsd.toFixed(4)}`],
    ["Error", r.error ?? ""],
  ];
  const events =
    r.logsPrunedAt !== null && r.events.length === 0
      ? `<p class="note">Log and diff deleted by retention on ${esc(time(r.logsPrunedAt))} (RUN_LOG_RETENTION_DAYS).</p>`
      : r.events.length === 0
      ? "<p>No events recorded.</p>"
      : `<pre>${esc(r.events.join("\n"))}</pre>${
          r.eventsDropped > 0 ? `<p class="note">Log truncated: ${r.eventsDropped} later lines were not kept.</p>` : ""
        }`;
  const diff =
    r.diff === null
      ? ""
      : `<h2>Diff</h2><pre>${esc(r.diff)}</pre>${r.diffTruncated ? '<p class="note">Diff truncated.</p>' : ""}`;
  const body = `<p><a href="/runs">All runs</a></p>
<table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>
${links ? `<h2>Links</h2><ul>${links}</ul>` : ""}
${effectsSection(r)}
<h2>Phases</h2>
<table>${phases}</table>
<h2>Events</h2>
${events}
${diff}`;
  return page(`Run ${r.id}`, body);
}

/** What the job created on GitHub, and the review GitHub refused (kept to post later), if any. */
function effectsSection(r: RunDetail): string {
  if (r.effects.length === 0) return "";
  const rows = r.effects
    .map((e) => `<tr><th>${esc(e.kind)}</th><td>${esc(e.key)}</td><td>${esc(e.state)}</td><td>${esc(e.githubId ?? "")}</td></tr>`)
    .join("");
  const kept = keptReviewOf(r);
  const keptHtml = kept
    ? `<h2>Review kept, not posted</h2><p class="note">GitHub did not take it (${esc(kept.error)}). The next review of this head (a redelivery or <code>@codex review</code>) posts it without running the agent again.</p><pre>${esc(kept.body)}</pre>${kept.comments.map((c) => `<h3>${esc(`${c.path}:${c.line}`)}</h3><pre>${esc(c.body)}</pre>`).join("")}`
    : "";
  return `<h2>On GitHub</h2><table><tr><th>kind</th><th>key</th><th>state</th><th>id</th></tr>${rows}</table>${keptHtml}`;
}

/** The review GitHub refused for this run, kept in the ledger (jobs/kept-review.ts); null when none. */
export function keptReviewOf(r: Pick<RunDetail, "effects">): { body: string; error: string; comments: { path: string; line: number; body: string }[] } | null {
  const row = r.effects.find((e) => e.kind === "review" && e.state === "failed");
  const detail = row?.detail as { body?: unknown; error?: unknown; comments?: unknown } | null | undefined;
  if (!detail || typeof detail.body !== "string") return null;
  const comments = (Array.isArray(detail.comments) ? detail.comments : []).filter(
    (c): c is { path: string; line: number; body: string } => typeof c?.path === "string" && typeof c?.line === "number" && typeof c?.body === "string",
  );
  return { body: detail.body, error: typeof detail.error === "string" ? detail.error : "", comments };
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${esc(title)} · codex-pr-bot</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1f2328; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border-bottom: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; vertical-align: top; }
pre { background: #f6f8fa; padding: .75rem; overflow: auto; max-height: 40rem; white-space: pre-wrap; word-break: break-all; }
.when { white-space: nowrap; }
.s-failed, .s-timed_out { color: #cf222e; } .s-succeeded { color: #1a7f37; } .note { color: #9a6700; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>`;
}


const LOCAL_ORIGIN: Record<Exclude<RunSource, "app">, string> = {
  cli: "local: codex-pr-bot CLI",
  mcp: "local: MCP tool",
  action: "GitHub Action",
};

/** Who started a run: the app's trigger ("pull_request.opened by …"), or the local front door. */
export function describeOrigin(r: Pick<RunSummary, "source" | "trigger">): string {
  if (r.source !== "app") return LOCAL_ORIGIN[r.source];
  return r.trigger ? describeTrigger(r.trigger) : "";
}

/** "owner/name#7", or the repository alone for a local run that is about no pull request. */
export function runTarget(r: Pick<RunSummary, "repo" | "prNumber">): string {
  return r.prNumber !== null ? `${r.repo}#${r.prNumber}` : r.repo;
}

/** A local run's "base..head" as the user named them (null for the app's runs). */
export function localRange(r: Pick<RunSummary, "source" | "baseRef" | "headRef">): string | null {
  return r.source !== "app" && r.baseRef !== null && r.headRef !== null ? `${r.baseRef}..${r.headRef}` : null;
}

function total(r: RunSummary): number | null {
  return r.finishedAt !== null ? r.finishedAt - r.queuedAt : null;
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function duration(ms: number | null): string {
  if (ms === null) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Escapes text for HTML content and double- or single-quoted attributes. */
export function esc(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isRead(req: IncomingMessage): boolean {
  return req.method === "GET" || req.method === "HEAD";
}

function methodNotAllowed(res: ServerResponse): true {
  res.setHeader("Allow", "GET, HEAD");
  send(res, 405, "text/plain; charset=utf-8", "Method Not Allowed");
  return true;
}

function wantsJson(req: IncomingMessage, url: URL): boolean {
  const format = url.searchParams.get("format");
  if (format === "json") return true;
  if (format === "html") return false;
  const accept = req.headers.accept ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

function bearer(req: IncomingMessage): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1]! : null;
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

function isHttps(req: IncomingMessage): boolean {
  const proto = req.headers["x-forwarded-proto"];
  return (typeof proto === "string" && proto.split(",")[0]!.trim() === "https") || "encrypted" in req.socket;
}

/** Constant-time comparison; hashing first makes lengths equal so the length doesn't leak either. */
function sameSecret(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'",
  });
  res.end(res.req?.method === "HEAD" ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}
