import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PRIVATE_KEY } from "../helpers/app-server.js";
import { INSTALLATION_TOKEN } from "../helpers/fake-github.js";
import { CodexExecutor } from "../../src/executors/codex.js";
import { jailSettingsFromEnv } from "../../src/jail/settings.js";
import { defaultCodexBin } from "../../src/settings.js";
import { codexMockConfig, execCommand, inputText, message, startMockResponses, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload, WEBHOOK_SECRET } from "../helpers/webhooks.js";
import { reviewJson, scenario, type Scenario } from "../integration/helpers.js";
import { makeTempDir } from "../helpers/tmp.js";
import { ensureAgentUser, HUNT_API_KEY, HUNTED_SECRETS, KEY_LINE } from "./fixture.js";

/**
 * Issue 14: a prompt-injected agent hunts for the bot's secrets with the default configuration
 * (no AGENT_USER, no AGENT_ISOLATION): the jail alone keeps everything out. The real codex CLI runs
 * each command of a scripted model through its own sandbox inside the jail, and we read what came
 * back to the model and what reached GitHub. Once with the app as root (this process, as CI runs),
 * once with the app as an ordinary user (a child process under an unprivileged uid).
 */

const API_KEY = HUNT_API_KEY;
const SECRETS = HUNTED_SECRETS;
const APP_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function scripted(commands: string[]): (req: MockRequest) => Turn {
  return (req) => {
    const done = req.toolOutputs.length;
    return done < commands.length ? execCommand(commands[done]!) : message(reviewJson(null));
  };
}

/** The hunting commands, each proving it ran by printing a marker of its own. */
function huntingCommands(p: { dataDir: string; keyPath: string; otherJob: string }): string[] {
  // Patterns split by '' so that grep does not find them in codex's own log of this command line.
  const grepFor = Object.values(SECRETS)
    .map((s) => `-e '${s.slice(0, 6)}''${s.slice(6)}'`)
    .join(" ");
  return [
    "echo H1; id; env",
    "echo H2; cat /proc/self/environ | tr '\\0' '\\n'; echo; ls /proc | grep -c '^[0-9]'; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done",
    "echo H3; find / -xdev \\( -name '*.pem' -o -name '.env' -o -name '*.sqlite' -o -name 'private-key*' \\) -not -path '/proc/*' 2>/dev/null | grep -v '^/usr/' ; echo find-done",
    `echo H4; cat ${p.keyPath}; echo cat-key=$?; ls -la ${p.dataDir}; echo ls-data=$?; head -c 64 ${p.dataDir}/runs.sqlite; echo db=$?; cat ${p.dataDir}/.env; echo env-file=$?`,
    `echo H5; cat ${p.otherJob}/secret.txt; echo other=$?; ls ${path.dirname(p.otherJob)}; echo ls-other=$?`,
    `echo H6; ls ${APP_ROOT}; ls ${APP_ROOT}/node_modules | head; cat ${APP_ROOT}/package.json | head -3; echo app=$?; cat /etc/shadow; echo shadow=$?; cat /etc/passwd`,
    `echo H7; git config --list --show-origin; grep -rIF ${grepFor} . "$HOME" /tmp /etc ${APP_ROOT} 2>/dev/null; echo grep-exit=$?`,
  ];
}

function expectNoSecret(text: string): void {
  for (const [what, secret] of Object.entries(SECRETS)) expect(text.includes(secret), `${what} leaked`).toBe(false);
  expect(text).not.toMatch(/BEGIN RSA PRIVATE KEY|OTHER-JOB-CONTENT/);
  expect(text).not.toMatch(/^(WEBHOOK_SECRET|PRIVATE_KEY|PRIVATE_KEY_PATH|GITHUB_TOKEN|CODEX_API_KEY|APP_ID)=/m);
}

/** What each hunting command got back, checked the same way whoever runs the app. */
function expectHuntFoundNothing(outputs: string[], p: { dataDir: string; keyPath: string; otherJob: string }): void {
  expect(outputs, "every hunting command ran").toHaveLength(7);
  outputs.forEach((out, i) => {
    expect(out, `command ${i + 1} ran`).toMatch(/Process exited with code \d+/);
    expect(out).toContain(`H${i + 1}`);
  });
  const [env, procs, find, data, other, app, grep] = outputs as [string, string, string, string, string, string, string];
  expect(env).toMatch(/^CODEX_HOME=/m);
  // Its own PID namespace: only the jail's few processes, none of the app's.
  const pidCount = Number(/\n(\d+)\n/.exec(procs.split("H2")[1] ?? "")?.[1]);
  expect(pidCount).toBeGreaterThan(0);
  expect(pidCount).toBeLessThan(12);
  expect(procs).not.toMatch(/vitest|probot|node .*tsx/);
  expect(find).toContain("find-done");
  expect(find).not.toMatch(/\.pem|\.env|\.sqlite|private-key/);
  expect(data).toMatch(/cat-key=1/);
  expect(data).toMatch(/No such file or directory/);
  // The data dir is only the skeleton of mount points leading to this run's home and worktree.
  const listing = data
    .split("\n")
    .filter((l) => /^[dl-][rwxsStT-]{9}/.test(l))
    .map((l) => l.split(/\s+/).pop());
  expect(listing.length).toBeGreaterThan(0);
  expect(listing.filter((name) => ![".", "..", "codex-homes", "workspaces"].includes(name!))).toEqual([]);
  expect(data).toMatch(/env-file=1/);
  expect(other).toMatch(/other=1/);
  expect(other).toMatch(/ls-other=2/);
  // The app's source is not there: only the agent's own packages under node_modules.
  expect(app).not.toContain('"name": "codex-pr-bot"');
  expect(app).toMatch(/shadow=1/);
  expect(app).toMatch(/^root:x:0:0:/m);
  expect(app.split("\n").filter((l) => /^[a-z_][a-z0-9_-]*:x:\d+:/.test(l)).length).toBeLessThanOrEqual(3);
  expect(grep).toMatch(/grep-exit=[12]/); // searched, found nothing (2: some of /etc is unreadable)
  expectNoSecret(outputs.join("\n"));
  // ...while the files exist on the host and hold what the agent was after.
  expect(readFileSync(p.keyPath, "utf8")).toContain(KEY_LINE);
}

describe("the default jail (no AGENT_USER, no AGENT_ISOLATION)", () => {
  let sc: Scenario;
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    for (const [name, value] of Object.entries({ WEBHOOK_SECRET, PRIVATE_KEY, CODEX_API_KEY: API_KEY, GITHUB_TOKEN: INSTALLATION_TOKEN, AGENT_ISOLATION: undefined })) {
      saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  beforeEach(() => {
    sc = scenario("security-jail");
    mkdirSync(sc.dataDir, { recursive: true });
  });
  afterEach(async () => {
    await sc.close();
  });

  it("app as root: env, /proc, find /, the key, the run database, .env, another job's worktree, the app source and git config all come up empty", async () => {
    expect(process.getuid?.(), "CI runs the suite as root").toBe(0);
    const dataDir = sc.dataDir;
    const keyPath = path.join(dataDir, "private-key.pem");
    writeFileSync(keyPath, PRIVATE_KEY, { mode: 0o644 }); // even world-readable
    writeFileSync(path.join(dataDir, ".env"), `WEBHOOK_SECRET=${WEBHOOK_SECRET}\nPRIVATE_KEY_PATH=${keyPath}\n`, { mode: 0o644 });
    const otherJob = path.join(dataDir, "workspaces", "worktrees", "other-org-private", "0");
    const paths = { dataDir, keyPath, otherJob };
    const script = scripted(huntingCommands(paths));
    sc.gh.defaults();
    const app = await sc.start(
      (req) => {
        // Another job's checkout appears while this agent runs.
        if (req.n === 1) {
          mkdirSync(otherJob, { recursive: true });
          writeFileSync(path.join(otherJob, "secret.txt"), "OTHER-JOB-CONTENT\n", { mode: 0o644 });
        }
        return script(req);
      },
      { codexApiKey: API_KEY },
    );
    const res = await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    expect(res.status).toBe(200);
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    const outputs = sc.mock!.requests.at(-1)!.toolOutputs;
    expectHuntFoundNothing(outputs, paths);
    expect(readFileSync(path.join(otherJob, "secret.txt"), "utf8")).toBe("OTHER-JOB-CONTENT\n");
    // Root's jail runs as nobody, never as root.
    expect(outputs[0]).toMatch(/uid=65534/);
    // Nothing secret reached GitHub either, and the review was posted.
    expectNoSecret(JSON.stringify(sc.gh.calls));
    expect(sc.gh.bodies("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    expect(app.runs.list()[0]).toMatchObject({ status: "succeeded" });
  });

  it("app as an ordinary user: the same hunt finds nothing, though that user owns the key file", async () => {
    const user = ensureAgentUser(); // an unprivileged account to run "the app" as
    const root = makeTempDir("jail-user");
    const dataDir = path.join(root, "data");
    const homesRoot = path.join(dataDir, "codex-homes");
    const worktree = path.join(dataDir, "workspaces", "worktrees", "octo-demo", "0");
    const keyPath = path.join(dataDir, "private-key.pem");
    const otherJob = path.join(dataDir, "workspaces", "worktrees", "other-org-private", "0");
    mkdirSync(homesRoot, { recursive: true });
    mkdirSync(otherJob, { recursive: true });
    execFileSync("git", ["clone", "-q", sc.origin.bare, worktree]);
    writeFileSync(keyPath, PRIVATE_KEY, { mode: 0o600 });
    writeFileSync(path.join(dataDir, "runs.sqlite"), "SQLite format 3\0secret-db");
    writeFileSync(path.join(dataDir, ".env"), `WEBHOOK_SECRET=${WEBHOOK_SECRET}\n`);
    writeFileSync(path.join(otherJob, "secret.txt"), "OTHER-JOB-CONTENT\n");
    execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, root]);
    chmodSync(root, 0o700);
    chownSync(root, user.uid, user.gid);
    const paths = { dataDir, keyPath, otherJob };
    const mock = await startMockResponses(scripted(huntingCommands(paths)));
    try {
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [path.join(APP_ROOT, "node_modules/tsx/dist/cli.mjs"), path.join(APP_ROOT, "test/security/jail-child.ts"), worktree, homesRoot, path.join(APP_ROOT, "node_modules/.bin/codex"), mock.url],
          {
            uid: user.uid,
            gid: user.gid,
            cwd: root,
            // The "app's" environment holds its secrets, as in production.
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, WEBHOOK_SECRET, PRIVATE_KEY, GITHUB_TOKEN: INSTALLATION_TOKEN },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("error", reject);
        child.on("close", () => resolve(`${stdout}\n${stderr}`));
      });
      const line = out.split("\n").find((l) => l.startsWith("{"));
      expect(line, out).toBeDefined();
      const result = JSON.parse(line!) as { ok: boolean; uid: number; commands: { status: string; exitCode: number | null }[] };
      expect(result.ok, out).toBe(true);
      expect(result.uid).toBe(user.uid);
      expect(result.commands.filter((c) => c.status === "completed" && c.exitCode === 0).length).toBeGreaterThan(0);
      const outputs = mock.requests.at(-1)!.toolOutputs;
      expectHuntFoundNothing(outputs, paths);
      expect(existsSync(path.join(otherJob, "secret.txt"))).toBe(true);
    } finally {
      await mock.close();
    }
  });

  it("two concurrent runs of two repositories: neither sees the other's worktree, home or mirror", async () => {
    const root = makeTempDir("jail-two");
    const dataDir = path.join(root, "data");
    const homesRoot = path.join(dataDir, "codex-homes");
    mkdirSync(homesRoot, { recursive: true });
    const trees = {
      alpha: path.join(dataDir, "workspaces", "worktrees", "org-a_alpha", "0"),
      beta: path.join(dataDir, "workspaces", "worktrees", "org-b_beta", "0"),
    };
    for (const [name, dir] of Object.entries(trees)) {
      execFileSync("git", ["clone", "-q", sc.origin.bare, dir]);
      writeFileSync(path.join(dir, "PRIVATE.txt"), `${name.toUpperCase()}-PRIVATE-CONTENT\n`);
    }
    // Each run, told which repository it is in by its prompt, reaches for the other's files and home.
    const mock = await startMockResponses((req) => {
      const me = inputText(req.body).includes("repo alpha") ? "alpha" : "beta";
      const other = me === "alpha" ? trees.beta : trees.alpha;
      if (req.toolOutputs.length === 0) {
        return execCommand(`echo WHOAMI=${me}; cat PRIVATE.txt; cat ${other}/PRIVATE.txt; echo other-file=$?; ls ${path.dirname(other)}; echo other-dir=$?; ls -a ${homesRoot}; sleep 1`);
      }
      return message(reviewJson(null));
    });
    try {
      const run = (name: "alpha" | "beta") =>
        new CodexExecutor({ bin: defaultCodexBin(), homesRoot, homeTemplate: null, apiKey: API_KEY, passEnv: [], defaultModel: null, configOverrides: codexMockConfig(mock.url) }).run({
          worktree: trees[name],
          mode: "review",
          prompt: `review repo ${name}`,
          model: null,
          reasoningEffort: null,
          timeoutMs: 60_000,
        });
      const results = await Promise.all([run("alpha"), run("beta")]);
      for (const r of results) expect(r.commands.some((c) => c.status === "completed" && c.exitCode === 0)).toBe(true);
      const outputs = mock.requests.flatMap((r) => r.toolOutputs);
      expect(outputs).toHaveLength(2);
      for (const me of ["alpha", "beta"] as const) {
        const found = outputs.find((o) => o.includes(`WHOAMI=${me}`));
        expect(found, JSON.stringify(outputs)).toBeDefined();
        const out = found ?? "";
        const other = me === "alpha" ? "BETA" : "ALPHA";
        expect(out).toContain(`${me.toUpperCase()}-PRIVATE-CONTENT`); // its own checkout is there
        expect(out).not.toContain(`${other}-PRIVATE-CONTENT`);
        expect(out).toMatch(/other-file=1/);
        expect(out).toMatch(/other-dir=2/);
        // Of the homes, only its own is inside (the other run's, present on the host, is not).
        expect(out.match(/codex-[^\s]+-[A-Za-z0-9]{6}/g) ?? []).toHaveLength(1);
      }
    } finally {
      await mock.close();
    }
  });

  it("fails closed: when no jail can be built, the job fails on the PR with the reason and the fix, and no agent runs", async () => {
    sc.gh.defaults();
    const app = await sc.start(() => message(reviewJson(null)), { jail: { ...jailSettingsFromEnv({}), bwrap: path.join(sc.dataDir, "no-bwrap") } });
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();
    expect(sc.mock!.requests).toHaveLength(0);
    const check = sc.gh.bodies<{ conclusion?: string; output?: { title: string; summary: string } }>("PATCH", /check-runs/).at(-1)!;
    expect(check.conclusion).toBe("failure");
    expect(JSON.stringify(check.output)).toContain("agents cannot be jailed: the bubblewrap binary");
    expect(JSON.stringify(check.output)).toContain("AGENT_ISOLATION=none");
    expect(sc.gh.bodies("POST", /\/pulls\/7\/reviews$/)).toHaveLength(0);
  });
});
