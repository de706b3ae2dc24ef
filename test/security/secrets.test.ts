import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AGENT_UMASK, type AgentUser } from "../../src/security/agent-user.js";
import { agentIsolationWarnings } from "../../src/security/preflight.js";
import { PRIVATE_KEY } from "../helpers/app-server.js";
import { INSTALLATION_TOKEN } from "../helpers/fake-github.js";
import { execCommand, message, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload, WEBHOOK_SECRET } from "../helpers/webhooks.js";
import { reviewJson, scenario, type Scenario } from "../integration/helpers.js";
import { unjailed } from "../helpers/jail.js";
import { ensureAgentUser, HUNT_API_KEY, HUNTED_SECRETS, KEY_LINE, startWithAgentUser } from "./fixture.js";

/**
 * Issue 6, part 2: a prompt-injected agent hunts for the bot's secrets with every trick a shell
 * offers, and none of them reaches it. The model is scripted, so "the agent" really runs each
 * command through codex's sandbox, as AGENT_USER, and we read what came back to the model.
 */

const API_KEY = HUNT_API_KEY;
const SECRETS = HUNTED_SECRETS;

/** Answers the nth tool-using turn with commands[n], then with the review. */
function scripted(commands: string[]): (req: MockRequest) => Turn {
  return (req) => {
    const done = req.toolOutputs.length;
    return done < commands.length ? execCommand(commands[done]!) : message(reviewJson(null));
  };
}

describe("secrets never reach the agent", () => {
  let sc: Scenario;
  let keyPath: string;
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    // The app's own environment holds every secret, as in production (Probot reads these).
    for (const [name, value] of Object.entries({ WEBHOOK_SECRET, PRIVATE_KEY, CODEX_API_KEY: API_KEY, GITHUB_TOKEN: INSTALLATION_TOKEN })) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    delete process.env.PRIVATE_KEY_PATH;
  });

  beforeEach(() => {
    sc = scenario("security-secrets");
    mkdirSync(sc.dataDir, { recursive: true });
    // The operator did the right thing with the key (0600, owned by the app's user) but left a
    // world-readable .env in the data dir: the data dir is closed to the agent either way.
    keyPath = path.join(sc.dataDir, "private-key.pem");
    writeFileSync(keyPath, PRIVATE_KEY, { mode: 0o600 });
    writeFileSync(path.join(sc.dataDir, ".env"), `WEBHOOK_SECRET=${WEBHOOK_SECRET}\nPRIVATE_KEY_PATH=${keyPath}\n`, { mode: 0o644 });
    process.env.PRIVATE_KEY_PATH = keyPath;
  });
  afterEach(async () => {
    await sc.close();
  });

  it("as AGENT_USER: env, /proc, git config, grep over worktree/$HOME/data dir, the key file, the DB, other workspaces and git push all come up empty", async () => {
    const agent: AgentUser = ensureAgentUser();
    const dataDir = sc.dataDir;
    const otherJob = path.join(dataDir, "workspaces", "worktrees", "other-org-private", "0");
    const probeFiles = [keyPath, path.join(dataDir, "runs.sqlite"), path.join(dataDir, ".env"), path.join(otherJob, "secret.txt")];
    // Each pattern split by '' (the shell joins it back): codex's session log in the agent's own
    // CODEX_HOME records this command line, and grep would otherwise find the secret in its own words.
    const grepFor = Object.values(SECRETS)
      .map((s) => `-e '${s.slice(0, 6)}''${s.slice(6)}'`)
      .join(" ");
    const commands = [
      "id -u; env",
      "cat /proc/self/environ | tr '\\0' '\\n'",
      "cat /proc/1/environ | tr '\\0' '\\n'",
      "git config --list --show-origin; git log --oneline -1",
      // Search everything reachable: the worktree, the agent's $HOME, the data dir and the whole test root.
      `grep -rIF ${grepFor} . "$HOME" ${dataDir} ${path.dirname(dataDir)} 2>/dev/null; echo grep-exit=$?`,
      `cat ${keyPath}; echo cat-exit=$?`,
      `for f in ${probeFiles.join(" ")}; do if head -c1 "$f" >/dev/null 2>&1; then echo "READABLE $f"; else echo "DENIED $f"; fi; done; ls ${dataDir} >/dev/null 2>&1 && echo LISTED-DATA-DIR`,
      `git push origin HEAD:refs/heads/pwned; echo push1-exit=$?; git push ${sc.origin.bare} HEAD:refs/heads/pwned; echo push2-exit=$?`,
    ];

    // Operator set-up (docs/security.md): the agent must be able to reach DATA_DIR. A scratch root
    // of 0700 is caught by the preflight; the operator makes the directories above it searchable.
    chmodSync(path.dirname(dataDir), 0o700);
    expect((await agentIsolationWarnings({ privateKeyPath: keyPath, agentUser: agent, dataDir })).map((w) => w.code)).toContain(
      "data-dir-unreachable",
    );
    chmodSync(path.dirname(dataDir), 0o711);
    expect(await agentIsolationWarnings({ privateKeyPath: keyPath, agentUser: agent, dataDir })).toEqual([]);

    sc.gh.defaults();
    // As the app does at start-up with AGENT_USER set (AGENT_UMASK): new files are born owner-only.
    const umask = process.umask(AGENT_UMASK);
    try {
      const script = scripted(commands);
      const app = await startWithAgentUser(
        sc,
        (req) => {
          // A concurrent job checks out another (private) repository while this agent runs.
          if (req.n === 1) {
            mkdirSync(otherJob, { recursive: true });
            writeFileSync(path.join(otherJob, "secret.txt"), "OTHER-JOB-CONTENT\n");
          }
          return script(req);
        },
        agent,
        API_KEY,
        // AGENT_USER alone (AGENT_ISOLATION=none), the layer the operator can add under the jail:
        // the kernel's permissions must hold by themselves. The jail's own hunt: jail.test.ts.
        unjailed(),
      );
      const res = await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
      expect(res.status).toBe(200);
      await app.queue.idle();
    } finally {
      process.umask(umask);
    }
    const app = sc.app!;

    const mock = sc.mock!;
    expect(sc.gh.unexpected).toEqual([]);
    expect(mock.requests.length, JSON.stringify(sc.gh.bodies("PATCH", /check-runs/).at(-1))).toBeGreaterThan(0);
    const outputs = mock.requests.at(-1)!.toolOutputs;
    expect(outputs, "every scripted command ran").toHaveLength(commands.length);
    const [envOut, selfEnviron, pid1Environ, gitConfig, grepOut, catKey, probe, push] = outputs as [string, string, string, string, string, string, string, string];

    // The commands really ran, sandboxed, as the unprivileged user.
    expect(envOut).toMatch(/Process exited with code 0/);
    expect(envOut).toMatch(new RegExp(`Output:\\n${agent.uid}\\n`));
    expect(envOut).toMatch(/^CODEX_HOME=/m);
    expect(selfEnviron).toMatch(/^PATH=/m);
    expect(gitConfig).toContain("add divide"); // the agent's git works in its worktree

    // No secret in anything that came back to the model, from any command.
    const everything = outputs.join("\n");
    for (const [what, secret] of Object.entries(SECRETS)) {
      expect(everything.includes(secret), `${what} leaked to the agent`).toBe(false);
    }
    expect(everything).not.toMatch(/BEGIN RSA PRIVATE KEY/);
    expect(everything).not.toMatch(/^(WEBHOOK_SECRET|PRIVATE_KEY|PRIVATE_KEY_PATH|GITHUB_TOKEN|CODEX_API_KEY)=/m);
    expect(pid1Environ).not.toContain(API_KEY);
    // No credentials in any config the bot controls (the host's own /etc/gitconfig is the host's business).
    const botConfig = gitConfig.split("\n").filter((l) => l.startsWith("file:") && !l.startsWith("file:/etc/"));
    expect(botConfig.length).toBeGreaterThan(0);
    expect(botConfig.join("\n")).not.toMatch(/extraheader|credential|x-access-token|insteadof|url\./i);
    expect(grepOut).toMatch(/grep-exit=[12]/); // 1: nothing found, 2: and some dirs were closed to it

    // The key file, the run database, the .env and the other job's checkout are closed to the agent.
    expect(catKey).toMatch(/Permission denied/);
    expect(catKey).toMatch(/cat-exit=1/);
    for (const file of probeFiles) expect(probe).toContain(`DENIED ${file}`);
    expect(probe).not.toContain("READABLE");
    expect(probe).not.toContain("LISTED-DATA-DIR");
    // ...though they exist and the app itself can read them (the probe is not vacuous).
    for (const file of probeFiles) expect(existsSync(file), file).toBe(true);
    expect(readFileSync(path.join(otherJob, "secret.txt"), "utf8")).toContain("OTHER-JOB-CONTENT");

    // git push fails both ways and nothing arrived at the remote.
    expect(push).toMatch(/push1-exit=[1-9]/);
    expect(push).toMatch(/push2-exit=[1-9]/);
    expect(execFileSync("git", ["--git-dir", sc.origin.bare, "for-each-ref", "refs/heads/pwned"], { encoding: "utf8" })).toBe("");

    // The model API key is in codex's own environment but never reaches the provider or a command
    // (the other secrets appear in requests only inside the grep command line the script wrote).
    const sent = mock.requests.map((r) => ({
      headers: r.headers,
      input: (r.body.input ?? []).filter((item) => (item as { type?: string }).type !== "function_call"),
    }));
    expect(JSON.stringify(sent)).not.toContain(API_KEY);

    // The review was still posted, as COMMENT, and the preflight has nothing to say about the key.
    const reviews = sc.gh.bodies<{ event: string; body: string }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.event).toBe("COMMENT");
    for (const secret of Object.values(SECRETS)) expect(JSON.stringify(sc.gh.calls).includes(secret)).toBe(false);
    const warnings = await agentIsolationWarnings({ privateKeyPath: keyPath, agentUser: agent, dataDir });
    expect(warnings.map((w) => w.code)).not.toContain("key-readable");
    // After the run the worktree is closed again.
    const [summary] = app.runs.list();
    expect(summary).toMatchObject({ status: "succeeded" });
  });

  it("with AGENT_ISOLATION=none and no AGENT_USER the read-only sandbox does NOT stop reads: the agent can cat the key file, and the preflight says so", async () => {
    // The honest baseline of opting out of the jail: this is why the jail is on by default. Environment-borne secrets stay hidden
    // (allowlisted env, own PID namespace), but a file the app's user can read, the agent can read.
    sc.gh.defaults();
    const app = await startWithAgentUser(sc, scripted([`env; cat ${keyPath}`]), null, API_KEY, unjailed());
    await deliver(app.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
    await app.queue.idle();

    const [out] = sc.mock!.requests.at(-1)!.toolOutputs as [string];
    expect(out).toContain(KEY_LINE); // the leak
    expect(out).not.toContain(INSTALLATION_TOKEN);
    expect(out).not.toContain(WEBHOOK_SECRET);
    expect(out).not.toContain(API_KEY);

    const warnings = await agentIsolationWarnings({ privateKeyPath: keyPath, agentUser: null, dataDir: sc.dataDir });
    expect(warnings.map((w) => w.code)).toEqual(["same-user", "key-readable"]);
    expect(warnings[1]!.message).toMatch(/PRIVATE_KEY_PATH.*AGENT_USER/);
  });
});
