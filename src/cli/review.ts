import { writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { severityToPriority } from "../config/schema.js";
import { checkAgents } from "../local/pick-agents.js";
import { FORMATS, formatResult, worstPriority, type OutputFormat } from "../local/format.js";
import { reviewLocal } from "../local/run.js";
import { loadLocalSettings } from "../local/settings.js";
import { EXIT, packageVersion, UsageError, type CliIO } from "./io.js";
import { agentsOption, reviewModeOption, severityOption } from "./options.js";
import { ProgressLine } from "./progress.js";

export const REVIEW_HELP = `Usage: codex-pr-bot review [options]

Reviews the change between a base and HEAD in the git checkout around the current directory.

Options:
  --base <ref>           Base to compare with (default: the upstream branch, origin/HEAD, main, master)
  --uncommitted          Review the working tree (staged and unstaged changes to tracked files) too
  --mode review|audit    Normal review or security audit (default: review)
  --executor <agent>     codex | claude | both (default: codex). both runs the two in parallel and
                         merges their findings (agreed ones first); claude needs ANTHROPIC_API_KEY,
                         CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_BASE_URL
  --format <f>           text | json | sarif | markdown (default: text)
  -o, --output <file>    Write the report to a file instead of stdout
  --write <fmt>:<file>   Also write the same run's report in another format (repeatable),
                         e.g. --write sarif:review.sarif --write markdown:review.md
  --fail-on <P0-P3>      Exit 2 when a finding is at least this severe (default: never)
  --min-severity <P0-P3> Lowest severity reported (default: review.min_severity from the config, P2)
  --config <file>        Config file (default: .github/codex-pr-bot.yml in the checkout)
  -C <dir>               Run as if started in <dir>
  --model <name>         Model of the one agent (default: codex.model / claude.model from the config,
                         CODEX_MODEL / CLAUDE_MODEL, the CLI's default); not with --executor both

Exit codes: 0 no findings at the --fail-on level, 2 findings at that level, 1 error.
`;


export async function reviewCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      base: { type: "string" },
      uncommitted: { type: "boolean", default: false },
      mode: { type: "string", default: "review" },
      executor: { type: "string", default: "codex" },
      format: { type: "string", default: "text" },
      output: { type: "string", short: "o" },
      write: { type: "string", multiple: true, default: [] },
      "fail-on": { type: "string" },
      "min-severity": { type: "string" },
      config: { type: "string" },
      C: { type: "string" },
      model: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(REVIEW_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const mode = reviewModeOption(values.mode);
  const agents = agentsOption(values.executor, values.model, "set codex.model and claude.model in the config, or CODEX_MODEL and CLAUDE_MODEL");
  const format = values.format as OutputFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")} (got "${values.format}")`);
  const extraOutputs = values.write.map((spec) => {
    const colon = spec.indexOf(":");
    const fmt = spec.slice(0, colon) as OutputFormat;
    if (colon < 1 || colon === spec.length - 1 || !FORMATS.includes(fmt)) {
      throw new UsageError(`--write takes <format>:<file> with a format of ${FORMATS.join(", ")} (got "${spec}")`);
    }
    return { format: fmt, file: path.resolve(io.cwd, spec.slice(colon + 1)) };
  });
  const failOn = severityOption(values["fail-on"], "--fail-on");
  const minSeverity = severityOption(values["min-severity"], "--min-severity");

  const dir = path.resolve(io.cwd, values.C ?? ".");
  const settings = loadLocalSettings(io.env, io.cwd);
  checkAgents(agents, settings);
  const progress = new ProgressLine(io, mode === "audit" ? "auditing" : "reviewing", agents);
  let result;
  try {
    result = await reviewLocal({
      dir,
      base: values.base ?? null,
      mode,
      uncommitted: values.uncommitted,
      agents,
      settings,
      configFile: values.config ? path.resolve(io.cwd, values.config) : null,
      minSeverity,
      model: values.model ?? null,
      signal: io.signal,
      onProgress: (p, agent) => progress.update(p, agent),
    });
  } finally {
    progress.stop();
  }
  // One agent failing is not the run failing; the report says so too, this keeps it visible in CI logs.
  for (const note of result.notes) io.stderr.write(`Note: ${note}\n`);

  const version = packageVersion();
  for (const extra of extraOutputs) await writeFile(extra.file, formatResult(result, extra.format, version));
  const report = formatResult(result, format, version);
  if (values.output) {
    await writeFile(path.resolve(io.cwd, values.output), report);
    io.stderr.write(`Wrote the ${format} report to ${values.output} (${result.outcome.findings.length} finding(s)).\n`);
  } else {
    io.stdout.write(report);
  }
  const worst = worstPriority(result);
  if (failOn !== null && worst !== null && worst <= severityToPriority(failOn)) {
    io.stderr.write(`Failing: a finding is ${failOn} or more severe (--fail-on ${failOn}).\n`);
    return EXIT.findings;
  }
  return EXIT.ok;
}
