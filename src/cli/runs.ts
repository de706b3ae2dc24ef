import { parseArgs } from "node:util";
import { readDurableSettings } from "../jobs/create-queue.js";
import { describeTrigger } from "../jobs/trigger.js";
import path from "node:path";
import { RUN_STATUSES, RunStore, type RunStatus } from "../store/runs.js";
import { EXIT, UsageError, type CliIO } from "./io.js";

export const RUNS_HELP = `Usage: codex-pr-bot runs [options]

Lists recent runs from the run store (DATABASE_PATH, default DATA_DIR/codex-pr-bot.sqlite).

Options:
  --repo <owner/name>   Only this repository
  --status <status>     queued | running | succeeded | failed | cancelled | timed_out
  --limit <n>           How many (1-200, default 20)
  --json                Print JSON
`;

export async function runsCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      repo: { type: "string" },
      status: { type: "string" },
      limit: { type: "string", default: "20" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(RUNS_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError("--limit must be an integer from 1 to 200");
  if (values.status !== undefined && !RUN_STATUSES.includes(values.status as RunStatus)) {
    throw new UsageError(`--status must be one of ${RUN_STATUSES.join(", ")}`);
  }
  const dataDir = path.resolve(io.cwd, io.env.DATA_DIR?.trim() || ".data");
  const durable = readDurableSettings({ ...io.env, WORKERS: "1" }, { dataDir });
  const store = new RunStore(durable.databasePath);
  try {
    const runs = store.list({ repo: values.repo, status: values.status as RunStatus | undefined, limit });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      return EXIT.ok;
    }
    if (runs.length === 0) {
      io.stdout.write(`No runs in ${durable.databasePath}.\n`);
      return EXIT.ok;
    }
    for (const r of runs) {
      const when = new Date(r.queuedAt).toISOString().replace("T", " ").slice(0, 19);
      const took = r.startedAt !== null && r.finishedAt !== null ? ` ${Math.round((r.finishedAt - r.startedAt) / 1000)}s` : "";
      const findings = r.findings !== null ? ` ${r.findings} finding(s)` : "";
      const error = r.error ? ` (${r.error})` : "";
      io.stdout.write(`${r.id}  ${when}  ${r.status.padEnd(9)} ${r.mode.padEnd(6)} ${r.repo}#${r.prNumber} [${describeTrigger(r.trigger)}]${took}${findings}${error}\n`);
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}
