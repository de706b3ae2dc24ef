import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseRepoConfig } from "../config/load.js";
import { CONFIG_PATH, severityToPriority, type ExecutorName, type RepoConfig, type Severity } from "../config/schema.js";
import { checkAgents } from "../local/pick-agents.js";
import { codexCredentialSource } from "../executors/codex-credentials.js";
import { formatResult, worstPriority } from "../local/format.js";
import { recordLinks } from "../local/history.js";
import { loadLocalConfig, repoRoot } from "../local/repo.js";
import { reviewLocal, type LocalReviewResult } from "../local/run.js";
import { loadLocalSettings, type LocalSettings } from "../local/settings.js";
import { PRIORITY_LABEL } from "../review/format.js";
import { redactSecrets } from "../review/sanitize.js";
import { EXIT, packageVersion, type CliIO } from "../cli/io.js";
import { prepareCheckout, readBaseConfig } from "./checkout.js";
import { actionSecrets, checkoutCredentials, fetchToken, refuseUnjailed } from "./credentials.js";
import { ActionError, readActionEnvironment, readPullEvent, type ActionEnvironment, type PullEvent } from "./environment.js";
import { workflowOctokit } from "./octokit.js";
import { publishReview, type PublishResult } from "./publish.js";
import { annotations, needsAnnotations, publishLogLine, publishSummary } from "./report.js";
import { appendSummary, workflowCommand, writeOutputs } from "./workflow.js";

/**
 * `codex-pr-bot action`: one pull request review inside a GitHub Actions job. The engine's review
 * pipeline (through local/run.ts) reviews the head against the base from the event, the reports go to files, the
 * step outputs and the job summary, and the review is posted with the app's own code. The token never
 * reaches the agents: executors pass an allowlisted environment (executors/codex.ts,
 * executors/claude.ts), and the checkout's own credentials stay out of the jail (action/credentials.ts).
 * Every line the action writes is cleared of the token and the other secrets, in all their encodings.
 */

export interface ActionOptions {
  /** Directory inside the workflow's checkout. */
  dir: string;
  mode: "review" | "audit";
  agents: ExecutorName[];
  /** Compare with this ref instead of the event's base commit. */
  base: string | null;
  failOn: Severity | null;
  minSeverity: Severity | null;
  model: string | null;
  /** An explicit config file (trusted: the workflow names it); default: the base commit's. */
  configFile: string | null;
  post: boolean;
  /** Where the reports go; default $RUNNER_TEMP/codex-pr-bot. */
  outputDir: string | null;
}

/** The step outputs, each declared in action.yml's `outputs` (a unit test holds the two together). */
export const OUTPUT_NAMES = ["sarif", "markdown", "json", "findings", "worst-severity", "review-url", "exit-code"] as const;
type Outputs = Record<(typeof OUTPUT_NAMES)[number], string>;

/** Where the reports were written, and the markdown for the job summary. */
export interface ActionReports {
  sarif: string;
  markdown: string;
  json: string;
  markdownText: string;
}

export async function runAction(opts: ActionOptions, io: CliIO): Promise<number> {
  const actionEnv = readActionEnvironment(io.env);
  const event = await readPullEvent(actionEnv);
  const outDir = outputDir(opts, actionEnv, io.cwd);
  await mkdir(outDir, { recursive: true });
  const unredacted = actionSettings(opts, io, outDir, event);
  const token = io.env.GITHUB_TOKEN?.trim() || null;
  // Grows by the checkout's credentials (review()); everything written is cleared of all of them.
  const secrets = actionSecrets(io.env, unredacted);
  // The run history (under RUNNER_TEMP) records the agent's events: cleared of the same secrets.
  const settings: LocalSettings = { ...unredacted, history: unredacted.history ? { ...unredacted.history, secrets } : unredacted.history };
  const log = (line: string): unknown => {
    const clean = redactSecrets(line, secrets);
    return io.stdout.write(clean.endsWith("\n") ? clean : `${clean}\n`);
  };
  const { result, config } = await review(opts, actionEnv, event, settings, outDir, log, { env: io.env, token, secrets }, io.signal);
  const reports = await writeReports(result, outDir, secrets);
  const published = await publish(opts, actionEnv, event, result, config, token, secrets, log);
  log(publishLogLine(published));
  if (published.kind === "posted") recordLinks(settings.history, result.runId, { review: published.url });
  if (needsAnnotations(published)) io.stdout.write(annotations(result, secrets));

  const worst = worstPriority(result);
  const code = opts.failOn !== null && worst !== null && worst <= severityToPriority(opts.failOn) ? EXIT.findings : EXIT.ok;
  await appendSummary(actionEnv.summaryFile, `${publishSummary(published)}\n\n${reports.markdownText}`);
  const outputs: Outputs = {
    sarif: reports.sarif,
    markdown: reports.markdown,
    json: reports.json,
    findings: String(result.outcome.findings.length),
    "worst-severity": worst === null ? "" : PRIORITY_LABEL[worst],
    "review-url": published.kind === "posted" ? published.url : "",
    "exit-code": String(code),
  };
  await writeOutputs(actionEnv.outputFile, outputs);
  log(`${result.outcome.findings.length} finding(s)${worst === null ? "" : `, the most severe ${PRIORITY_LABEL[worst]}`}.`);
  if (code === EXIT.findings) {
    io.stdout.write(workflowCommand("error", `A finding is ${opts.failOn} or more severe (fail-on: ${opts.failOn}).`, { title: "codex-pr-bot" }));
  }
  return code;
}

/** The local front doors' settings, with state under the output directory unless DATA_DIR says otherwise. */
function actionSettings(opts: ActionOptions, io: CliIO, outDir: string, event: PullEvent): LocalSettings {
  // Per-run CODEX_HOMEs and the head worktree live in the runner's temp dir, not the checkout.
  const env = { ...io.env, DATA_DIR: io.env.DATA_DIR?.trim() || path.join(outDir, "state") };
  const settings = loadLocalSettings(env, io.cwd);
  if (insideSystemTemp(settings.stateDir)) {
    throw new ActionError(`the state directory ${settings.stateDir} is inside the system temp dir, where codex cannot run sandboxed commands: set DATA_DIR (or RUNNER_TEMP) to a directory elsewhere.`);
  }
  if (opts.agents.includes("codex") && codexCredentialSource(settings.codex.apiKey, settings.codex.homeTemplate) === null) {
    // Workflows on pull requests from forks get no secrets: say so rather than let codex fail on auth.
    const fork = event.pull.fromFork ? " GitHub passes no secrets to workflows on pull requests from forks." : "";
    throw new ActionError(`codex has no credentials: set the openai-api-key input (CODEX_API_KEY).${fork}`);
  }
  checkAgents(opts.agents, settings);
  return settings;
}

/** The head against the base, in the checkout or a head worktree that is removed afterwards. */
async function review(
  opts: ActionOptions,
  actionEnv: ActionEnvironment,
  event: PullEvent,
  settings: LocalSettings,
  outDir: string,
  log: (line: string) => unknown,
  creds: { env: NodeJS.ProcessEnv; token: string | null; secrets: string[] },
  signal?: AbortSignal,
): Promise<{ result: LocalReviewResult; config: RepoConfig }> {
  const root = await repoRoot(opts.dir, signal);
  const inCheckout = await checkoutCredentials(root, signal);
  creds.secrets.push(...inCheckout.values);
  refuseUnjailed(creds.env, inCheckout);
  const checkout = await prepareCheckout({
    dir: root,
    headSha: event.pull.headSha,
    baseSha: event.pull.baseSha,
    baseOverride: opts.base,
    scratchDir: path.join(settings.stateDir, "worktrees"),
    fetchToken: await fetchToken(root, creds.token, actionEnv.serverUrl, inCheckout, signal),
    signal,
  });
  try {
    // A head worktree reads config of its own (checkout v6 includes credentials for worktrees too).
    const inWorktree = checkout.dir === root ? inCheckout : await checkoutCredentials(checkout.dir, signal);
    creds.secrets.push(...inWorktree.values);
    refuseUnjailed(creds.env, inWorktree);
    const chosen = await chooseConfig(opts.configFile, checkout.dir, checkout.base, outDir);
    log(
      `Reviewing pull request #${event.number} (${event.pull.headSha.slice(0, 12)}) against ${checkout.base.slice(0, 12)} ` +
        `with ${opts.agents.join(" and ")}, config: ${chosen.source}.`,
    );
    const running = new Map<ExecutorName, string>();
    const noticed = new Map<ExecutorName, string>();
    const result = await reviewLocal({
      dir: checkout.dir,
      base: checkout.base,
      mode: opts.mode,
      uncommitted: false,
      agents: opts.agents,
      settings,
      configFile: chosen.file,
      minSeverity: opts.minSeverity,
      model: opts.model,
      signal,
      // Recorded under the pull request, not the head worktree's directory name.
      source: "action",
      runInfo: { repo: `${actionEnv.repo.owner}/${actionEnv.repo.repo}`, prNumber: event.number },
      onProgress: (p, agent) => {
        // Trouble the agent works around (its model API unreachable): once, as a workflow warning.
        if (p.notice && noticed.get(agent) !== p.notice) {
          noticed.set(agent, p.notice);
          log(workflowCommand("warning", p.notice.replace(/\s+/g, " "), { title: "codex-pr-bot" }));
        }
        // One log line per command the agent starts: enough to follow a run, flattened so agent
        // text can never begin a line of its own (and with it a workflow command).
        if (p.currentCommand === null || running.get(agent) === p.currentCommand) return;
        running.set(agent, p.currentCommand);
        log(`[${agent}] $ ${p.currentCommand.replace(/\s+/g, " ").slice(0, 300)}`);
      },
    });
    for (const agent of result.agents) {
      const completed = agent.commands.filter((c) => c.status === "completed").length;
      log(`[${agent.name}] ${agent.status}: ${completed} command(s) completed${agent.error ? `, ${agent.error.replace(/\s+/g, " ")}` : ""}.`);
    }
    return { result, config: chosen.config };
  } finally {
    await checkout.release().catch((err: unknown) => log(workflowCommand("warning", `could not remove the head worktree: ${(err as Error).message}`)));
  }
}

function outputDir(opts: ActionOptions, actionEnv: ActionEnvironment, cwd: string): string {
  if (opts.outputDir !== null) return path.resolve(cwd, opts.outputDir);
  if (actionEnv.runnerTemp === null) throw new ActionError("RUNNER_TEMP is not set: pass --output-dir <dir> for the reports.");
  return path.join(actionEnv.runnerTemp, "codex-pr-bot");
}

function insideSystemTemp(dir: string): boolean {
  const relative = path.relative(path.resolve(os.tmpdir()), path.resolve(dir));
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/** The workflow's explicit config file, else the base commit's (written out for the engine), else the defaults. */
async function chooseConfig(explicit: string | null, dir: string, base: string, outDir: string): Promise<{ config: RepoConfig; file: string; source: string }> {
  if (explicit !== null) return { config: (await loadLocalConfig(dir, explicit)).config, file: explicit, source: explicit };
  const text = await readBaseConfig(dir, base);
  const source = text === null ? "defaults (the base commit has none)" : `${CONFIG_PATH} at the base commit ${base.slice(0, 12)}`;
  const config = parseRepoConfig(text, source);
  const file = path.join(outDir, "base-config.yml");
  await writeFile(file, text ?? "");
  return { config, file, source };
}

async function writeReports(result: LocalReviewResult, outDir: string, secrets: readonly string[]): Promise<ActionReports> {
  const version = packageVersion();
  const render = (format: "sarif" | "markdown" | "json"): string => redactSecrets(formatResult(result, format, version), secrets);
  const reports: ActionReports = {
    sarif: path.join(outDir, "review.sarif"),
    markdown: path.join(outDir, "review.md"),
    json: path.join(outDir, "review.json"),
    markdownText: render("markdown"),
  };
  await writeFile(reports.sarif, render("sarif"));
  await writeFile(reports.markdown, reports.markdownText);
  await writeFile(reports.json, render("json"));
  return reports;
}

async function publish(
  opts: ActionOptions,
  actionEnv: ActionEnvironment,
  event: PullEvent,
  result: LocalReviewResult,
  config: RepoConfig,
  token: string | null,
  secrets: readonly string[],
  log: (line: string) => unknown,
): Promise<PublishResult> {
  if (!opts.post) return { kind: "disabled" };
  // On pull_request from a fork, GITHUB_TOKEN is read-only: a 403 is certain, so don't try.
  if (event.pull.fromFork) return { kind: "fork" };
  if (token === null) return { kind: "no-token" };
  const octokit = workflowOctokit(token, actionEnv.apiUrl, (message) => log(workflowCommand("warning", message).trimEnd()));
  return publishReview({
    octokit,
    coords: actionEnv.repo,
    event,
    result,
    config,
    knownSecrets: secrets,
    warn: (message) => log(workflowCommand("warning", message).trimEnd()),
  });
}
