import path from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { severitySchema } from "../config/schema.js";
import { refusal } from "../engine/doors.js";
import { agentNames, checkAgents, EXECUTOR_CHOICES } from "../local/pick-agents.js";
import { applyPatch, PatchApplyError, type ApplyOutcome } from "../local/apply.js";
import { fixLocal, type LocalFixResult } from "../local/run.js";
import { existingRunDatabases, recordPatchOutput, settleAbandoned } from "../local/history.js";
import { formatText, toJson } from "../local/format.js";
import { reviewLocal } from "../local/run.js";
import { loadLocalSettings } from "../local/settings.js";
import { RunStore, type RunDetail } from "../store/runs.js";
import { registerDispatchTools } from "./dispatch.js";
import type { Progress } from "../types.js";

/**
 * The MCP server (`codex-pr-bot mcp`): the local review and fix engines as tools for an MCP client
 * (an editor, an agent). Inputs are validated with zod by the SDK; long runs report progress
 * notifications when the client sent a progress token, and stop when the client cancels.
 */

export interface McpOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  version: string;
}

/** Progress notifications are throttled to one per this many ms (the last state always goes out). */
const PROGRESS_INTERVAL_MS = 1000;

function describe(p: Progress, agent: string | null = null): string {
  const parts = [`${agent ? `${agent}: ` : ""}${p.commandsCompleted} command(s) run`];
  if (p.plan.length > 0) parts.push(`plan ${p.plan.filter((s) => s.completed).length}/${p.plan.length}`);
  if (p.currentCommand) parts.push(`running: ${p.currentCommand}`);
  else if (p.lastNote) parts.push(p.lastNote);
  return parts.join(" · ");
}

/** Sends `notifications/progress` when the client asked for them (a progress token), throttled. */
interface ProgressReporter {
  report(message: string): Promise<void>;
  /** An agent's progress: its notice at once when it has a new one, else a throttled summary. */
  progress(p: Progress, agent?: string | null): void;
  throttled(message: string): void;
}

function progressReporter(extra: ToolExtra): ProgressReporter {
  const token = extra._meta?.progressToken;
  let step = 0;
  let last = 0;
  let lastNotice: string | null = null;
  // Chained, so notifications leave in the order they were made (the last one before the result).
  let chain = Promise.resolve();
  const report = (message: string): Promise<void> => {
    if (token === undefined) return Promise.resolve();
    const progress = ++step;
    chain = chain.then(() =>
      extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, message } }).catch(() => undefined),
    );
    return chain;
  };
  return {
    report,
    progress(p, agent = null) {
      // A notice (the agent cannot reach its model API) goes out at once, not at the next throttle slot.
      if (p.notice && p.notice !== lastNotice) {
        lastNotice = p.notice;
        void report(`${agent ? `${agent}: ` : ""}${p.notice}`);
        return;
      }
      this.throttled(describe(p, agent));
    },
    throttled(message) {
      const now = Date.now();
      if (now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      void report(message);
    },
  };
}

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export function createMcpServer(options: McpOptions): McpServer {
  const server = new McpServer({ name: "codex-pr-bot", version: options.version });
  const settings = loadLocalSettings(options.env, options.cwd);

  server.registerTool(
    "review_local",
    {
      title: "Review a local change",
      description:
        "Reviews the change between a base ref and HEAD (optionally with uncommitted work) in a local git checkout with Codex, " +
        "Claude or both (in parallel, findings merged), read-only, and returns the findings with file:line locations. Can take minutes.",
      inputSchema: {
        path: z.string().min(1).describe("A directory inside the git checkout (absolute, or relative to the server's working directory)"),
        base: z.string().min(1).max(200).optional().describe("Base ref (default: upstream branch, origin/HEAD, main or master)"),
        mode: z.enum(["review", "audit"]).default("review").describe("review, or audit for a security audit"),
        uncommitted: z.boolean().default(false).describe("Include uncommitted changes to tracked files"),
        min_severity: severitySchema.optional().describe("Lowest severity reported (default: the repository config's, P2)"),
        executor: z
          .enum(EXECUTOR_CHOICES)
          .default("codex")
          .describe("codex, claude, or both (run in parallel, findings merged; claude needs ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_BASE_URL)"),
      },
    },
    async (args, extra) => {
      const progress = progressReporter(extra);
      const agents = agentNames(args.executor);
      checkAgents(agents, settings);
      void progress.report(`starting ${agents.join(" and ")}`);
      const result = await reviewLocal({
        dir: path.resolve(options.cwd, args.path),
        base: args.base ?? null,
        mode: args.mode,
        uncommitted: args.uncommitted,
        agents,
        settings,
        minSeverity: args.min_severity ?? null,
        signal: extra.signal,
        onProgress: (p, agent) => progress.progress(p, agents.length > 1 ? agent : null),
        source: "mcp",
      });
      // Awaited: the last notification must reach the client before the result does.
      await progress.report(`done: ${result.outcome.findings.length} finding(s)`);
      return {
        content: [{ type: "text", text: `${formatText(result)}${runLine(result.runId)}` }],
        structuredContent: { ...(toJson(result) as Record<string, unknown>), runId: result.runId },
      };
    },
  );

  server.registerTool(
    "fix_local",
    {
      title: "Fix something in a local checkout",
      description:
        "Lets Codex (or Claude) change the code of a local git checkout on a scratch worktree at HEAD, following an instruction " +
        "(mode fix) or writing tests for the change base...HEAD (mode tests). The change is checked against the bot's safety rules " +
        "(no workflow edits, symlinks out of the tree, secrets, binaries) and returned as a patch with the list of changed files; " +
        "with apply=true it is also applied to the working tree (which must have no uncommitted changes to tracked files). Can take minutes.",
      inputSchema: {
        path: z.string().min(1).describe("A directory inside the git checkout (absolute, or relative to the server's working directory)"),
        base: z.string().min(1).max(200).optional().describe("Base ref of the change given as context (default: upstream branch, origin/HEAD, main or master)"),
        mode: z.enum(["fix", "tests"]).default("fix").describe("fix: make the change the instruction asks for; tests: write tests for the change"),
        instruction: z.string().max(20_000).optional().describe("What to do (required for mode fix)"),
        apply: z.boolean().default(false).describe("Apply the patch to the working tree (default: only return it)"),
        executor: z.enum(EXECUTOR_CHOICES).default("codex").describe("The agent that makes the change (codex or claude; both is for reviews)"),
      },
    },
    async (args, extra) => {
      const instruction = args.instruction?.trim() || null;
      if (args.mode === "fix" && instruction === null) {
        return { isError: true, content: [{ type: "text", text: "mode fix needs an instruction: say what to change." }] };
      }
      const agent = args.executor;
      if (agent === "both") return { isError: true, content: [{ type: "text", text: `${refusal("mcp", args.mode, agent)}.` }] };
      checkAgents([agent], settings);
      const progress = progressReporter(extra);
      void progress.report(`starting ${agent}`);
      const result = await fixLocal({
        dir: path.resolve(options.cwd, args.path),
        base: args.base ?? null,
        mode: args.mode,
        agent,
        settings,
        instruction,
        forApply: args.apply,
        signal: extra.signal,
        onProgress: (p) => progress.progress(p),
        source: "mcp",
      });
      let applied: ApplyOutcome | null = null;
      let applyError: string | null = null;
      const verifyFailed = result.verify !== null && !result.verify.passed;
      if (args.apply && result.status === "changed" && !verifyFailed) {
        try {
          applied = await applyPatch(result.range.root, result.patch, extra.signal);
        } catch (err) {
          if (!(err instanceof PatchApplyError)) throw err;
          applyError = err.message;
        }
      }
      if (result.status === "changed") {
        const conflicts = applied !== null && applied.conflicts.length > 0 ? `applied with conflicts in: ${applied.conflicts.join(", ")}` : null;
        recordPatchOutput(settings.history, result.runId, applied !== null ? "applied" : "returned", applyError !== null ? `the patch does not apply: ${applyError}` : conflicts);
      }
      await progress.report(`done: ${result.status === "changed" ? `${result.changes.length} file(s) changed` : result.status}`);
      const structured = fixJson(result, applied, applyError);
      return {
        isError: result.status === "refused" || applyError !== null || (applied?.conflicts.length ?? 0) > 0,
        content: [{ type: "text", text: `${fixText(result, applied, applyError, args.apply)}${runLine(result.runId)}` }],
        structuredContent: structured,
      };
    },
  );

  // Offered whenever there is a run store to read: one exists, or this server records its own runs
  // into one (review_local and fix_local return the run id to look up).
  if (settings.history || existingRunDatabases(options.env, options.cwd).length > 0) {
    server.registerTool(
      "get_run",
      {
        title: "Get a run",
        description:
          "Returns one run from the run store (status, timings, usage, cost, findings count, links, error): a GitHub App job " +
          "(review_pr, fix_pr, a webhook) or a local review or fix (review_local, fix_local, the CLI, the GitHub Action), " +
          "with its source, checkout, base..head range and, for a fix, where the patch went.",
        inputSchema: { id: z.string().min(1).max(100).describe("Run id, as returned by review_local / fix_local / review_pr, or listed by `codex-pr-bot runs`") },
      },
      async (args) => {
        const run = findRun(options, args.id);
        if (!run) return { isError: true, content: [{ type: "text", text: `No run with id ${args.id}.` }] };
        const { events: _events, diff: _diff, ...summary } = run;
        return {
          content: [{ type: "text", text: JSON.stringify(summary, null, 2) }],
          structuredContent: summary as unknown as Record<string, unknown>,
        };
      },
    );
  }
  registerDispatchTools(server, { env: options.env, cwd: options.cwd });
  return server;
}

/** The fix result for a client: what changed, the patch, and what happened to it. */
function fixJson(result: LocalFixResult, applied: ApplyOutcome | null, applyError: string | null): Record<string, unknown> {
  return {
    runId: result.runId,
    status: result.status,
    mode: result.mode,
    agent: result.agent,
    base: { ref: result.range.baseRef, sha: result.range.baseSha },
    head: { ref: result.range.headRef, sha: result.range.headSha },
    changedFiles: result.changes.map((c) => ({ path: c.path, status: c.status, additions: c.additions, deletions: c.deletions, binary: c.binary })),
    patch: result.patch,
    violations: result.violations,
    verify: result.verify,
    applied: applied ? { method: applied.method, conflicts: applied.conflicts } : null,
    applyError,
    agentMessage: result.agentMessage,
    commands: result.commands.map((c) => ({ command: c.command, exitCode: c.exitCode, status: c.status })),
    warnings: result.warnings,
    usage: result.usage,
    costUsd: result.costUsd,
    model: result.model,
    durationMs: result.durationMs,
  };
}

function fixText(result: LocalFixResult, applied: ApplyOutcome | null, applyError: string | null, apply: boolean): string {
  const lines = result.warnings.map((w) => `Warning: ${w}`);
  if (result.status === "unchanged") {
    lines.push(`${result.agent} changed nothing.`, "", result.agentMessage);
    return lines.join("\n").trimEnd();
  }
  if (result.status === "refused") {
    lines.push("Refused: the change breaks the fix safety rules, so no patch is returned:");
    for (const v of result.violations) lines.push(`- ${v.path}: ${v.reason}`);
    return lines.join("\n");
  }
  lines.push(`${result.agent} changed ${result.changes.length} file(s): ${result.changes.map((c) => `${c.path} (${c.status})`).join(", ")}.`);
  if (result.verify) lines.push(`Verification \`${result.verify.command}\` ${result.verify.passed ? "passed" : "failed"}.`);
  if (applyError !== null) lines.push(`Not applied: ${applyError}`);
  else if (applied) lines.push(applied.conflicts.length > 0 ? `Applied with conflicts in: ${applied.conflicts.join(", ")}.` : "Applied to the working tree.");
  else if (apply) lines.push("Not applied, because the verification failed.");
  if (result.agentMessage.trim() !== "") lines.push("", result.agentMessage.trim());
  lines.push("", "```diff", result.patch.trimEnd(), "```");
  return lines.join("\n");
}

/** The run in whichever store holds it (the local history's file, or the app's default one). */
function findRun(options: McpOptions, id: string): RunDetail | null {
  for (const file of existingRunDatabases(options.env, options.cwd)) {
    const store = new RunStore(file);
    try {
      settleAbandoned(store);
      const run = store.get(id);
      if (run) return run;
    } finally {
      store.close();
    }
  }
  return null;
}

function runLine(runId: string | null): string {
  return runId === null ? "" : `\n\nRecorded as run ${runId} (get_run shows it).`;
}
