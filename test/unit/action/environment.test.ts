import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ActionError, readActionEnvironment, readPullEvent } from "../../../src/action/environment.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("action-env");
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

function env(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    GITHUB_EVENT_NAME: "pull_request",
    GITHUB_EVENT_PATH: path.join(dir, "event.json"),
    GITHUB_REPOSITORY: "octo/demo",
    ...overrides,
  };
}

function event(pullRequest: Record<string, unknown>, file = "event.json"): string {
  const target = path.join(dir, file);
  writeFileSync(
    target,
    JSON.stringify({
      action: "opened",
      pull_request: {
        number: 3,
        state: "open",
        title: "T",
        body: null,
        user: { login: "alice" },
        head: { sha: SHA_A, ref: "feature", repo: { full_name: "octo/demo" } },
        base: { sha: SHA_B, ref: "main", repo: { full_name: "octo/demo" } },
        ...pullRequest,
      },
      repository: { owner: { login: "octo" }, name: "demo", default_branch: "main", clone_url: "https://x/octo/demo.git", html_url: "https://ghe.example/octo/demo" },
      sender: { login: "alice", type: "User" },
    }),
  );
  return target;
}

describe("readActionEnvironment", () => {
  it("reads the runner's variables, with github.com defaults for the URLs", () => {
    const e = readActionEnvironment(env({ GITHUB_API_URL: "https://ghe.example/api/v3/", GITHUB_OUTPUT: "/o", RUNNER_TEMP: "/r" }));
    expect(e).toMatchObject({
      repo: { owner: "octo", repo: "demo" },
      apiUrl: "https://ghe.example/api/v3",
      serverUrl: "https://github.com",
      outputFile: "/o",
      summaryFile: null,
      runnerTemp: "/r",
    });
  });

  it("refuses pull_request_target with the reason and the alternative", () => {
    expect(() => readActionEnvironment(env({ GITHUB_EVENT_NAME: "pull_request_target" }))).toThrow(
      /refusing to run on pull_request_target: .*secrets.*`on: pull_request` instead/,
    );
  });

  it("names the event it got when it is not a pull request, and says when it is not in Actions at all", () => {
    expect(() => readActionEnvironment(env({ GITHUB_EVENT_NAME: "push" }))).toThrow(/`on: pull_request` \(this run's event is "push"\)/);
    expect(() => readActionEnvironment({})).toThrow(/not running in GitHub Actions.*codex-pr-bot review/);
    expect(() => readActionEnvironment(env({ GITHUB_REPOSITORY: "demo" }))).toThrow(/GITHUB_REPOSITORY must be "owner\/name" \(got "demo"\)/);
    expect(() => readActionEnvironment(env({ GITHUB_API_URL: "ftp://x" }))).toThrow(ActionError);
  });
});

describe("readPullEvent", () => {
  it("maps the payload to the app's pull request snapshot, fork or not", async () => {
    event({});
    const same = await readPullEvent(readActionEnvironment(env()));
    expect(same).toMatchObject({ number: 3, repoHtmlUrl: "https://ghe.example/octo/demo", pull: { headSha: SHA_A, baseSha: SHA_B, fromFork: false, body: "" } });
    const forkPath = event({ head: { sha: SHA_A, ref: "feature", repo: { full_name: "mallory/demo" } } }, "fork.json");
    const fork = await readPullEvent(readActionEnvironment(env({ GITHUB_EVENT_PATH: forkPath })));
    expect(fork.pull.fromFork).toBe(true);
  });

  it("explains a missing, unreadable or foreign payload", async () => {
    await expect(readPullEvent(readActionEnvironment(env({ GITHUB_EVENT_PATH: path.join(dir, "missing.json") })))).rejects.toThrow(
      /cannot read the event payload at GITHUB_EVENT_PATH/,
    );
    writeFileSync(path.join(dir, "junk.json"), "{not json");
    await expect(readPullEvent(readActionEnvironment(env({ GITHUB_EVENT_PATH: path.join(dir, "junk.json") })))).rejects.toThrow(/is not JSON/);
    writeFileSync(path.join(dir, "push.json"), JSON.stringify({ ref: "refs/heads/main", commits: [] }));
    await expect(readPullEvent(readActionEnvironment(env({ GITHUB_EVENT_PATH: path.join(dir, "push.json") })))).rejects.toThrow(
      /not a pull_request event \(missing or invalid: action, pull_request, repository, sender\)/,
    );
  });
});
