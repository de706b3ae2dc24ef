import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { Cancelled, WorkspaceError } from "../../../src/errors.js";
import { basicAuth, git, redactSecrets } from "../../../src/workspace/git.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { fakeGitHost, Origin, type FakeGitHost } from "./origin.js";

const TOKEN = "ghs_UnitTestToken0123456789abcdef";

let host: FakeGitHost | null = null;
afterEach(async () => {
  await host?.close();
  host = null;
});

async function bareRepo(): Promise<string> {
  const dir = makeTempDir("git");
  await git(["init", "--quiet", "--bare", "--template=", dir], { cwd: dir });
  return dir;
}

/** Command lines of all processes whose argv mentions `needle`, read the way any local user can. */
function cmdlinesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      if (cmdline.includes(needle)) found.push(cmdline);
    } catch {
      // The process exited meanwhile.
    }
  }
  return found;
}

describe("redactSecrets", () => {
  it("removes the token, its Basic form and URL credentials", () => {
    const text = `fatal: https://x-access-token:${TOKEN}@ghe.example.com/o/r.git: Authorization: Basic ${basicAuth(TOKEN)} and https://bob:hunter2@example.com/x`;
    const out = redactSecrets(text, TOKEN);
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain(basicAuth(TOKEN));
    expect(out).not.toContain("hunter2");
    expect(out).toContain("https://***@ghe.example.com/o/r.git");
  });
});

describe("git", () => {
  it("returns stdout and reports failures as WorkspaceError naming the subcommand", async () => {
    const repo = await bareRepo();
    expect((await git(["rev-parse", "--is-bare-repository"], { cwd: repo, gitDir: repo })).trim()).toBe("true");
    const failure = git(["rev-parse", "--verify", "--quiet", "no-such-ref^{commit}"], { cwd: repo, gitDir: repo });
    await expect(failure).rejects.toThrow(WorkspaceError);
    await expect(failure).rejects.toThrow(/^git rev-parse failed: /);
  });

  it("ignores git configuration from this process's environment and enforces its own", async () => {
    const repo = await bareRepo();
    const saved = { ...process.env };
    Object.assign(process.env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "filter.evil.smudge",
      GIT_CONFIG_VALUE_0: "touch /tmp/pwned",
      GIT_CONFIG_PARAMETERS: "'core.hookspath'='/tmp/hooks'",
    });
    try {
      await expect(git(["config", "--get", "filter.evil.smudge"], { cwd: repo, gitDir: repo })).rejects.toThrow(
        WorkspaceError,
      );
      expect((await git(["config", "--get", "core.hooksPath"], { cwd: repo, gitDir: repo })).trim()).toBe("/dev/null");
      expect((await git(["config", "--get", "protocol.ext.allow"], { cwd: repo, gitDir: repo })).trim()).toBe("never");
    } finally {
      process.env = saved;
    }
  });

  it("refuses the ext:: transport, which runs commands", async () => {
    const repo = await bareRepo();
    await expect(git(["fetch", "--", "ext::sh -c touch% /tmp/pwned", "x"], { cwd: repo, gitDir: repo })).rejects.toThrow(
      /transport 'ext' not allowed/,
    );
  });

  it("sends the token as a Basic header and keeps it out of argv and error messages", async () => {
    host = await fakeGitHost((res) => res.writeHead(404).end());
    const repo = await bareRepo();
    const error = await git(["fetch", "--", host.url, "refs/heads/main"], { cwd: repo, gitDir: repo, token: TOKEN }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkspaceError);
    expect((error as Error).message).toMatch(/^git fetch failed: /);
    expect((error as Error).message).not.toContain(TOKEN);
    expect((error as Error).message).not.toContain(basicAuth(TOKEN));
    expect(host.authorizations[0]).toBe(`Basic ${basicAuth(TOKEN)}`);
  });

  it("never puts the token on a command line while the fetch runs", async () => {
    host = await fakeGitHost("hang");
    const repo = await bareRepo();
    const controller = new AbortController();
    const fetching = git(["fetch", "--", host.url, "refs/heads/main"], {
      cwd: repo,
      gitDir: repo,
      token: TOKEN,
      signal: controller.signal,
    });
    const server = host;
    await expect.poll(() => server.authorizations.length, { timeout: 5000 }).toBeGreaterThan(0);
    const port = new URL(host.url).port;
    const cmdlines = cmdlinesMentioning(`127.0.0.1:${port}`);
    expect(cmdlines.length).toBeGreaterThan(0);
    for (const cmdline of cmdlines) expect(cmdline).not.toContain(TOKEN);
    controller.abort();
    await expect(fetching).rejects.toBeInstanceOf(Cancelled);
  });

  it("reports a timeout as WorkspaceError", async () => {
    host = await fakeGitHost("hang");
    const repo = await bareRepo();
    await expect(git(["fetch", "--", host.url, "refs/heads/main"], { cwd: repo, gitDir: repo, timeoutMs: 300 })).rejects.toThrow(
      /^git fetch timed out/,
    );
  });

  it("fails rather than returning output cut at the limit", async () => {
    const origin = await Origin.create();
    const sha = await origin.commit({ "big.txt": "x".repeat(5000) });
    const cwd = origin.work;
    expect(await git(["show", `${sha}:big.txt`], { cwd })).toHaveLength(5000);
    await expect(git(["show", `${sha}:big.txt`], { cwd, maxOutputBytes: 4096 })).rejects.toThrow(/printed more than 4096 bytes/);
  });
});
