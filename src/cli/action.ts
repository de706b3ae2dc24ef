import path from "node:path";
import { parseArgs } from "node:util";
import { refusal, WORK_MODES, type WorkMode } from "../engine/doors.js";
import { readActionEnvironment } from "../action/environment.js";
import { failureSummary } from "../action/report.js";
import { runAction, type ActionOptions } from "../action/run.js";
import { appendSummary, workflowCommand, writeOutputs } from "../action/workflow.js";
import { redactSecrets } from "../review/sanitize.js";
import { errorMessage, EXIT, UsageError, type CliIO } from "./io.js";
import { agentsOption, reviewModeOption, severityOption } from "./options.js";

export const ACTION_HELP = `Usage: codex-pr-bot action [options]

Reviews the pull request of a GitHub Actions run (on: pull_request) and posts the same review the
app posts: one review with inline comments and suggestions, nothing repeated from earlier runs.
Used by the repository's action.yml; see README "GitHub Action". It reads the runner's environment:
GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_SERVER_URL,
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP, and GITHUB_TOKEN (never passed to the agent).

Options:
  --mode review|audit    Normal review or security audit (default: review)
  --executor <agent>     codex | claude | both (default: codex)
  --base <ref>           Compare with this ref instead of the event's base commit
  --fail-on <P0-P3>      Exit 2 when a finding is at least this severe (default: never)
  --min-severity <P0-P3> Lowest severity reported (default: review.min_severity from the config, P2)
  --config <file>        Config file in the checkout (default: .github/codex-pr-bot.yml as of the base commit)
  --model <name>         Model of the one agent (default: from the config, else the CLI's default)
  --no-post              Write the reports and the job summary, post nothing
  --output-dir <dir>     Where review.sarif, review.md and review.json go (default: $RUNNER_TEMP/codex-pr-bot)
  -C <dir>               The checkout (default: the current directory)

Step outputs: sarif, markdown, json, findings, worst-severity, review-url, exit-code.
Exit codes: 0 no findings at the --fail-on level, 2 findings at that level, 1 error. A review that
cannot be posted (read-only token, fork, rate limit) is a warning and does not change the exit code.
`;


export async function actionCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      mode: { type: "string", default: "review" },
      executor: { type: "string", default: "codex" },
      base: { type: "string" },
      "fail-on": { type: "string" },
      "min-severity": { type: "string" },
      config: { type: "string" },
      model: { type: "string" },
      "no-post": { type: "boolean", default: false },
      "output-dir": { type: "string" },
      C: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(ACTION_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const refused = (WORK_MODES as readonly string[]).includes(values.mode) ? refusal("action", values.mode as WorkMode, "codex") : null;
  if (refused !== null) throw new UsageError(refused);
  const mode = reviewModeOption(values.mode);
  const agents = agentsOption(values.executor, values.model, "set codex.model and claude.model in the config");
  const options: ActionOptions = {
    dir: path.resolve(io.cwd, values.C ?? "."),
    mode,
    agents,
    base: values.base ?? null,
    failOn: severityOption(values["fail-on"], "--fail-on"),
    minSeverity: severityOption(values["min-severity"], "--min-severity"),
    model: values.model ?? null,
    // "In the checkout": relative to -C (action.yml's `path` input), as the input's description says.
    configFile: values.config !== undefined ? path.resolve(io.cwd, values.C ?? ".", values.config) : null,
    post: !values["no-post"],
    outputDir: values["output-dir"] ?? null,
  };

  try {
    return await runAction(options, io);
  } catch (err) {
    // In a workflow the failure goes where people look: an error annotation, the job summary and
    // the exit-code output. The message is escaped: it may quote agent or repository text.
    if (io.env.GITHUB_ACTIONS !== "true") throw err;
    const message = redactSecrets(errorMessage(err), [io.env.GITHUB_TOKEN ?? "", io.env.ACTIONS_RUNTIME_TOKEN ?? ""]);
    io.stdout.write(workflowCommand("error", message, { title: "codex-pr-bot" }));
    const files = runnerFiles(io.env);
    await appendSummary(files.summaryFile, failureSummary(message)).catch(() => undefined);
    await writeOutputs(files.outputFile, { "exit-code": String(EXIT.error) }).catch(() => undefined);
    return EXIT.error;
  }
}

/** The summary and output files, even when the rest of the environment is unusable. */
function runnerFiles(env: NodeJS.ProcessEnv): { summaryFile: string | null; outputFile: string | null } {
  try {
    return readActionEnvironment(env);
  } catch {
    return { summaryFile: env.GITHUB_STEP_SUMMARY?.trim() || null, outputFile: env.GITHUB_OUTPUT?.trim() || null };
  }
}
