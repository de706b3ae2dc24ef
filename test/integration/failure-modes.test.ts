import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Settings } from "../../src/settings.js";
import { hang, httpError, message, type Script } from "../helpers/mock-responses.js";
import { freePort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { deliver, pullRequestPayload } from "../helpers/webhooks.js";
import { scenario, writeCodexTemplate, type Scenario } from "./helpers.js";

/** Every worktree directory under the app's data dir (they hold a `.git` file). */
function worktrees(dataDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 5 || !existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (name === ".git" && statSync(full).isFile()) found.push(dir);
      else if (statSync(full).isDirectory() && name !== ".git") walk(full, depth + 1);
    }
  };
  walk(path.join(dataDir, "workspaces"), 0);
  return found;
}

describe("failure modes end in a failed check run with a clear message and a clean workspace", () => {
  let sc: Scenario;

  beforeEach(() => {
    sc = scenario("failures");
    sc.gh.defaults();
  });
  afterEach(async () => {
    await sc.close();
  });

  async function runWith(script: Script, settings: Partial<Settings> = {}) {
    const app = await sc.start(script, settings);
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    expect(sc.gh.find("POST", /\/reviews$/)).toHaveLength(0);
    const final = sc.gh.bodies<{ status: string; conclusion: string; output: { title: string; summary: string } }>(
      "PATCH",
      /\/check-runs\/\d+$/,
    ).at(-1)!;
    expect(final.status).toBe("completed");
    // Nothing of the job is left: no CODEX_HOME, and every worktree is clean.
    expect(readdirSync(path.join(sc.dataDir, "codex-homes"))).toEqual([]);
    const trees = worktrees(sc.dataDir);
    expect(trees.length).toBeGreaterThan(0);
    for (const tree of trees) {
      expect(execFileSync("git", ["status", "--porcelain", "--ignored"], { cwd: tree, encoding: "utf8" })).toBe("");
    }
    // The run history tells operators the same story.
    const [run] = app.runs.list();
    expect(run!.status).toBe(final.conclusion === "timed_out" ? "timed_out" : "failed");
    expect(run!.error).toBe(final.output.title);
    return final;
  }

  it("codex has no credentials: the job refuses before codex starts and the check run says what to set", async () => {
    const app = await sc.start([], { codexApiKey: null, codexHomeTemplate: makeTempDir("empty-codex-template") });
    const started = Date.now();
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.gh.unexpected).toEqual([]);
    const final = sc.gh.bodies<{ conclusion: string; output: { title: string; summary: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)!;
    expect(final.conclusion).toBe("failure");
    expect(final.output.summary).toContain("codex has no credentials on this installation: the operator must set CODEX_API_KEY");
    expect(sc.mock!.requests).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("codex cannot reach the model API: stopped after CODEX_CONNECT_RETRIES, the check run names the host and the cause", async () => {
    const port = await freePort(); // nothing listens there: connections are refused
    const template = makeTempDir("refused-template");
    writeCodexTemplate(template, `http://127.0.0.1:${port}/v1`);
    const final = await runWith([], { codexHomeTemplate: template, codexConnectRetries: 1 });
    expect(final.conclusion).toBe("failure");
    expect(final.output.summary).toContain(`codex cannot reach the model API at 127.0.0.1:${port} (Connection failed`);
    expect(final.output.summary).toContain("stopped after 1 retry");
    expect(sc.mock!.requests).toHaveLength(0);
  });

  it("codex exits with code 1", async () => {
    const bin = path.join(makeTempDir("fake-codex"), "codex");
    // It litters the worktree first, as a crashing agent might, to prove the cleanup.
    writeFileSync(
      bin,
      [
        "#!/bin/sh",
        'prev=""; for a in "$@"; do [ "$prev" = "--cd" ] && touch "$a/leftover.txt"; prev="$a"; done',
        'echo "Error: the model provider is misconfigured" >&2',
        "exit 1",
        "",
      ].join("\n"),
    );
    chmodSync(bin, 0o755);
    const final = await runWith([], { codexBin: bin });
    expect(final.conclusion).toBe("failure");
    expect(final.output.title).toBe("Codex failed");
    expect(final.output.summary).toMatch(/exited with code 1/);
    expect(final.output.summary).toContain("the model provider is misconfigured");
  });

  it("codex hangs past the timeout and is killed", async () => {
    const final = await runWith([hang()], { timeoutCapMs: 2500 });
    expect(final.conclusion).toBe("timed_out");
    expect(final.output.title).toBe("Codex timed out");
    expect(sc.mock!.requests.length).toBeGreaterThan(0);
  });

  it("the final message is not JSON", async () => {
    const final = await runWith([message("Looks good to me!")]);
    expect(final.conclusion).toBe("failure");
    expect(final.output.title).toBe("Codex returned an unusable result");
    expect(final.output.summary).toMatch(/not JSON/);
    expect(final.output.summary).toContain("Looks good to me!");
  });

  it("the final message violates the findings schema", async () => {
    const final = await runWith([message(JSON.stringify({ findings: [{ title: 42 }], overall_correctness: "maybe" }))]);
    expect(final.conclusion).toBe("failure");
    expect(final.output.title).toBe("Codex returned an unusable result");
    expect(final.output.summary).toMatch(/findings|overall_correctness/);
  });

  it("the turn fails (the provider rejects the request)", async () => {
    const final = await runWith([httpError(400, { error: { message: "mock bad request", type: "invalid_request_error" } })]);
    expect(final.conclusion).toBe("failure");
    expect(final.output.summary).toContain("mock bad request");
  });
});
