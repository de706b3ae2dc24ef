import { existsSync } from "node:fs";
import path from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { severitySchema } from "../config/schema.js";
import { CodexExecutor } from "../executors/codex.js";
import { formatText, toJson } from "../local/format.js";
import { reviewLocal } from "../local/review.js";
import { loadLocalSettings } from "../local/settings.js";
import { readDurableSettings } from "../jobs/create-queue.js";
import { RunStore } from "../store/runs.js";
import type { Progress } from "../types.js";

/**
 * The MCP server (`codex-pr-bot mcp`): the local review engine as tools for an MCP client (an
 * editor, an agent). Inputs are validated with zod by the SDK; long runs report progress
 * notifications when the client sent a progress token, and stop when the client cancels.
 */

export interface McpOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  version: string;
}

/** Progress notifications are throttled to one per this many ms (the last state always goes out). */
const PROGRESS_INTERVAL_MS = 1000;

function describe(p: Progress): string {
  const parts = [`${p.commandsCompleted} command(s) run`];
  if (p.plan.length > 0) parts.push(`plan ${p.plan.filter((s) => s.completed).length}/${p.plan.length}`);
  if (p.currentCommand) parts.push(`running: ${p.currentCommand}`);
  else if (p.lastNote) parts.push(p.lastNote);
  return parts.join(" · ");
}

export function createMcpServer(options: McpOptions): McpServer {
  const server = new McpServer({ name: "codex-pr-bot", version: options.version });
  const settings = loadLocalSettings(options.env, options.cwd);

  server.registerTool(
    "review_local",
    {
      title: "Review a local change",
      description:
        "Reviews the change between a base ref and HEAD (optionally with uncommitted work) in a local git checkout with Codex, " +
        "read-only, and returns the findings with file:line locations. Can take minutes.",
      inputSchema: {
        path: z.string().min(1).describe("A directory inside the git checkout (absolute, or relative to the server's working directory)"),
        base: z.string().min(1).max(200).optional().describe("Base ref (default: upstream branch, origin/HEAD, main or master)"),
        mode: z.enum(["review", "audit"]).default("review").describe("review, or audit for a security audit"),
        uncommitted: z.boolean().default(false).describe("Include uncommitted changes to tracked files"),
        min_severity: severitySchema.optional().describe("Lowest severity reported (default: the repository config's, P2)"),
      },
    },
    async (args, extra) => {
      const token = extra._meta?.progressToken;
      let step = 0;
      let last = 0;
      const report = (message: string): Promise<void> => {
        if (token === undefined) return Promise.resolve();
        step++;
        return extra
          .sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: step, message } })
          .catch(() => undefined);
      };
      void report("starting codex");
      const result = await reviewLocal({
        dir: path.resolve(options.cwd, args.path),
        base: args.base ?? null,
        mode: args.mode,
        uncommitted: args.uncommitted,
        executor: new CodexExecutor(settings.codex),
        minSeverity: args.min_severity ?? null,
        signal: extra.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - last < PROGRESS_INTERVAL_MS) return;
          last = now;
          void report(describe(p));
        },
      });
      // Awaited: the last notification must reach the client before the result does.
      await report(`done: ${result.outcome.findings.length} finding(s)`);
      return {
        content: [{ type: "text", text: formatText(result) }],
        structuredContent: toJson(result) as Record<string, unknown>,
      };
    },
  );

  const databasePath = runDatabase(options);
  if (databasePath !== null) {
    server.registerTool(
      "get_run",
      {
        title: "Get a bot run",
        description: "Returns one run of the GitHub App (status, timings, usage, findings count, links, error) from its run store.",
        inputSchema: { id: z.string().min(1).max(100).describe("Run id, as listed by `codex-pr-bot runs` or the runs page") },
      },
      async (args) => {
        const store = new RunStore(databasePath);
        try {
          const run = store.get(args.id);
          if (!run) return { isError: true, content: [{ type: "text", text: `No run with id ${args.id}.` }] };
          const { events: _events, diff: _diff, ...summary } = run;
          return {
            content: [{ type: "text", text: JSON.stringify(summary, null, 2) }],
            structuredContent: summary as unknown as Record<string, unknown>,
          };
        } finally {
          store.close();
        }
      },
    );
  }
  return server;
}

/** The app's run store, when this machine has one (GitHub App configured and the database present). */
function runDatabase(options: McpOptions): string | null {
  if (!options.env.APP_ID?.trim()) return null;
  try {
    const dataDir = path.resolve(options.cwd, options.env.DATA_DIR?.trim() || ".data");
    const file = readDurableSettings({ ...options.env, WORKERS: "1" }, { dataDir }).databasePath;
    return existsSync(file) ? file : null;
  } catch {
    return null;
  }
}
