import { readFile } from "node:fs/promises";
import path from "node:path";
import type { RepoCoords } from "../github/client.js";
import { toPullSnapshot } from "../github/pulls.js";
import { pullRequestPayload } from "../handlers/payloads.js";
import type { PullSnapshot } from "../types.js";

/**
 * What a GitHub Actions run tells the action about itself: the environment variables the runner
 * sets (https://docs.github.com/actions/reference/variables-reference) and the event payload at
 * GITHUB_EVENT_PATH. Everything is checked here once, so the rest of the action works on plain,
 * valid values and every mistake in a workflow file surfaces as one clear sentence.
 */

/** A problem with the workflow or its set-up: printed as a workflow error, exit 1. */
export class ActionError extends Error {
  override readonly name = "ActionError";
}

export interface ActionEnvironment {
  eventName: "pull_request";
  eventPath: string;
  repo: RepoCoords;
  /** REST API root: https://api.github.com, or https://HOST/api/v3 on Enterprise Server. */
  apiUrl: string;
  serverUrl: string;
  /** Files the runner reads after the step; null outside a runner that provides them. */
  outputFile: string | null;
  summaryFile: string | null;
  runnerTemp: string | null;
}

export interface PullEvent {
  number: number;
  pull: PullSnapshot;
  /** Web address of the base repository, for links in the review. */
  repoHtmlUrl: string;
}

const PULL_REQUEST_TARGET_REFUSAL =
  "refusing to run on pull_request_target: that event gives the workflow the base repository's secrets and a " +
  "write token while this action hands the pull request's code to an agent, so a pull request from anyone could " +
  "steer it (a \"pwn request\"). Trigger the workflow with `on: pull_request` instead: pull requests from forks then " +
  "get a read-only token and no secrets, and the review still lands in the job summary and the SARIF upload.";

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

export function readActionEnvironment(env: NodeJS.ProcessEnv): ActionEnvironment {
  const eventName = nonEmpty(env, "GITHUB_EVENT_NAME");
  const eventPath = nonEmpty(env, "GITHUB_EVENT_PATH");
  if (eventName === null || eventPath === null) {
    throw new ActionError(
      "not running in GitHub Actions: GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set. Use `codex-pr-bot review` outside a workflow.",
    );
  }
  if (eventName === "pull_request_target") throw new ActionError(PULL_REQUEST_TARGET_REFUSAL);
  if (eventName !== "pull_request") {
    throw new ActionError(`this action reviews pull requests: run it from a workflow triggered by \`on: pull_request\` (this run's event is "${eventName}").`);
  }
  const repository = nonEmpty(env, "GITHUB_REPOSITORY");
  const match = repository === null ? null : /^([^/\s]+)\/([^/\s]+)$/.exec(repository);
  if (!match) throw new ActionError(`GITHUB_REPOSITORY must be "owner/name" (got ${repository === null ? "nothing" : `"${repository}"`}).`);
  const apiUrl = (nonEmpty(env, "GITHUB_API_URL") ?? "https://api.github.com").replace(/\/+$/, "");
  const serverUrl = (nonEmpty(env, "GITHUB_SERVER_URL") ?? "https://github.com").replace(/\/+$/, "");
  for (const [name, value] of [
    ["GITHUB_API_URL", apiUrl],
    ["GITHUB_SERVER_URL", serverUrl],
  ] as const) {
    if (!/^https?:\/\/[^/\s]+/.test(value)) throw new ActionError(`${name} must be an http(s) URL (got "${value}").`);
  }
  return {
    eventName,
    eventPath,
    repo: { owner: match[1]!, repo: match[2]! },
    apiUrl,
    serverUrl,
    outputFile: nonEmpty(env, "GITHUB_OUTPUT"),
    summaryFile: nonEmpty(env, "GITHUB_STEP_SUMMARY"),
    runnerTemp: nonEmpty(env, "RUNNER_TEMP") ? path.resolve(nonEmpty(env, "RUNNER_TEMP")!) : null,
  };
}

/** The pull request from the event payload, validated with the same schema the app's webhook handler uses. */
export async function readPullEvent(actionEnv: ActionEnvironment): Promise<PullEvent> {
  let raw: string;
  try {
    raw = await readFile(actionEnv.eventPath, "utf8");
  } catch (err) {
    throw new ActionError(`cannot read the event payload at GITHUB_EVENT_PATH (${actionEnv.eventPath}): ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ActionError(`the event payload at GITHUB_EVENT_PATH (${actionEnv.eventPath}) is not JSON.`);
  }
  const parsed = pullRequestPayload.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.slice(0, 5).map((i) => i.path.join(".") || "(root)");
    throw new ActionError(`the event payload is not a pull_request event (missing or invalid: ${fields.join(", ")}).`);
  }
  const payload = parsed.data;
  return {
    number: payload.pull_request.number,
    pull: toPullSnapshot({ ...payload.pull_request, body: payload.pull_request.body ?? null }),
    repoHtmlUrl: payload.repository.html_url,
  };
}
