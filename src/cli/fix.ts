import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ExecutorName } from "../config/schema.js";
import { summarizeChanges } from "../fix/collect.js";
import { VIOLATION_SETTING } from "../fix/policy.js";
import { bothFixRefusal } from "../engine/doors.js";
import { checkAgents } from "../local/pick-agents.js";
import { applyPatch, PatchApplyError } from "../local/apply.js";
import { findingsFromReport } from "../local/findings.js";
import { fixLocal, type LocalFixResult } from "../local/run.js";
import { recordPatchOutput } from "../local/history.js";
import { loadLocalSettings } from "../local/settings.js";
import { formatDuration } from "../review/format.js";
import { EXIT, UsageError, type CliIO } from "./io.js";
import { ProgressLine } from "./progress.js";

export const FIX_HELP = `Usage: codex-pr-bot fix [options] [instruction...]

Lets the agent change the code on a scratch git worktree at HEAD (your checkout is not touched),
checks the change against the app's safety rules, and hands it to you as a patch file, on stdout,
or applied to your working tree. The change base...HEAD is the context it works from.

  codex-pr-bot fix "handle a missing argv[1] in main.c"
  codex-pr-bot fix --mode tests --apply
  codex-pr-bot review --format json -o review.json && codex-pr-bot fix --findings review.json

Options:
  --base <ref>           Base of the change the agent is told about (default: the upstream branch,
                         origin/HEAD, main, master; none found: no context change)
  --mode fix|tests       Fix something (needs an instruction or --findings), or write tests for the
                         change (default: fix)
  --executor <agent>     codex | claude (default: codex)
  --findings <file>      Fix the findings of a \`codex-pr-bot review --format json\` report
  --apply                Apply the change to the working tree (git apply, else git apply --3way);
                         refused when tracked files have uncommitted changes
  -o, --output <file>    Where the patch goes (default: codex-pr-bot-fix.patch; "-": stdout). With
                         --apply it is written only when given, or when the patch does not apply
  --skip-verify          Do not run the config's fix.verify command
  --config <file>        Config file (default: .github/codex-pr-bot.yml in the checkout)
  -C <dir>               Run as if started in <dir>
  --model <name>         Model (default: codex.model / claude.model from the config, CODEX_MODEL /
                         CLAUDE_MODEL, the CLI's default)

Exit codes: 0 a patch was written, printed or applied; 3 the agent changed nothing; 4 the patch was
written but fix.verify failed (so it was not applied); 1 error, including a change refused by the
safety rules and a patch that does not apply (it is kept in the patch file).
`;

/** Exit codes of `fix` beyond the shared ones (documented in docs/cli.md). */
export const FIX_EXIT = { ...EXIT, noChange: 3, verifyFailed: 4 } as const;

const DEFAULT_PATCH = "codex-pr-bot-fix.patch";

export async function fixCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      base: { type: "string" },
      mode: { type: "string", default: "fix" },
      executor: { type: "string", default: "codex" },
      findings: { type: "string" },
      apply: { type: "boolean", default: false },
      output: { type: "string", short: "o" },
      "skip-verify": { type: "boolean", default: false },
      config: { type: "string" },
      C: { type: "string" },
      model: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(FIX_HELP);
    return EXIT.ok;
  }
  const mode = values.mode;
  if (mode !== "fix" && mode !== "tests") throw new UsageError(`--mode must be fix or tests (got "${mode}")`);
  const agent = values.executor;
  if (agent !== "codex" && agent !== "claude") {
    throw new UsageError(
      agent === "both" ? bothFixRefusal("--executor") : `--executor must be codex or claude (got "${agent}")`,
    );
  }
  const instruction = positionals.join(" ").trim() || null;
  const findings = values.findings
    ? findingsFromReport(await readFile(path.resolve(io.cwd, values.findings), "utf8"), values.findings)
    : [];
  if (mode === "fix" && instruction === null && findings.length === 0) {
    throw new UsageError(
      values.findings
        ? `${values.findings} has no findings to fix`
        : 'say what to fix, e.g. codex-pr-bot fix "handle a missing argv[1]", or pass --findings <review.json>',
    );
  }
  const patchTarget = values.output ?? (values.apply ? null : DEFAULT_PATCH);

  const settings = loadLocalSettings(io.env, io.cwd);
  checkAgents([agent], settings);
  const progress = new ProgressLine(io, mode === "tests" ? "writing tests" : "fixing", [agent]);
  let result: LocalFixResult;
  try {
    result = await fixLocal({
      dir: path.resolve(io.cwd, values.C ?? "."),
      base: values.base ?? null,
      mode,
      agent,
      settings,
      instruction,
      findings,
      forApply: values.apply,
      configFile: values.config ? path.resolve(io.cwd, values.config) : null,
      model: values.model ?? null,
      verify: !values["skip-verify"],
      signal: io.signal,
      onProgress: (p) => progress.update(p, agent),
    });
  } finally {
    progress.stop();
  }

  for (const w of result.warnings) io.stderr.write(`Warning: ${w}\n`);
  io.stderr.write(describeRun(result, agent));
  if (result.status === "unchanged") {
    io.stderr.write(`${agent} changed nothing.${quoteMessage(agent, result.agentMessage)}\n`);
    return FIX_EXIT.noChange;
  }
  if (result.status === "refused") {
    io.stderr.write(`${refusal(result)}\n`);
    return EXIT.error;
  }

  io.stderr.write(`${describeChanges(result)}${quoteMessage(agent, result.agentMessage)}\n`);
  const verifyFailed = result.verify !== null && !result.verify.passed;
  if (result.verify) io.stderr.write(`${describeVerify(result)}\n`);

  const write = async (target: string): Promise<string> => {
    if (target === "-") {
      io.stdout.write(result.patch);
      recordPatchOutput(settings.history, result.runId, "stdout");
      return "stdout";
    }
    await writeFile(path.resolve(io.cwd, target), result.patch);
    recordPatchOutput(settings.history, result.runId, path.resolve(io.cwd, target));
    return target;
  };

  const root = result.range.root;
  const applyHint = (file: string): string => {
    // From a subdirectory, `git apply` would skip the paths outside it.
    const inRoot = path.resolve(io.cwd) === root;
    return inRoot ? `git apply ${shellWord(file)}` : `git -C ${shellWord(root)} apply ${shellWord(path.resolve(io.cwd, file))}`;
  };

  if (!values.apply || verifyFailed) {
    const where = await write(patchTarget ?? DEFAULT_PATCH);
    if (where !== "stdout") io.stderr.write(`Wrote the patch to ${where}; apply it with: ${applyHint(where)}\n`);
    if (verifyFailed) {
      io.stderr.write(values.apply ? "Not applied, because the verification failed.\n" : "");
      return FIX_EXIT.verifyFailed;
    }
    return EXIT.ok;
  }

  if (patchTarget !== null) await write(patchTarget);
  try {
    const applied = await applyPatch(root, result.patch, io.signal);
    if (applied.conflicts.length > 0) {
      // Conflict markers in the tree: a script going on to commit must not take that for success.
      const where = patchTarget === null ? await write(DEFAULT_PATCH) : patchTarget;
      recordPatchOutput(settings.history, result.runId, "applied", `applied with conflicts in: ${applied.conflicts.join(", ")}`);
      io.stderr.write(
        `Applied with a three-way merge, leaving conflicts to resolve in: ${applied.conflicts.map((c) => plain(c)).join(", ")}\n` +
          `HEAD or these files changed while the agent worked. The patch is also in ${where === "stdout" ? "the output above" : where}.\n`,
      );
      return EXIT.error;
    }
    recordPatchOutput(settings.history, result.runId, "applied");
    io.stderr.write(`Applied to the working tree${applied.method === "3way" ? " (with a three-way merge, because HEAD or the files changed meanwhile; the changes are staged)" : ""}.\n`);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof PatchApplyError)) throw err;
    const kept = patchTarget ?? DEFAULT_PATCH;
    const where = patchTarget === null ? await write(kept) : kept;
    recordPatchOutput(settings.history, result.runId, where === "stdout" ? "stdout" : path.resolve(io.cwd, where), `the patch does not apply: ${err.message}`);
    io.stderr.write(`codex-pr-bot fix: ${err.message}\nThe patch is kept in ${where === "stdout" ? "the output above" : where}.\n`);
    return EXIT.error;
  }
}

function describeRun(result: LocalFixResult, agent: ExecutorName): string {
  const ran = result.commands.filter((c) => c.status === "completed").length;
  const model = result.model ? ` with ${result.model}` : "";
  return `${agent} worked on ${result.range.headRef} (${result.range.headSha.slice(0, 12)}) for ${formatDuration(result.durationMs)}${model} and ran ${ran} command(s).\n`;
}

function describeChanges(result: LocalFixResult): string {
  const lines = [`${result.agent}'s change: ${summarizeChanges(result.changes)}`];
  for (const c of result.changes) lines.push(`  ${c.status.padEnd(12)} ${plain(c.path)}${c.binary ? " (binary)" : ` +${c.additions} −${c.deletions}`}`);
  return lines.join("\n");
}

function describeVerify(result: LocalFixResult): string {
  const v = result.verify!;
  if (v.passed) return `Verification \`${v.command}\` passed (${formatDuration(v.durationMs)}).`;
  const why = v.error ?? (v.timedOut ? "timed out" : `exit ${v.exitCode ?? "none"}`);
  const tail = v.outputTail.trim() === "" ? "" : `\n${v.outputTail.split("\n").map((l) => `    ${l}`).join("\n")}`;
  return `Verification \`${v.command}\` failed (${why}).${tail}`;
}

function refusal(result: LocalFixResult): string {
  const lines = ["Refused: the change breaks the fix safety rules, so no patch was written:"];
  for (const v of result.violations) {
    const setting = VIOLATION_SETTING[v.kind];
    lines.push(`  ${plain(v.path)}: ${v.reason}${setting ? ` (allowed by ${setting} in the config)` : ""}`);
  }
  return lines.join("\n");
}

/** Agent-made text on a terminal: without control characters (escape sequences could rewrite the screen). */
function plain(text: string, keepNewlines = false): string {
  return text.replace(keepNewlines ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u001f\u007f-\u009f]/g, "");
}

function quoteMessage(agent: string, message: string): string {
  const text = plain(message, true).trim();
  if (text === "") return "";
  return `\n${agent}'s summary:\n${text.split("\n").map((l) => `  ${l}`).join("\n")}`;
}

function shellWord(value: string): string {
  return /^[\w./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
