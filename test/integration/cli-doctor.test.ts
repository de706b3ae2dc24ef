import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startRedis, type RedisServer } from "../helpers/redis.js";
import { REDIS, skipWithout } from "../helpers/services.js";
import { makeTempDir } from "../helpers/tmp.js";
import { captureIO, CLI, CODEX_BIN, makeTemplate, TSX } from "../unit/cli/fixture.js";

/**
 * `codex-pr-bot doctor` on a good and a broken set-up (real codex, real sandbox, real SQLite and
 * Redis when redis-server is installed), and the `worker` command's arguments and lifecycle.
 */

const base = makeTempDir("cli-doctor");
const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
let redis: RedisServer | null = null;
let redisUrl: string | null = null;

const withoutRedis = skipWithout(REDIS, "doctor's Redis check against a live server and the worker start test (test/integration/cli-doctor.test.ts)");

beforeAll(async () => {
  if (withoutRedis) return;
  redis = await startRedis();
  redisUrl = redis.url;
});

afterAll(async () => {
  await redis?.stop();
});

function goodEnv(): NodeJS.ProcessEnv {
  const home = path.join(base, "good-home");
  mkdirSync(home, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: home,
    DATA_DIR: path.join(base, "good-data"),
    CODEX_BIN,
    CODEX_HOME_TEMPLATE: makeTemplate(base, "http://127.0.0.1:9/v1"),
    APP_ID: "12345",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: "a-webhook-secret",
    ...(redisUrl ? { QUEUE_URL: redisUrl } : {}),
  };
}

describe("codex-pr-bot doctor", () => {
  it("passes on a good set-up and says so", async () => {
    const io = captureIO(base, goodEnv());
    const code = await main(["doctor", "--json"], io);
    const report = JSON.parse(io.out()) as { ok: boolean; checks: { name: string; status: string; detail: string }[] };
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(report.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(code).toBe(0);
    expect(byName.codex!.status).toBe("ok");
    expect(byName.codex!.detail).toMatch(/codex \d+\.\d+\.\d+/);
    expect(byName.credentials!.detail).toContain("custom model provider");
    expect(byName.sandbox!.status).toBe("ok");
    expect(byName.jail!.status).toBe("ok");
    expect(byName.jail!.detail).toMatch(/^bubblewrap \(.+bwrap\), at most 1024 processes and 8192 MiB per process; a jail starts in \d+ ms$/);
    expect(byName["github app"]!.status).toBe("ok");
    expect(byName.database!.status).toBe("ok");
    expect(byName.redis!.status).toBe(redisUrl ? "ok" : "skip");
  });

  it("reports the jail: opted out is a warning, an unusable one fails with the fix, a bad setting names its variable", async () => {
    const check = async (extra: NodeJS.ProcessEnv) => {
      const io = captureIO(base, { ...goodEnv(), ...extra });
      const code = await main(["doctor", "--json", "--local"], io);
      const report = JSON.parse(io.out()) as { checks: { name: string; status: string; detail: string; fix?: string }[] };
      return { code, jail: report.checks.find((c) => c.name === "jail")!, sandbox: report.checks.find((c) => c.name === "sandbox")! };
    };
    const none = await check({ AGENT_ISOLATION: "none" });
    expect(none.jail.status).toBe("warn");
    expect(none.jail.detail).toContain("private key");
    expect(none.code).toBe(0);

    const missing = await check({ AGENT_JAIL_BWRAP: path.join(base, "no-such-bwrap") });
    expect(missing.code).toBe(1);
    expect(missing.jail.status).toBe("fail");
    expect(missing.jail.detail).toBe(`agents cannot be jailed: the bubblewrap binary ${path.join(base, "no-such-bwrap")} does not exist.`);
    expect(missing.jail.fix).toMatch(/AGENT_JAIL_BWRAP.*AGENT_ISOLATION=none/s);
    expect(missing.sandbox.status).toBe("skip");

    const bad = await check({ AGENT_MAX_PROCESSES: "lots" });
    expect(bad.jail.status).toBe("fail");
    expect(bad.jail.detail).toBe('AGENT_MAX_PROCESSES must be a whole number of at least 16, not "lots"');
  });

  it("fails on a broken set-up and says what to fix for each problem", async () => {
    const home = path.join(base, "empty-home");
    mkdirSync(home, { recursive: true });
    const io = captureIO(base, {
      PATH: process.env.PATH,
      HOME: home,
      DATA_DIR: path.join(base, "broken-data"),
      CODEX_BIN: path.join(base, "no-such-codex"),
      PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
      WEBHOOK_SECRET: "x",
      APP_ID: "12345",
      DATABASE_PATH: "/dev/null/runs.sqlite",
      QUEUE_URL: "redis://127.0.0.1:1",
    });
    const code = await main(["doctor"], io);
    const out = io.out();
    expect(code).toBe(1);
    expect(out).toMatch(/\[FAIL\] codex: cannot start .*no-such-codex/);
    expect(out).toContain("fix: Run `npm ci`");
    expect(out).toMatch(/\[FAIL\] credentials: no model credentials/);
    expect(out).toContain("fix: Set CODEX_API_KEY");
    expect(out).toMatch(/\[skip\] sandbox/);
    expect(out).toMatch(/\[FAIL\] github app: the private key does not parse/);
    expect(out).toMatch(/\[FAIL\] database: cannot open the SQLite database \/dev\/null\/runs\.sqlite/);
    expect(out).toMatch(/\[FAIL\] redis: cannot reach QUEUE_URL/);
    expect(out).toMatch(/\d check\(s\) failed\./);
  });

  it("--local skips the app checks; missing app variables are named", async () => {
    const env = { ...goodEnv(), APP_ID: "", PRIVATE_KEY: "" };
    const local = captureIO(base, env);
    expect(await main(["doctor", "--local"], local)).toBe(0);
    expect(local.out()).not.toContain("github app");
    const full = captureIO(base, env);
    expect(await main(["doctor"], full)).toBe(1);
    expect(full.out()).toContain("[FAIL] github app: missing APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH)");
  });

  it("checks Claude Code: the pinned binary runs, and a missing credential is a note saying what to set, not a failure", async () => {
    const io = captureIO(base, goodEnv());
    expect(await main(["doctor", "--local"], io)).toBe(0);
    const out = io.out();
    expect(out).toMatch(/^\[ok  \] claude: claude 2\.1\.197 \(.*claude\.exe\)$/m);
    expect(out).toContain(
      "[note] claude credentials: Claude is not set up (optional: only --executor claude|both, @claude and executors: [codex, claude] need it)\n" +
        "       fix: To use it, set ANTHROPIC_API_KEY, or CLAUDE_CODE_OAUTH_TOKEN (from `claude setup-token`), or ANTHROPIC_BASE_URL for a gateway.",
    );
    expect(out).toContain("Everything needed is in place.");
  });

  it("reports each Claude credential it finds without printing it", async () => {
    const check = async (extra: NodeJS.ProcessEnv) => {
      const io = captureIO(base, { ...goodEnv(), ...extra });
      const code = await main(["doctor", "--local", "--json"], io);
      const report = JSON.parse(io.out()) as { checks: { name: string; status: string; detail: string }[] };
      return { code, claude: report.checks.find((c) => c.name === "claude credentials")!, raw: io.out() };
    };
    const key = await check({ ANTHROPIC_API_KEY: "sk-ant-doctor-secret-0123456789" });
    expect(key.code).toBe(0);
    expect(key.claude).toMatchObject({ status: "ok", detail: "ANTHROPIC_API_KEY is set" });
    expect(key.raw).not.toContain("sk-ant-doctor-secret");
    const oauth = await check({ CLAUDE_CODE_OAUTH_TOKEN: "oauth-doctor-secret-0123456789" });
    expect(oauth.claude).toMatchObject({ status: "ok", detail: "CLAUDE_CODE_OAUTH_TOKEN is set" });
    expect(oauth.raw).not.toContain("oauth-doctor-secret");
    const gateway = await check({ ANTHROPIC_BASE_URL: "https://user:gw-secret@gateway.example.com/v1?key=gw-secret" });
    expect(gateway.claude).toMatchObject({ status: "ok", detail: "ANTHROPIC_BASE_URL points at https://gateway.example.com" });
    expect(gateway.raw).not.toContain("gw-secret");
    const notUrl = await check({ ANTHROPIC_BASE_URL: "gateway please" });
    expect(notUrl.code).toBe(1);
    expect(notUrl.claude).toMatchObject({ status: "fail", detail: "ANTHROPIC_BASE_URL is not a URL" });
  });

  it("a claude binary that does not start fails only when Claude is set up", async () => {
    const broken = { CLAUDE_BIN: path.join(base, "no-such-claude") };
    const unused = captureIO(base, { ...goodEnv(), ...broken });
    expect(await main(["doctor", "--local"], unused)).toBe(0);
    expect(unused.out()).toMatch(/^\[warn\] claude: cannot start .*no-such-claude/m);
    const needed = captureIO(base, { ...goodEnv(), ...broken, ANTHROPIC_API_KEY: "sk-ant-doctor-0123456789" });
    expect(await main(["doctor", "--local"], needed)).toBe(1);
    expect(needed.out()).toMatch(/^\[FAIL\] claude: cannot start .*no-such-claude/m);
    expect(needed.out()).toContain("fix: Run `npm ci` in the codex-pr-bot directory, or set CLAUDE_BIN to the claude binary.");
  });

  it("rejects unknown arguments", async () => {
    const io = captureIO(base, goodEnv());
    expect(await main(["doctor", "--frobnicate"], io)).toBe(1);
    expect(io.err()).toContain('Run "codex-pr-bot doctor --help"');
  });
});

describe("codex-pr-bot worker", () => {
  it("explains what is missing instead of starting", async () => {
    const noQueue = captureIO(base, { ...goodEnv(), QUEUE_URL: "" });
    expect(await main(["worker"], noQueue)).toBe(1);
    expect(noQueue.err()).toContain("QUEUE_URL is not set");
    const noKey = captureIO(base, { ...goodEnv(), QUEUE_URL: "redis://127.0.0.1:1", PRIVATE_KEY: "" });
    expect(await main(["worker"], noKey)).toBe(1);
    expect(noKey.err()).toContain("PRIVATE_KEY (or PRIVATE_KEY_PATH) is not set");
    const badConcurrency = captureIO(base, { ...goodEnv(), QUEUE_URL: "redis://127.0.0.1:1" });
    expect(await main(["worker", "--concurrency", "0"], badConcurrency)).toBe(1);
    expect(badConcurrency.err()).toContain("--concurrency must be a positive integer");
    const badUrl = captureIO(base, { ...goodEnv(), QUEUE_URL: "http://example" });
    expect(await main(["worker"], badUrl)).toBe(1);
    expect(badUrl.err()).toContain("QUEUE_URL must start with redis://");
  });

  it.skipIf(withoutRedis)("starts on the shared queue and stops cleanly on SIGTERM", async () => {
    const child = spawn(TSX, [CLI, "worker", "--concurrency", "1"], {
      cwd: base,
      env: { ...goodEnv(), QUEUE_URL: redisUrl!, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!output.includes("codex-pr-bot worker ready") && Date.now() < deadline) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output).toContain("codex-pr-bot worker ready");
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 20_000))]);
    expect(output).toContain("worker stopped");
    expect(code).toBe(0);
  });
});
