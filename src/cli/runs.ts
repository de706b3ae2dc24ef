import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import type { QueuePosition } from "../jobs/queue.js";
import { queuePositions } from "../jobs/sqlite-queue.js";
import { existingRunDatabases, runDatabaseCandidates, settleAbandoned } from "../local/history.js";
import { RUN_SOURCES, RUN_STATUSES, RunStore, type RunDetail, type RunFilter, type RunSource, type RunStatus, type RunSummary } from "../store/runs.js";
import { describeOrigin, keptReviewOf, localRange, runTarget, statusWithPlace } from "../web/runs-routes.js";
import { EXIT, UsageError, type CliIO } from "./io.js";

export const RUNS_HELP = `Usage: codex-pr-bot runs [options]
       codex-pr-bot runs show <run id> [--json]

Lists recent runs from the run store: the GitHub App's (pull request jobs) and the local ones
(review and fix from this CLI, the MCP tools and the GitHub Action), newest first.

The store is DATABASE_PATH, else DATA_DIR/codex-pr-bot.sqlite, else
$XDG_STATE_HOME/codex-pr-bot/codex-pr-bot.sqlite (~/.local/state/…); with neither DATA_DIR nor
DATABASE_PATH set, the app's default ./.data/codex-pr-bot.sqlite is read too.

Options:
  --repo <owner/name>   Only this repository (a local checkout without an origin: its directory name)
  --status <status>     queued | running | succeeded | failed | cancelled | timed_out
  --source <source>     app | cli | mcp | action
  --limit <n>           How many (1-200, default 20)
  --json                Print JSON

\`runs show\` prints one run: its facts, what it created on GitHub, and a review GitHub refused
(kept to be posted by the next review of the same head without running the agent again).
`;

export async function runsCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      repo: { type: "string" },
      status: { type: "string" },
      source: { type: "string" },
      limit: { type: "string", default: "20" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(RUNS_HELP);
    return EXIT.ok;
  }
  if (positionals[0] === "show") {
    if (positionals.length !== 2) throw new UsageError("runs show takes one run id");
    return showRun(positionals[1]!, values.json, io);
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError("--limit must be an integer from 1 to 200");
  if (values.status !== undefined && !RUN_STATUSES.includes(values.status as RunStatus)) {
    throw new UsageError(`--status must be one of ${RUN_STATUSES.join(", ")}`);
  }
  if (values.source !== undefined && !RUN_SOURCES.includes(values.source as RunSource)) {
    throw new UsageError(`--source must be one of ${RUN_SOURCES.join(", ")}`);
  }
  const filter: RunFilter = { repo: values.repo, status: values.status as RunStatus | undefined, source: values.source as RunSource | undefined, limit };
  const files = existingRunDatabases(io.env, io.cwd);
  const runs = listRuns(files, filter);
  const places = queuedPlaces(files, runs);
  if (values.json) {
    const out = runs.map((r) => (places.has(r.id) ? { ...r, queue: places.get(r.id) } : r));
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return EXIT.ok;
  }
  if (runs.length === 0) {
    const where = files.length > 0 ? files.join(" or ") : `${runDatabaseCandidates(io.env, io.cwd).join(" or ")} (not created yet)`;
    io.stdout.write(`No runs in ${where}.\n`);
    return EXIT.ok;
  }
  io.stdout.write(`${"RUN".padEnd(23)}  ${"QUEUED (UTC)".padEnd(19)}  ${"STATUS".padEnd(9)} ${"MODE".padEnd(6)} ${"FROM".padEnd(6)} WHAT\n`);
  for (const r of runs) io.stdout.write(`${line(r, places)}\n`);
  return EXIT.ok;
}

/** `runs show <id>`: the run from whichever store holds it. */
function showRun(id: string, json: boolean, io: CliIO): number {
  for (const file of existingRunDatabases(io.env, io.cwd)) {
    const store = new RunStore(file);
    let run: RunDetail | null;
    try {
      run = store.get(id);
    } finally {
      store.close();
    }
    if (!run) continue;
    if (json) {
      io.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
      return EXIT.ok;
    }
    const facts: [string, string][] = [
      ["Run", run.id],
      ["What", `${run.mode} of ${run.repo}${run.prNumber ? `#${run.prNumber}` : ""}`],
      ["Status", run.status],
      ["Head", run.headSha ?? ""],
      ["Findings", run.findings === null ? "" : String(run.findings)],
      ["Error", run.error ?? ""],
      ...Object.entries(run.links).map(([k, v]) => [k, String(v)] as [string, string]),
    ];
    for (const [k, v] of facts) if (v) io.stdout.write(`${`${k}:`.padEnd(10)} ${oneLine(v)}\n`);
    if (run.effects.length > 0) {
      io.stdout.write("\nOn GitHub:\n");
      for (const e of run.effects) io.stdout.write(`  ${e.kind.padEnd(10)} ${e.state.padEnd(9)} ${e.githubId ?? ""} ${e.key}\n`);
    }
    const kept = keptReviewOf(run);
    if (kept) {
      io.stdout.write(`\nReview kept, not posted (GitHub: ${oneLine(kept.error)}). The next review of this head posts it without running the agent again:\n\n`);
      for (const line of kept.body.split("\n")) io.stdout.write(`  ${plain(line)}\n`);
      for (const c of kept.comments) {
        io.stdout.write(`\n  Inline comment on ${plain(c.path)}:${c.line}\n`);
        for (const line of c.body.split("\n")) io.stdout.write(`    ${plain(line)}\n`);
      }
    }
    return EXIT.ok;
  }
  io.stderr.write(`No run ${id} in ${existingRunDatabases(io.env, io.cwd).join(" or ") || "any run store"}.\n`);
  return EXIT.error;
}

/**
 * The newest runs across the stores (one in the usual case): run ids sort by creation, so merging
 * each store's newest `limit` and cutting again gives the overall newest. A local run whose process
 * died is settled first, so it is not listed as running for ever.
 */
export function listRuns(files: readonly string[], filter: RunFilter): RunSummary[] {
  const all: RunSummary[] = [];
  for (const file of files) {
    const store = new RunStore(file);
    try {
      settleAbandoned(store);
      all.push(...store.list(filter));
    } finally {
      store.close();
    }
  }
  return all.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, filter.limit ?? 50);
}

/**
 * Where the queued runs stand, read from the embedded queue's table in the same files (run ids
 * are unique across files). A BullMQ deployment's queue is in Redis: no places then.
 */
export function queuedPlaces(files: readonly string[], runs: readonly RunSummary[]): Map<string, QueuePosition> {
  const out = new Map<string, QueuePosition>();
  const queued = runs.filter((r) => r.status === "queued" && r.jobId !== null && r.installationId !== null);
  if (queued.length === 0) return out;
  for (const file of files) {
    let db: Database.Database | null = null;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
      const jobs = queued.map((r) => {
        const [owner = "", name = ""] = r.repo.split("/");
        return { id: r.jobId!, installationId: r.installationId!, repo: { owner, name }, runId: r.id };
      });
      const places = queuePositions(db, jobs);
      for (const j of jobs) {
        const p = places.get(j.id);
        if (p) out.set(j.runId, p);
      }
    } catch {
      // A file without a readable queue: its runs are listed without places.
    } finally {
      db?.close();
    }
  }
  return out;
}

function line(r: RunSummary, places: ReadonlyMap<string, QueuePosition> = new Map()): string {
  const when = new Date(r.queuedAt).toISOString().replace("T", " ").slice(0, 19);
  const context = r.source === "app" ? describeOrigin(r) : (localRange(r) ?? "");
  const executors = r.executors.length > 0 ? ` ${r.executors.join("+")}` : "";
  const took = r.durationMs !== null ? ` ${Math.round(r.durationMs / 1000)}s` : "";
  const findings = r.findings !== null ? ` ${r.findings} finding(s)` : "";
  const patch = r.patchOutput === null ? "" : r.patchOutput === "applied" ? " patch applied" : ` patch: ${r.patchOutput}`;
  const error = r.error ? ` (${oneLine(r.error)})` : "";
  return `${r.id}  ${when}  ${statusWithPlace(r, places).padEnd(9)} ${r.mode.padEnd(6)} ${r.source.padEnd(6)} ${plain(runTarget(r))} [${plain(context)}]${executors}${took}${findings}${plain(patch)}${error}`;
}

/** Errors and refs may come from agents or repositories: one line, no control characters, bounded. */
function oneLine(text: string): string {
  const flat = plain(text.replace(/\s+/g, " ").trim());
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

function plain(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
}
